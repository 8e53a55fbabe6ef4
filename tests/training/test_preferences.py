"""Scoring and pairing of sampled replies (sampling itself runs in the miniature test)."""

import random
from types import SimpleNamespace

from training.preferences import pick_pair, score_replies
from training.records import WritingTask

TASK = WritingTask(instruction="Write a 10-word note.", words=10)
EXACT = "one two three four five six seven eight nine ten"
SHORT = "one two three four five"
LONG = " ".join(["word"] * 40)


class LengthBlindJudge:
    """Prefers the short reply whatever its length, to show the scores are combined."""

    def verdict(self, instruction, response):
        return SimpleNamespace(
            scores=SimpleNamespace(quality_score=100.0 if response == SHORT else 0.0)
        )


def test_without_judge_length_score_ranks():
    candidates = score_replies(TASK, [SHORT, EXACT, LONG], judge=None)
    assert [c.s_q for c in candidates] == [None, None, None]
    pair = pick_pair(TASK, candidates, random.Random(0))
    assert pair.chosen[0].content == EXACT
    assert pair.rejected[0].content in (SHORT, LONG)
    assert pair.prompt[0].content == TASK.instruction


def test_judge_score_is_averaged_with_length_score():
    candidates = score_replies(TASK, [SHORT, EXACT], judge=LengthBlindJudge())
    assert candidates[0].score == (candidates[0].s_l + 100.0) / 2
    assert pick_pair(TASK, candidates, random.Random(0)).chosen[0].content == SHORT


def test_no_pair_when_replies_tie():
    candidates = score_replies(TASK, [EXACT, EXACT], judge=None)
    assert pick_pair(TASK, candidates, random.Random(0)) is None


def test_the_evaluation_judge_scores_replies_on_the_embedded_model(backend):
    from training.eval.judge import Judge

    candidates = score_replies(TASK, [SHORT, EXACT], judge=Judge(backend, "embedded"))
    for candidate in candidates:
        assert candidate.s_q is None or 0.0 <= candidate.s_q <= 100.0
        expected = candidate.s_l if candidate.s_q is None else (candidate.s_l + candidate.s_q) / 2
        assert candidate.score == expected
    assert any(c.s_q is not None for c in candidates)
