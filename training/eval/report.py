"""Markdown reports: one run (LongBench-Write or ruler), and a comparison of runs."""

from training.eval.benchmark import BUCKETS
from training.eval.records import Judgment
from training.eval.scoring import LongBenchScores, RulerScores, Summary


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _summary_rows(groups: dict[str, Summary]) -> list[list[str]]:
    return [
        [name, str(s.rows), _number(s.length_score), _number(s.quality_score), _number(s.overall)]
        for name, s in groups.items()
    ]


def _run_lines(scores: LongBenchScores | RulerScores) -> list[str]:
    settings = scores.settings
    lines = [
        f"- input: `{settings.input}`",
        f"- mode: {settings.mode}",
        f"- model: {settings.model}",
    ]
    if settings.judge:
        lines.append(f"- judge: {settings.judge}")
    if scores.missing:
        lines.append(f"- **{scores.missing} rows not generated yet** (resume the run to finish it)")
    return lines


def longbench_report(scores: LongBenchScores, failed: list[Judgment], plot_name: str) -> str:
    """The Markdown report of a LongBench-Write run."""
    header = ["group", "rows", "S_l", "S_q", "S"]
    parts = [
        "# LongBench-Write",
        "\n".join(_run_lines(scores)),
        "S_l: length score; S_q: quality score from the judge (rows it scored); "
        "S: (S_l + S_q) / 2.",
        "## Overall\n\n" + _table(header, _summary_rows({"all": scores.overall})),
        "## By required length\n\n" + _table(header, _summary_rows(scores.by_bucket)),
        "## By language\n\n" + _table(header, _summary_rows(scores.by_language)),
        "## By type\n\n" + _table(header, _summary_rows(scores.by_type)),
    ]
    if scores.overall.dimensions:
        rows = [[d.replace("_", " "), _number(v)] for d, v in scores.overall.dimensions.items()]
        parts.append("## Quality by dimension (0–100)\n\n" + _table(["dimension", "score"], rows))
    if failed:
        rows = [[str(j.id), j.error or "", str(len(j.raw_outputs))] for j in failed]
        parts.append(
            f"## Rows the judge could not score ({len(failed)})\n\n"
            + _table(["row", "problem", "replies"], rows)
            + "\n\nTheir raw replies are in judgments.jsonl."
        )
    parts.append(f"## Required versus output length\n\n![lengths]({plot_name})")
    return "\n\n".join(parts) + "\n"


def ruler_report(scores: RulerScores, plot_name: str) -> str:
    """The Markdown report of a LongWrite-Ruler run."""
    rows = [
        [
            str(p.required),
            str(p.rows),
            str(p.max_words),
            f"{p.median_words:.0f}",
            _number(p.length_score),
        ]
        for p in scores.points
    ]
    parts = [
        "# LongWrite-Ruler",
        "\n".join(_run_lines(scores)),
        f"Longest output: **{scores.max_words:,} words**; "
        f"mean S_l {scores.overall.length_score:.1f}.",
        _table(["required", "rows", "longest", "median", "S_l"], rows),
        f"![ruler]({plot_name})",
    ]
    return "\n\n".join(parts) + "\n"


def compare_table(runs: dict[str, LongBenchScores | RulerScores]) -> str:
    """One Markdown table across runs of the same kind."""
    first = next(iter(runs.values()))
    if first.kind == "ruler":
        requirements = sorted({p.required for s in runs.values() for p in s.points})
        header = ["run", "mode", "model", "rows", "S_l", "longest"]
        header += [f"longest @{r}" for r in requirements]
        rows = []
        for label, s in runs.items():
            longest = {p.required: str(p.max_words) for p in s.points}
            rows.append(
                [
                    label,
                    s.settings.mode,
                    s.settings.model,
                    str(s.overall.rows),
                    _number(s.overall.length_score),
                    str(s.max_words),
                ]
                + [longest.get(r, "–") for r in requirements]
            )
        return _table(header, rows)
    buckets = [name for name, _ in BUCKETS]
    header = ["run", "mode", "model", "rows", "S_l"] + [f"S_l {b}" for b in buckets] + ["S_q", "S"]
    rows = []
    for label, s in runs.items():
        per_bucket = [
            _number(s.by_bucket[b].length_score) if b in s.by_bucket else "–" for b in buckets
        ]
        rows.append(
            [
                label,
                s.settings.mode,
                s.settings.model,
                str(s.overall.rows),
                _number(s.overall.length_score),
            ]
            + per_bucket
            + [_number(s.overall.quality_score), _number(s.overall.overall)]
        )
    return _table(header, rows)
