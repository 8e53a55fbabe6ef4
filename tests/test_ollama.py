"""Ollama through its native API, against a local fake Ollama (harness/fake_ollama.py) that cuts
a prompt over its context from the front without a word, as Ollama does."""

import json
import socket

import pytest

from engine.errors import UserError
from engine.models.backends import open_backend
from engine.models.backends.base import ChatRequest
from engine.models.backends.ollama import ollama_host
from engine.models.load_plan import CONTEXT_STEP, OVERHEAD_BYTES
from engine.models.settings import LoadSettings
from harness.fake_ollama import DEFAULT_CONTEXT, FakeOllama, prose
from tests.conftest import one_line_error, run_cli

INSTRUCTION = "A 3000-word story about a lighthouse keeper who finds a letter in a bottle."


def _open(fake: FakeOllama, model: str, n_ctx: int | None = None):
    return open_backend(LoadSettings(base_url="ollama+" + fake.url, model_name=model, n_ctx=n_ctx))


def test_a_3000_word_piece_through_ollama(tmp_path, monkeypatch):
    stats_path = tmp_path / "stats.json"
    with FakeOllama({"story:7b": 2048}) as fake:
        monkeypatch.setenv("OLLAMA_HOST", fake.url)
        result = run_cli(
            "write",
            INSTRUCTION,
            "--ollama",
            "story:7b",
            "--db",
            str(tmp_path / "projects.db"),
            "--stats-json",
            str(stats_path),
        )
    assert result.returncode == 0, result.stderr
    assert "Ollama model story:7b; context 2,048 tokens (num_ctx)" in result.stderr
    stats = json.loads(stats_path.read_text())
    requests = fake.requests
    assert stats["words"] >= 2700 and stats["length_score"] >= 90
    assert stats["model"] == "story:7b" and stats["device"] == "server"
    # the server's own counts, summed over the plan and every section request
    assert stats["prompt_tokens_evaluated"] == sum(r["prompt_eval_count"] for r in requests)
    assert stats["output_tokens"] == sum(r["eval_count"] for r in requests)
    # consecutive sections share their prefix, so Ollama's cache saves most of the prompt
    assert stats["prompt_tokens_evaluated"] < 0.8 * sum(r["prompt_tokens"] for r in requests)
    assert requests[0]["format"]["required"] == ["sections"]  # the plan's schema
    assert all(r["options"]["num_ctx"] == 2048 and r["keep_alive"] for r in requests)
    # 3,000 words do not fit 2,048 tokens: the engine trimmed, Ollama never had to cut
    assert stats["context_trims"] >= 1
    assert not any(r["cut"] for r in requests)
    last = requests[-1]
    assert last["messages"][1]["content"].startswith("Task:\n" + INSTRUCTION)
    assert last["seen"].startswith("<system> You are")
    assert INSTRUCTION in " ".join(last["seen"].split()[:120])


def test_num_ctx_keeps_a_long_prompt_whole():
    long_prompt = [{"role": "user", "content": "Summarize this. " + prose(3000, seed=1)}]
    with FakeOllama({"long:8k": 8192}) as fake:
        backend = _open(fake, "long:8k")
        reply = "".join(backend.stream(ChatRequest(long_prompt, max_tokens=40)))
        # the control: the same prompt without num_ctx loses its beginning
        fake.chat({"model": "long:8k", "messages": long_prompt})
    sent, control = fake.requests
    assert reply and sent["options"]["num_ctx"] == 8192 and not sent["cut"]
    assert sent["seen"].startswith("<user> Summarize this.")
    assert control["cut"] and not control["seen"].startswith("<user> Summarize this.")
    assert control["prompt_tokens"] > DEFAULT_CONTEXT


def test_a_prompt_over_num_ctx_is_refused_before_it_is_sent():
    too_long = [{"role": "user", "content": prose(2500, seed=2)}]
    with FakeOllama({"small:2k": 2048}) as fake:
        backend = _open(fake, "small:2k")
        with pytest.raises(UserError, match="context tokens"):
            list(backend.stream(ChatRequest(too_long, max_tokens=40)))
    assert fake.requests == []


