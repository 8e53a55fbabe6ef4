"""PNG figures of a run and of a comparison, drawn with matplotlib's Agg canvas (no display)."""

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from training.eval.benchmark import BUCKETS
from training.eval.records import Prediction
from training.eval.scoring import LongBenchScores, RulerScores


def _save(figure: Figure, path: Path) -> None:
    FigureCanvasAgg(figure)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def _diagonal(axes, low: float, high: float) -> None:
    axes.plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1, label="y = x")


def length_scatter(predictions: list[Prediction], title: str, path: Path) -> None:
    """Required versus output length of every row, log-log, with the y = x line."""
    figure = Figure(figsize=(6, 5))
    axes = figure.add_subplot()
    for language, marker in (("en", "o"), ("zh", "^")):
        rows = [p for p in predictions if p.language == language]
        if rows:
            axes.scatter(
                [p.required for p in rows],
                [max(p.words, 1) for p in rows],
                marker=marker,
                alpha=0.7,
                label=language,
            )
    values = [p.required for p in predictions] + [max(p.words, 1) for p in predictions]
    _diagonal(axes, min(values) * 0.8, max(values) * 1.25)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("required length (words)")
    axes.set_ylabel("output length (words)")
    axes.set_title(title)
    axes.legend()
    _save(figure, path)


def ruler_plot(scores: RulerScores, title: str, path: Path) -> None:
    """Longest and median output length reached at each required length, log-log."""
    figure = Figure(figsize=(6, 5))
    axes = figure.add_subplot()
    required = [p.required for p in scores.points]
    axes.plot(required, [max(p.max_words, 1) for p in scores.points], marker="o", label="longest")
    axes.plot(required, [max(p.median_words, 1) for p in scores.points], marker="s", label="median")
    values = required + [max(p.max_words, 1) for p in scores.points]
    _diagonal(axes, min(values) * 0.8, max(values) * 1.25)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("required length (words)")
    axes.set_ylabel("output length reached (words)")
    axes.set_title(title)
    axes.legend()
    _save(figure, path)


def compare_plot(runs: dict[str, LongBenchScores | RulerScores], path: Path) -> None:
    """LongBench runs: S_l by length bucket, one bar per run. Ruler runs: longest output reached."""
    figure = Figure(figsize=(7, 4.5))
    axes = figure.add_subplot()
    if next(iter(runs.values())).kind == "ruler":
        for label, scores in runs.items():
            points = scores.points
            axes.plot(
                [p.required for p in points],
                [max(p.max_words, 1) for p in points],
                marker="o",
                label=label,
            )
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("required length (words)")
        axes.set_ylabel("longest output reached (words)")
    else:
        buckets = [name for name, _ in BUCKETS]
        width = 0.8 / len(runs)
        for i, (label, scores) in enumerate(runs.items()):
            heights = [
                scores.by_bucket[b].length_score if b in scores.by_bucket else 0 for b in buckets
            ]
            axes.bar([x + i * width for x in range(len(buckets))], heights, width, label=label)
        axes.set_xticks([x + width * (len(runs) - 1) / 2 for x in range(len(buckets))], buckets)
        axes.set_xlabel("required length (words)")
        axes.set_ylabel("length score S_l")
        axes.set_ylim(0, 100)
    axes.legend(fontsize="small")
    _save(figure, path)
