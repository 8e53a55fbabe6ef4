"""A voice trained on the synthetic writer: held-out loss and habits before and after; JSON.

    python -m bench.voice [--fake-rows] [--steps 8] [--rank 4] [--stories 4] [--words 45]

The synthetic writer (bench.synthetic_writer) writes in the second person and the present
tense, in short sentences, with favourite words. Their manuscript is back-translated by the
embedded model (`--fake-rows` uses scripted rows instead, for speed), a voice is trained on it
from the embedded model on the CPU, exported as a GGUF adapter and checked against the merged
model. Then the base and the base with the voice write every held-out section from its studio
request, and the habits of their text are compared with the writer's.
"""

import argparse
import contextlib
import json
import resource
import sys
import time
from pathlib import Path

from bench.synthetic_writer import distance, habits, manuscript
from engine.models.backends.base import ChatRequest
from engine.schema import SamplingSettings
from training.voice.data import (
    HELD_OUT_FILE,
    build_voice_data,
    read_examples,
    read_sources,
)


def held_out_requests(data_dir: Path) -> list[tuple[list[dict], str]]:
    """(studio request, the writer's reply) for every held-out section."""
    found = []
    for example in read_examples(data_dir / HELD_OUT_FILE):
        replies = [i for i, m in enumerate(example.messages) if m["role"] == "assistant"]
        for at in replies[len(replies) - example.targets :]:
            found.append((example.messages[:at], example.messages[at]["content"]))
    return found


def written_habits(backend, requests, seed: int = 0, max_tokens: int = 100) -> dict:
    """The habits of what the backend writes for each request (seeded sampling)."""
    texts = []
    for number, (messages, _) in enumerate(requests):
        request = ChatRequest(
            messages=messages,
            max_tokens=max_tokens,
            sampling=SamplingSettings(temperature=0.7, seed=seed + number, repeat_penalty=1.1),
        )
        texts.append("".join(backend.stream(request)))
    return habits("\n\n".join(texts))


def compare_habits(adapter: Path, data_dir: Path, seed: int = 0, max_tokens: int = 100) -> dict:
    """The writer's habits on the held-out sections, and those of the base and of the voice
    writing them from the same requests, with each one's distance to the writer's."""
    from engine.models.backends.llama_cpp import LlamaCppBackend
    from engine.models.discovery import embedded_model_path
    from engine.models.settings import LoadSettings

    requests = held_out_requests(data_dir)
    writer = habits("\n\n".join(reply for _, reply in requests))
    result = {"writer": writer}
    for name, voice in (("base", None), ("voice", str(adapter))):
        backend = LlamaCppBackend(embedded_model_path(), LoadSettings(n_ctx=4096, voice_path=voice))
        try:
            measured = written_habits(backend, requests, seed, max_tokens)
        finally:
            backend.close()
        result[name] = {**measured, "distance": distance(measured, writer)}
    return result


def scripted_rows(request) -> str:
    """A back-translation without a model: the request's last words as the row's point."""
    return "About " + " ".join(request.messages[-1]["content"].split()[-8:]).strip(".") + "."


def run(root: Path, args) -> dict:
    from app.voice_cli import check_export
    from engine.models.settings import LoadSettings
    from harness.fake_backend import FakeBackend
    from training.gguf.lora_adapter import adapter_threshold, write_lora_gguf
    from training.voice.train import VoiceSettings, train_voice

    text = manuscript(args.seed, args.stories, args.scenes, args.words)
    source = root / "writer.md"
    source.write_text(text, encoding="utf-8")
    started = time.perf_counter()
    if args.fake_rows:
        backend = FakeBackend(scripted_rows)
    else:
        from engine.models.backends.llama_cpp import LlamaCppBackend
        from engine.models.discovery import embedded_model_path

        backend = LlamaCppBackend(embedded_model_path(), LoadSettings(n_ctx=8192))
    data = build_voice_data(backend, read_sources([str(source)]), root / "data", needed=500)
    backend.close()
    data_s = time.perf_counter() - started
    settings = VoiceSettings(
        steps=args.steps, rank=args.rank, learning_rate=args.learning_rate, seed=args.seed
    )
    settings.save_steps = args.steps
    started = time.perf_counter()
    report = train_voice(root / "data", root / "voice", settings)
    train_s = time.perf_counter() - started
    adapter = write_lora_gguf(root / "voice" / "adapter", "embedded", root / "voice.gguf")
    from engine.models.discovery import embedded_model_path

    base = embedded_model_path()
    threshold = adapter_threshold("embedded", base)
    check = check_export(adapter, base, root / "voice" / "final", "F16", threshold)
    return {
        "words": data.words,
        "sections": data.sections,
        "held_out_sections": data.held_out_sections,
        "steps": args.steps,
        "rank": args.rank,
        "data_s": round(data_s, 1),
        "train_s": round(train_s, 1),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "held_out_loss_before": round(report.held_out_loss_before, 4),
        "held_out_loss_after": round(report.held_out_loss_after, 4),
        "adapter_bytes": adapter.stat().st_size,
        "adapter_top1_decided": round(check.decided_agreement, 4),
        "adapter_mean_kl": round(check.mean_kl, 5),
        "habits": compare_habits(adapter, root / "data", args.seed),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    # the defaults are the test's set-up (tests/training/test_voice_training.py)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rank", type=int, default=4)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--stories", type=int, default=4)
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--words", type=int, default=45)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fake-rows", action="store_true")
    parser.add_argument("--work", type=Path, default=Path("bench-voice"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    with contextlib.redirect_stdout(sys.stderr):  # the trainer logs on stdout; JSON alone there
        result = run(args.work, args)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
