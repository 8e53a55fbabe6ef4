"""Voice data: back-translated examples are the studio's own writing requests, token for token;
too little text is refused; a killed build resumes without losing anything."""

import json

import pytest

from bench.synthetic_writer import manuscript
from engine.errors import UserError
from engine.projects.run import run_project
from engine.projects.service import create_project
from engine.schema import Plan, WriteSettings
from engine.store.database import Store
from engine.writing.events import SectionFinished
from harness.fake_backend import FakeBackend
from training.voice.data import (
    HELD_OUT_FILE,
    PLANS_FILE,
    TRAIN_FILE,
    build_voice_data,
    read_examples,
    read_sources,
)


def summaries(request):
    """A scripted back-translation: each section's summary names its first words."""
    text = request.messages[-1]["content"]
    return "About " + " ".join(text.split()[-6:]).strip(".") + "."


@pytest.fixture
def small_manuscript(tmp_path):
    path = tmp_path / "writer.md"
    path.write_text(manuscript(seed=1, pieces=2, sections=4, words=130), encoding="utf-8")
    return path


def built(path, out, backend=None, needed=1_000):
    """Voice data of a manuscript, back-translated by the scripted model (a small test piece
    needs less text than a real voice)."""
    sources = read_sources([str(path)])
    return build_voice_data(backend or FakeBackend(summaries), sources, out, needed=needed)


def written_like_the_studio(tmp_path, plan_record, texts):
    """Write the piece's plan in the studio's run loop, the fake model replying with the
    writer's sections; returns the requests the studio sent."""
    store = Store(tmp_path / "studio.db")
    plan = Plan.model_validate(plan_record["plan"])
    # no loop guard: the synthetic writer's templated prose would look like a loop to it
    settings = WriteSettings(fight_repetition=False)
    project = create_project(
        store, "piece", plan_record["instruction"], plan.total_words, settings=settings, plan=plan
    )

    def reply(request):
        index = sum(m["role"] == "assistant" for m in request.messages)
        return texts[index][len(request.prefill) :]

    backend = FakeBackend(reply)
    for event in run_project(store, project, backend):
        if isinstance(event, SectionFinished):
            assert event.text == texts[event.index]
    return backend.requests


@pytest.mark.slow  # the real llama.cpp tokenizer of the embedded model
def test_train_and_write_prompts_match_token_for_token(tmp_path, small_manuscript, tokenizer):
    """Every target section of every example is preceded by exactly the tokens llama.cpp
    evaluates when the studio asks for that section."""
    from engine.models.backends.llama_cpp import LlamaCppBackend
    from engine.models.discovery import embedded_model_path
    from engine.models.settings import LoadSettings
    from training.voice.train import tokenize_example

    out = tmp_path / "data"
    data = built(small_manuscript, out)
    assert data.pieces == 2 and data.held_out_sections == 2
    plans = [json.loads(line) for line in (out / PLANS_FILE).read_text().splitlines()]
    sections = read_sources([str(small_manuscript)])[0][1]
    texts = [s.text for s in sections if s.text.strip()]
    llama = LlamaCppBackend(embedded_model_path(), LoadSettings(n_ctx=2048, n_threads=1))
    try:
        examples = read_examples(out / TRAIN_FILE) + read_examples(out / HELD_OUT_FILE)
        checked = 0
        for number, plan_record in enumerate(plans):
            piece_texts = texts[number * 4 : number * 4 + 4]
            requests = written_like_the_studio(tmp_path / str(number), plan_record, piece_texts)
            assert len(requests) == 4
            for request in requests:
                studio_tokens = llama.tokens(request.messages, request.prefill)
                reply = piece_texts[len(requests[: requests.index(request)])]
                # the example that holds this request followed by this reply as a target
                example = next(
                    e
                    for e in examples
                    if e.messages[: len(request.messages)] == request.messages
                    and e.messages[len(request.messages)]["content"] == reply
                )
                ids, labels = tokenize_example(tokenizer, example)
                start = len(studio_tokens)
                assert ids[:start] == studio_tokens
                assert labels[start] != -100  # the reply right after is learned
                checked += 1
        assert checked == 8
    finally:
        llama.close()