def test_free_memory_caps_num_ctx(monkeypatch):
    monkeypatch.setenv("LONGWRITE_MEMORY_LIMIT_MB", "900")
    with FakeOllama({"big:128k": 131_072}) as fake:
        backend = _open(fake, "big:128k")
        requested = _open(fake, "big:128k", n_ctx=4096)
    kv_per_token = 8 * 2 * (64 + 64) * 2  # layers x KV heads x (key + value) x f16 bytes
    fits = (900 * 1024**2 - 300_000_000 - OVERHEAD_BYTES) // kv_per_token
    assert backend.num_ctx == fits // CONTEXT_STEP * CONTEXT_STEP < 32_768
    assert backend.info.context_length == backend.num_ctx
    assert requested.num_ctx == 4096


def test_replies_teach_the_estimate_but_it_stays_high():
    with FakeOllama({"story:7b": 8192}) as fake:
        backend = _open(fake, "story:7b")
        text = prose(400, seed=3)
        before = backend.count_text_tokens(text)
        asked = [{"role": "user", "content": "Write about 300 words."}]
        list(backend.stream(ChatRequest(asked, max_tokens=400)))
        after = backend.count_text_tokens(text)
    assert after < before  # learnt from eval_count: fewer tokens per character than assumed
    assert after >= len(text.split())  # still at least the server's count


@pytest.mark.parametrize(
    "case, hint",
    [("stopped", "not answering"), ("unknown", "ollama pull"), ("pulling", "still downloading")],
)
def test_ollama_problems_are_one_line(tmp_path, monkeypatch, case, hint):
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "store"))
    if case == "pulling":
        blobs = tmp_path / "store" / "blobs"
        blobs.mkdir(parents=True)
        (blobs / ("sha256-" + "e" * 64 + "-partial")).write_bytes(b"half a model")
    args = ["plan", "a story about a lighthouse", "--words", "300", "--ollama", "qwen2.5:7b"]
    if case == "stopped":
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{probe.getsockname()[1]}")
        message = one_line_error(run_cli(*args, timeout=120))
    else:
        with FakeOllama({"story:7b": 2048}) as fake:
            monkeypatch.setenv("OLLAMA_HOST", fake.url)
            message = one_line_error(run_cli(*args, timeout=120))
    assert hint in message
    assert case == "stopped" or "qwen2.5:7b" in message


def test_ollama_and_base_url_exclude_each_other():
    result = run_cli("plan", "a story", "--words", "300", "--ollama", "x", "--base-url", "http://h")
    assert result.returncode == 2 and "either --ollama" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "value, url",
    [
        ("", "http://127.0.0.1:11434"),
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("gpu-box:8080", "http://gpu-box:8080"),
        ("https://ollama.example.org", "https://ollama.example.org:443"),
        ("http://[::1]:11500/", "http://[::1]:11500"),
    ],
)
def test_ollama_host_is_read_as_ollama_reads_it(monkeypatch, value, url):
    monkeypatch.setenv("OLLAMA_HOST", value)
    assert ollama_host() == url


def test_ollama_options_stand_for_a_server_and_a_model(monkeypatch):
    import click
    from click.testing import CliRunner

    from app.options import judge_options, model_options

    @click.command()
    @model_options
    @judge_options
    def show(load, judge):
        click.echo(f"{load.base_url} {load.model_name} {judge.base_url} {judge.model_name}")

    monkeypatch.setenv("OLLAMA_HOST", "gpu-box")
    runner = CliRunner()
    both = runner.invoke(show, ["--ollama", "qwen2.5:7b", "--judge-ollama", "llama3.1:8b"])
    assert both.output.split() == [
        "ollama+http://gpu-box:11434",
        "qwen2.5:7b",
        "ollama+http://gpu-box:11434",
        "llama3.1:8b",
    ]
    plain = runner.invoke(show, ["--base-url", "http://h/v1", "--model-name", "m"])
    assert plain.output.split() == ["http://h/v1", "m", "None", "None"]
