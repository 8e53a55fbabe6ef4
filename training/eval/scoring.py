"""Aggregate scores of a run: S_l, S_q and their mean, overall and by bucket, type and language;
for the ruler, the longest and median output at each required length."""

import statistics
from collections.abc import Callable, Iterable
from typing import Literal

from pydantic import BaseModel

from training.eval.benchmark import BUCKETS
from training.eval.judge import DIMENSIONS
from training.eval.records import Judgment, Prediction, RunSettings


class Summary(BaseModel):
    """Mean scores of a group of rows. Quality figures cover the rows the judge scored."""

    rows: int
    length_score: float
    judged: int = 0
    quality_score: float | None = None
    overall: float | None = None
    dimensions: dict[str, float] | None = None


class LongBenchScores(BaseModel):
    kind: Literal["longbench"] = "longbench"
    settings: RunSettings
    missing: int
    overall: Summary
    by_bucket: dict[str, Summary]
    by_type: dict[str, Summary]
    by_language: dict[str, Summary]
    judge_failed: list[int]


class RulerPoint(BaseModel):
    required: int
    rows: int
    max_words: int
    median_words: float
    length_score: float


class RulerScores(BaseModel):
    kind: Literal["ruler"] = "ruler"
    settings: RunSettings
    missing: int
    overall: Summary
    max_words: int
    points: list[RulerPoint]


def summarize(predictions: list[Prediction], judgments: dict[int, Judgment]) -> Summary:
    """Mean S_l of the rows; mean S_q and the overall score (S_l + S_q) / 2 when judged."""
    length = statistics.fmean(p.length_score for p in predictions)
    scored = [
        judgments[p.id].scores
        for p in predictions
        if p.id in judgments and judgments[p.id].scores is not None
    ]
    if not scored:
        return Summary(rows=len(predictions), length_score=round(length, 2))
    quality = statistics.fmean(s.quality_score for s in scored)
    dimensions = {
        d: round(statistics.fmean((getattr(s, d) - 1) * 25 for s in scored), 2) for d in DIMENSIONS
    }
    return Summary(
        rows=len(predictions),
        length_score=round(length, 2),
        judged=len(scored),
        quality_score=round(quality, 2),
        overall=round((length + quality) / 2, 2),
        dimensions=dimensions,
    )


def _grouped(
    predictions: list[Prediction],
    judgments: dict[int, Judgment],
    key: Callable[[Prediction], str],
    order: Iterable[str] | None = None,
) -> dict[str, Summary]:
    groups: dict[str, list[Prediction]] = {}
    for prediction in predictions:
        groups.setdefault(key(prediction), []).append(prediction)
    names = [n for n in order if n in groups] if order is not None else sorted(groups)
    return {name: summarize(groups[name], judgments) for name in names}


def longbench_scores(
    settings: RunSettings, predictions: list[Prediction], judgments: list[Judgment], missing: int
) -> LongBenchScores:
    """Scores of a LongBench-Write run over the predictions made so far."""
    verdicts = {j.id: j for j in judgments}
    return LongBenchScores(
        settings=settings,
        missing=missing,
        overall=summarize(predictions, verdicts),
        by_bucket=_grouped(predictions, verdicts, lambda p: p.bucket, [b for b, _ in BUCKETS]),
        by_type=_grouped(predictions, verdicts, lambda p: p.type),
        by_language=_grouped(predictions, verdicts, lambda p: p.language),
        judge_failed=sorted(j.id for j in judgments if j.status == "failed"),
    )


def ruler_scores(settings: RunSettings, predictions: list[Prediction], missing: int) -> RulerScores:
    """Longest and median output reached at each required length of a ruler run."""
    by_required: dict[int, list[Prediction]] = {}
    for prediction in predictions:
        by_required.setdefault(prediction.required, []).append(prediction)
    points = [
        RulerPoint(
            required=required,
            rows=len(group),
            max_words=max(p.words for p in group),
            median_words=statistics.median(p.words for p in group),
            length_score=round(statistics.fmean(p.length_score for p in group), 2),
        )
        for required, group in sorted(by_required.items())
    ]
    return RulerScores(
        settings=settings,
        missing=missing,
        overall=summarize(predictions, {}),
        max_words=max(p.words for p in predictions),
        points=points,
    )
