"""The quality judge: real GGUF and server judges on the embedded model, retries, failures."""

import pytest

from engine.errors import UserError
from harness.fake_backend import FakeBackend
from training.eval.judge import (
    DIMENSIONS,
    Judge,
    JudgeFailed,
    QualityScores,
    judge_name,
    parse_scores,
    score_schema,
)

INSTRUCTION = "Write a 50-word description of a lighthouse at night."
RESPONSE = (
    "The lighthouse stands alone on the black rocks. Every few seconds its beam sweeps the sea, "
    "silver on the waves, and the keeper watches from the lamp room with a cup of tea. Ships far "
    "out see the light and turn away from the reef, safe until morning."
)
VALID = (
    '{"relevance": 4, "accuracy": 3, "coherence": 4, "clarity": 5, "breadth_and_depth": 2, '
    '"reading_experience": 3}'
)


def _check(scores: QualityScores) -> None:
    marks = [getattr(scores, d) for d in DIMENSIONS]
    assert all(isinstance(m, int) and 1 <= m <= 5 for m in marks)
    assert scores.quality_score == pytest.approx(sum((m - 1) * 25 for m in marks) / 6)


def test_gguf_judge_scores_a_real_answer(judge_backend):
    verdict = Judge(judge_backend, "embedded").verdict(INSTRUCTION, RESPONSE)
    assert verdict.status == "ok", verdict.error
    _check(verdict.scores)
    assert parse_scores(verdict.raw_outputs[-1]) == verdict.scores  # the grammar gave pure JSON
    assert not verdict.truncated


def test_server_judge_scores_through_response_format(openai_server):
    judge = Judge.from_options(base_url=openai_server, model_name="smol")
    _check(judge.score(INSTRUCTION, RESPONSE))


def test_malformed_reply_is_asked_again():
    backend = FakeBackend(["Sure! The scores are", "Scores: " + VALID + " Hope this helps."])
    verdict = Judge(backend, "scripted").verdict(INSTRUCTION, RESPONSE)
    assert verdict.status == "ok"
    assert verdict.scores.clarity == 5 and verdict.scores.breadth_and_depth == 2
    assert len(verdict.raw_outputs) == 2
    first, second = backend.requests
    assert first.json_schema == score_schema() and first.sampling.temperature == 0.0
    assert second.sampling.temperature > 0  # a retry samples instead of repeating itself
    assert first.max_tokens <= 120
    assert "keep_going" not in {k for k, v in vars(first).items() if v}  # grammar-safe request
    assert first.no_repeat_ngram == 0


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ("no json at all", "no JSON object"),
        ('{"relevance": 4,', "no JSON object"),
        (VALID.replace('"clarity": 5', '"clarity": 6'), "clarity"),
        (VALID.replace('"accuracy": 3, ', ""), "accuracy"),
        (VALID.replace('"relevance": 4', '"relevance": 3.5'), "relevance"),
    ],
)
def test_unscorable_answer_is_recorded_with_every_reply(reply, problem):
    backend = FakeBackend([reply] * 3)
    judge = Judge(backend, "scripted")
    verdict = judge.verdict(INSTRUCTION, RESPONSE)
    assert verdict.status == "failed" and verdict.scores is None
    assert verdict.raw_outputs == [reply] * 3
    assert problem in verdict.error
    with pytest.raises(JudgeFailed) as failure:
        Judge(FakeBackend([reply] * 3), "scripted").score(INSTRUCTION, RESPONSE)
    assert failure.value.verdict.raw_outputs == [reply] * 3


def test_long_answer_is_cut_in_the_middle_to_fit_the_window():
    backend = FakeBackend([VALID], context_length=1024)
    response = "START " + "filler words here. " * 2000 + " END"
    verdict = Judge(backend, "scripted").verdict(INSTRUCTION, response)
    assert verdict.status == "ok" and verdict.truncated
    prompt = backend.requests[0].messages[0]["content"]
    assert "START" in prompt and "END" in prompt and "[...]" in prompt
    assert backend.count_tokens(backend.requests[0].messages) <= 1024 - 120


def test_judge_options_are_checked():
    with pytest.raises(UserError, match="not both"):
        judge_name(base_url="http://x/v1", model_name="m", gguf="j.gguf")
    with pytest.raises(UserError, match="--judge-model"):
        judge_name(base_url="http://x/v1")
    with pytest.raises(UserError, match="not found"):
        Judge.from_options(gguf="/nonexistent/judge.gguf")
    assert judge_name(gguf="j.gguf") == "gguf:j.gguf"
