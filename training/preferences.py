"""Preference pairs for DPO: k replies per writing instruction, scored, best against a random other.

Each reply gets the length score S_l (engine.metrics) for its instruction's required length and,
when a judge is given, the judge's quality score S_q; the score is their mean (the paper's
combination), or S_l alone without a judge. The best reply is "chosen", a random other one
"rejected", written in TRL's conversational preference format.
"""

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from engine.metrics import count_words, length_score
from engine.models.backends.base import Backend, ChatRequest
from engine.schema import SamplingSettings
from training.records import Message, PreferencePair, WritingTask

TOKENS_PER_WORD = 1.5


class QualityJudge(Protocol):
    """What a judge offers (training.eval.judge.Judge): `verdict(instruction, response)`, whose
    `scores` is None when the judge could not score, else has `quality_score` from 0 to 100."""

    def verdict(self, instruction: str, response: str) -> Any: ...


@dataclass
class Candidate:
    text: str
    words: int
    s_l: float
    s_q: float | None
    score: float


def sample_replies(
    backend: Backend, task: WritingTask, k: int, seed: int, max_tokens: int
) -> list[str]:
    """k sampled replies to the bare instruction (the way SFT data presents it)."""
    messages = [{"role": "user", "content": task.instruction}]
    budget = min(max_tokens, math.ceil(task.words * TOKENS_PER_WORD * 1.3) + 64)
    replies = []
    for i in range(k):
        request = ChatRequest(
            messages=messages,
            max_tokens=budget,
            sampling=SamplingSettings(temperature=0.9, top_p=0.95, seed=seed + i),
        )
        replies.append("".join(backend.stream(request)).strip())
    return replies


def score_replies(
    task: WritingTask, replies: list[str], judge: QualityJudge | None
) -> list[Candidate]:
    candidates = []
    for text in replies:
        words = count_words(text)
        s_l = length_score(task.words, words)
        s_q = None
        if judge is not None:  # a reply the judge cannot score is ranked by length alone
            scores = judge.verdict(task.instruction, text).scores
            s_q = scores.quality_score if scores is not None else None
        score = s_l if s_q is None else (s_l + s_q) / 2
        candidates.append(Candidate(text, words, s_l, s_q, score))
    return candidates


def pick_pair(
    task: WritingTask, candidates: list[Candidate], rng: random.Random
) -> PreferencePair | None:
    """Best as chosen, a random other as rejected; None when no other reply scores lower."""
    best = max(range(len(candidates)), key=lambda i: candidates[i].score)
    others = [
        i
        for i, c in enumerate(candidates)
        if i != best and c.score < candidates[best].score and c.text != candidates[best].text
    ]
    if not others or not candidates[best].text:
        return None
    worse = rng.choice(others)
    return PreferencePair(
        prompt=[Message(role="user", content=task.instruction)],
        chosen=[Message(role="assistant", content=candidates[best].text)],
        rejected=[Message(role="assistant", content=candidates[worse].text)],
    )


def build_pairs(
    tasks: list[WritingTask],
    backend: Backend,
    k: int,
    judge: QualityJudge | None = None,
    seed: int = 0,
    max_tokens: int = 4096,
    progress: Callable[[], None] = lambda: None,
) -> tuple[list[PreferencePair], list[dict]]:
    """Pairs for every task that yields one, and every candidate's scores (for inspection)."""
    rng = random.Random(seed)
    pairs, scores = [], []
    for number, task in enumerate(tasks):
        replies = sample_replies(backend, task, k, seed + 1000 * number, max_tokens)
        candidates = score_replies(task, replies, judge)
        pair = pick_pair(task, candidates, rng)
        if pair is not None:
            pairs.append(pair)
        scores.append(
            {
                "instruction": task.instruction,
                "required_words": task.words,
                "paired": pair is not None,
                "candidates": [
                    {
                        "words": c.words,
                        "s_l": round(c.s_l, 2),
                        "s_q": c.s_q,
                        "score": round(c.score, 2),
                    }
                    for c in candidates
                ],
            }
        )
        progress()
    return pairs, scores
