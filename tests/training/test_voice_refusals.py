"""Refusals, each one line with exit 2: a voice for another base, a damaged voice file, too
little text for a voice. Plus the adapter header reader they rely on."""

import pytest

from bench.synthetic_writer import manuscript
from engine.errors import UserError
from engine.models.discovery import embedded_model_path
from engine.models.voice import adapter_shape, check_voice, read_gguf
from harness.adapters import write_adapter, write_zero_voice
from tests.conftest import one_line_error, run_cli

# the embedded SmolLM2-135M: Llama architecture, 30 layers, hidden size 576
SMOL = ("llama", 30, 576)


@pytest.mark.parametrize("keys", [True, False])
def test_an_adapter_for_the_embedded_model_fits(tmp_path, keys):
    path = write_adapter(tmp_path / "voice.gguf", keys=keys)
    summary = check_voice(path, embedded_model_path())
    assert (summary.architecture, *adapter_shape(summary)) == SMOL


@pytest.mark.parametrize(
    "arch, layers, hidden",
    [("qwen2", 30, 576), ("llama", 32, 576), ("llama", 30, 4096)],
)
def test_an_adapter_for_another_base_is_refused(tmp_path, arch, layers, hidden):
    path = write_adapter(tmp_path / "voice.gguf", arch, layers, hidden)
    with pytest.raises(UserError) as caught:
        check_voice(path, embedded_model_path())
    assert caught.value.key == "error.voice_other_base"
    assert "30 layers, hidden size 576" in str(caught.value)


def test_cut_short_or_garbled_adapters_are_damaged(tmp_path):
    whole = write_adapter(tmp_path / "voice.gguf").read_bytes()
    for name, data in [("cut.gguf", whole[: len(whole) - 100]), ("head.gguf", whole[:40])]:
        (tmp_path / name).write_bytes(data)
        with pytest.raises(UserError) as caught:
            check_voice(tmp_path / name, embedded_model_path())
        assert caught.value.key == "error.voice_damaged"
    (tmp_path / "noise.gguf").write_bytes(b"GGUF" + bytes(range(256)) * 4)
    with pytest.raises(UserError):
        check_voice(tmp_path / "noise.gguf", embedded_model_path())
    assert read_gguf(embedded_model_path(), check_size=False).architecture == "llama"


def test_a_model_is_not_a_voice(tmp_path):
    with pytest.raises(UserError) as caught:
        check_voice(embedded_model_path(), embedded_model_path())
    assert caught.value.key == "error.voice_not_adapter"


def test_the_command_line_refuses_in_one_line(tmp_path):
    other = write_adapter(tmp_path / "other.gguf", "llama", 32, 4096)
    damaged = tmp_path / "damaged.gguf"
    damaged.write_bytes(write_adapter(tmp_path / "ok.gguf").read_bytes()[:-64])
    story = "a 300-word story about a lighthouse"
    for voice, words in [(other, "another base"), (damaged, "damaged")]:
        result = run_cli("plan", story, "--voice", str(voice), "--db", str(tmp_path / "p.db"))
        assert words in one_line_error(result)
    short = tmp_path / "short.md"
    short.write_text(manuscript(seed=3, pieces=1, sections=3, words=120), encoding="utf-8")
    result = run_cli("voice", "data", "--from", str(short), "-o", str(tmp_path / "data"))
    message = one_line_error(result)
    assert "it needs at least 2,000 words" in message and "words in 3 sections" in message


def test_a_voice_needs_a_local_model(tmp_path):
    voice = write_adapter(tmp_path / "voice.gguf")
    result = run_cli(
        "plan",
        "a 300-word story",
        "--voice",
        str(voice),
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--model-name",
        "x",
    )
    assert "not to a server" in one_line_error(result)


@pytest.mark.slow
def test_write_loads_a_fitting_voice_through_llama_cpp(tmp_path):
    """A zero adapter (lora_b all zeros) for the embedded model: llama.cpp accepts its names
    and shapes, and `write --voice` writes a piece with it."""
    path = write_zero_voice(tmp_path / "zero.gguf")
    result = run_cli(
        "write",
        "a 120-word story about a fox",
        "--voice",
        str(path),
        "--voice-scale",
        "0.5",
        "--seed",
        "1",
        "--db",
        str(tmp_path / "p.db"),
        "-o",
        str(tmp_path / "fox.md"),
    )
    assert result.returncode == 0, result.stderr
    assert len((tmp_path / "fox.md").read_text().split()) > 40
