"""The Llama-3.1 and GLM-4 chat templates, as their GGUFs store them, through the real backend:
one BOS, the right end-of-turn tokens stop a reply, and grammar-constrained plans still parse."""

import pytest

from engine.models.backends.base import ChatRequest
from engine.models.backends.llama_cpp import LlamaCppBackend
from engine.models.settings import LoadSettings
from engine.planning.plan import draft_plan
from engine.schema import SamplingSettings
from tests.chat_gguf import write_family_gguf

pytestmark = pytest.mark.slow  # the embedded model writes with each template

MESSAGES = [
    {"role": "system", "content": "You are a writer."},
    {"role": "user", "content": "Say hello in five words."},
]
GREEDY = SamplingSettings(temperature=0.0, seed=1)


@pytest.fixture(scope="module", params=["llama-3.1", "glm-4"])
def family_backend(request, tmp_path_factory):
    path = write_family_gguf(request.param, tmp_path_factory.mktemp("chat") / "model.gguf")
    backend = LlamaCppBackend(path, LoadSettings(n_ctx=2048))
    yield request.param, backend
    backend.close()


def _token(backend: LlamaCppBackend, text: str) -> int:
    ids = backend.llm.tokenize(text.encode(), add_bos=False, special=True)
    assert len(ids) == 1, f"{text} is not one token"
    return ids[0]


def test_prompt_starts_with_one_bos(family_backend):
    family, backend = family_backend
    prompt = backend.render(MESSAGES)
    tokens = backend.tokens(MESSAGES)
    if family == "llama-3.1":
        bos = _token(backend, "<|begin_of_text|>")
        assert prompt.startswith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>")
        assert prompt.endswith("<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
    else:
        bos = _token(backend, "[gMASK]")
        assert prompt == (
            "[gMASK]<sop><|system|>\nYou are a writer.<|user|>\nSay hello in five words."
            "<|assistant|>"
        )
    assert tokens[0] == bos
    assert tokens.count(bos) == 1


def test_end_of_turn_tokens_are_the_familys(family_backend):
    family, backend = family_backend
    enders = set(backend._end_tokens.tolist())
    if family == "llama-3.1":
        assert _token(backend, "<|eot_id|>") in enders
    else:
        # llama.cpp knows <|user|> from the GGUF's eot id; <|observation|> only the engine knows.
        assert _token(backend, "<|user|>") in enders
        assert _token(backend, "<|observation|>") in backend._extra_end_tokens


def test_reply_stops_at_end_of_turn(family_backend):
    family, backend = family_backend
    reply = "".join(backend.stream(ChatRequest(MESSAGES, max_tokens=200, sampling=GREEDY)))
    assert reply.strip()
    assert "<|" not in reply
    assert backend.last_usage.output_tokens < 200


@pytest.mark.parametrize("family_backend", ["glm-4"], indirect=True)
def test_glm_reply_runs_on_without_the_observation_stop(family_backend):
    """The model does end its turn with <|observation|>: without the stop it writes on."""
    _family, backend = family_backend
    enders = backend._extra_end_tokens
    backend._extra_end_tokens = frozenset()
    try:
        "".join(backend.stream(ChatRequest(MESSAGES, max_tokens=80, sampling=GREEDY)))
    finally:
        backend._extra_end_tokens = enders
    assert backend.last_usage.output_tokens >= 80


def test_plan_grammar_works_with_the_template(family_backend):
    _family, backend = family_backend
    plan = draft_plan(backend, "A 600-word story about a lighthouse keeper.", 600, "", 7)
    assert plan.sections
    assert abs(plan.total_words - 600) <= 10 * len(plan.sections)