def test_held_out_sections_are_whole_and_never_trained(tmp_path, small_manuscript):
    out = tmp_path / "data"
    built(small_manuscript, out)
    train = read_examples(out / TRAIN_FILE)
    held = read_examples(out / HELD_OUT_FILE)
    trained = {m["content"] for e in train for m in e.messages[-e.targets * 2 + 1 :: 2]}
    held_texts = {e.messages[-1]["content"] for e in held}
    assert held_texts and not trained & held_texts
    sections = {s.text for s in read_sources([str(small_manuscript)])[0][1] if s.text.strip()}
    assert held_texts <= sections  # a held-out target is a whole section of the manuscript


def test_too_little_text_says_how_much_there_is_and_is_needed(tmp_path):
    path = tmp_path / "short.md"
    path.write_text(manuscript(seed=2, pieces=1, sections=3, words=100), encoding="utf-8")
    with pytest.raises(UserError) as caught:
        built(path, tmp_path / "data", needed=2_000)
    assert caught.value.key == "error.voice_too_little"
    assert caught.value.params["needed"] == 2_000
    assert 250 < caught.value.params["words"] < 450


class Killed(BaseException):
    """A kill arriving while the model drafts a row."""


def test_a_killed_build_resumes_and_loses_nothing(tmp_path, small_manuscript):
    whole = tmp_path / "whole"
    built(small_manuscript, whole)
    calls = []

    def dies_midway(request):
        calls.append(request)
        if len(calls) == 5:
            raise Killed
        return summaries(request)

    resumed = tmp_path / "resumed"
    with pytest.raises(Killed):
        built(small_manuscript, resumed, FakeBackend(dies_midway))
    rerun = FakeBackend(summaries)
    built(small_manuscript, resumed, rerun)
    assert len(rerun.requests) == len(FakeBackend(summaries).requests) + 10 - 4  # none redone
    for name in (TRAIN_FILE, HELD_OUT_FILE, PLANS_FILE):
        assert (resumed / name).read_text() == (whole / name).read_text()


def test_a_row_cut_short_by_a_kill_is_made_again(tmp_path):
    from training.voice.data import Cache

    path = tmp_path / "cache.jsonl"
    path.write_text('{"key": "a", "value": "kept"}\n{"key": "b", "val')
    cache = Cache(path)
    assert cache.get("a", lambda: "redone") == "kept"
    assert cache.get("b", lambda: "made again") == "made again"
    assert Cache(path).entries == {"a": "kept", "b": "made again"}


@pytest.mark.slow
def test_voice_data_killed_midway_resumes_with_the_real_model(tmp_path):
    """`longwrite voice data` back-translating with the embedded model, killed with SIGKILL
    after a few rows: the rerun keeps every row already drafted and drafts only the rest."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import REPO
    from training.voice.data import CACHE_FILE

    source = tmp_path / "writer.md"
    source.write_text(manuscript(seed=4, pieces=2, sections=6, words=180), encoding="utf-8")
    out = tmp_path / "data"
    command = [sys.executable, "-m", "app", "voice", "data", "--from", str(source), "-o", str(out)]
    command += ["--ctx", "4096", "--threads", "1"]
    first = subprocess.Popen(command, cwd=REPO, stderr=subprocess.DEVNULL)
    cache = out / CACHE_FILE
    deadline = time.monotonic() + 600
    while not (cache.is_file() and len(cache.read_text().splitlines()) >= 3):
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    drafted = [line for line in cache.read_text().splitlines() if line.endswith("}")]
    second = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stderr
    lines = cache.read_text().splitlines()
    assert lines[: len(drafted)] == drafted  # nothing drafted before the kill was redone
    keys = [json.loads(line)["key"] for line in lines if line.endswith("}")]
    assert len(keys) == len(set(keys)) == 12 + 2  # a row per section, an instruction per piece
    summary = json.loads((out / "voice-data.json").read_text())
    assert summary["sections"] == 12 and summary["held_out_sections"] == 2
    plans = [json.loads(line) for line in (out / PLANS_FILE).read_text().splitlines()]
    assert all(plan["instruction"].strip() for plan in plans)
