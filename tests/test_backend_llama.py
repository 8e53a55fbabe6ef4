"""The llama.cpp backend on the real embedded model: template, prefix reuse, EOS ban, grammar."""

import json

from engine.models.backends.base import ChatRequest
from engine.planning.plan import draft_plan, section_bounds
from engine.schema import SamplingSettings

GREEDY = SamplingSettings(temperature=0.0, seed=1)


def test_prompt_uses_the_chat_template_stored_in_the_gguf(backend):
    text = backend.render([{"role": "user", "content": "Hello"}])
    # SmolLM2's template is ChatML with a default system turn
    assert "<|im_start|>user\nHello<|im_end|>" in text
    assert text.rstrip().endswith("<|im_start|>assistant")


def test_reply_streams_and_stops_at_eos_without_special_tokens(backend):
    request = ChatRequest(
        messages=[{"role": "user", "content": "Say hello in one short sentence."}],
        max_tokens=200,
        sampling=GREEDY,
    )
    text = "".join(backend.stream(request))
    assert text.strip()
    assert "<|im_end|>" not in text and "<|im_start|>" not in text
    assert backend.last_usage.output_tokens < 200


def test_a_longer_prompt_with_the_same_start_reuses_the_cache(backend):
    first = [{"role": "user", "content": "Write one sentence about the sea. " * 20}]
    "".join(backend.stream(ChatRequest(messages=first, max_tokens=8, sampling=GREEDY)))
    reply = "The sea is wide."
    follow_up = [
        *first,
        {"role": "assistant", "content": reply},
        {"role": "user", "content": "Go on."},
    ]
    "".join(backend.stream(ChatRequest(messages=follow_up, max_tokens=8, sampling=GREEDY)))
    usage = backend.last_usage
    assert usage.prompt_tokens_sent > 150
    assert usage.prompt_tokens_evaluated < 40


def test_keep_going_bans_the_end_of_generation(backend):
    request = ChatRequest(
        messages=[{"role": "user", "content": "Say yes."}],
        max_tokens=60,
        sampling=GREEDY,
        keep_going=lambda: True,
    )
    "".join(backend.stream(request))
    assert backend.last_usage.output_tokens == 60


def test_schema_constrained_plan_is_valid_and_rescaled(backend):
    plan = draft_plan(backend, "A 1,200-word story about a lighthouse keeper.", 1200, seed=3)
    fewest, most = section_bounds(1200)
    assert fewest <= len(plan.sections) <= most
    assert plan.total_words == 1200
    assert all(s.title.strip() and s.main_point.strip() for s in plan.sections)


def test_grammar_ignores_eos_ban_and_ngram_ban_instead_of_aborting(backend):
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    request = ChatRequest(
        messages=[{"role": "user", "content": "Answer in JSON: what colour is the sky?"}],
        max_tokens=80,
        sampling=GREEDY,
        json_schema=schema,
        keep_going=lambda: True,
        no_repeat_ngram=2,
    )
    text = "".join(backend.stream(request))
    assert "answer" in json.loads(text)


def test_bytes_that_never_decode_end_the_reply_instead_of_stalling(backend, monkeypatch):
    import numpy as np

    from engine.models.backends import llama_cpp as module

    # the byte-level token for 0xE4 alone: the start of a CJK character, never valid UTF-8 alone
    lone_byte = [t for t in range(512) if backend.llm.detokenize([t]) == b"\xe4"]
    assert len(lone_byte) == 1

    class OnlyTheLoneByte:
        def __init__(self, n, skip=0):
            pass

        def __call__(self, input_ids, logits):
            forced = np.full_like(logits, -np.inf)
            forced[lone_byte[0]] = logits[lone_byte[0]]
            forced[backend.llm.token_eos()] = logits[backend.llm.token_eos()]
            return forced

    monkeypatch.setattr(module, "NoRepeatNgram", OnlyTheLoneByte)
    request = ChatRequest(
        messages=[{"role": "user", "content": "Write in Chinese."}],
        max_tokens=400,
        sampling=GREEDY,
        keep_going=lambda: True,  # even with the end banned, the silent run is ended
        no_repeat_ngram=1,
    )
    "".join(backend.stream(request))
    assert backend.last_usage.output_tokens <= module.MAX_SILENT_TOKENS + 2
