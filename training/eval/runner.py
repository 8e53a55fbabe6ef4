"""A benchmark run: generate the missing answers, judge the unjudged ones, then score and report.

Every stage skips what the run directory already records, so running it again with --resume
after a stop (Ctrl-C, a crash, a closed laptop) continues where it stopped.
"""

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from engine.errors import UserError
from engine.metrics import count_words, length_score
from engine.models.backends import open_backend
from engine.models.settings import LoadSettings
from engine.schema import Mode
from engine.store.database import Store
from training.eval.benchmark import BenchmarkRow, load_rows
from training.eval.generate import Answerer
from training.eval.judge import Judge, judge_name
from training.eval.plots import compare_plot, length_scatter, ruler_plot
from training.eval.records import (
    JUDGMENTS,
    PREDICTIONS,
    Judgment,
    Kind,
    Prediction,
    RunSettings,
    append_jsonl,
    open_run,
    read_jsonl,
    read_settings,
)
from training.eval.report import compare_table, longbench_report, ruler_report
from training.eval.scoring import LongBenchScores, RulerScores, longbench_scores, ruler_scores

STORE = "projects.db"
SCORES = "scores.json"
REPORT = "report.md"
PLOTS = {"longbench": "lengths.png", "ruler": "ruler.png"}


def model_label(model: LoadSettings) -> str:
    """How a run records its model: name@server, the GGUF's absolute path, or "embedded"."""
    if model.base_url:
        return f"{model.model_name}@{model.base_url}"
    return _resolved(model).model_path or "embedded"


def _resolved(model: LoadSettings) -> LoadSettings:
    """The settings with an absolute model path, as the run's projects save them."""
    if not model.model_path:
        return model
    return model.model_copy(
        update={"model_path": str(Path(model.model_path).expanduser().resolve())}
    )


@dataclass
class JudgeOptions:
    base_url: str | None = None
    model_name: str | None = None
    gguf: str | None = None

    @property
    def given(self) -> bool:
        return bool(self.base_url or self.model_name or self.gguf)


def run_benchmark(
    kind: Kind,
    input_path: str,
    mode: Mode,
    model: LoadSettings,
    out: Path,
    limit: int | None = None,
    resume: bool = False,
    judge: JudgeOptions | None = None,
) -> Path | None:
    """Run (or continue) a benchmark in `out`; returns the report's path (None if nothing yet)."""
    rows = load_rows(input_path, limit)
    judging = judge is not None and judge.given
    settings = RunSettings(
        kind=kind,
        input=str(Path(input_path).resolve()),
        mode=mode,
        model=model_label(model),
        judge=judge_name(judge.base_url, judge.model_name, judge.gguf) if judging else None,
    )
    open_run(out, settings, resume)
    generate_missing(rows, out, mode, model)
    if judging:
        judge_missing(rows, out, judge, model)
    return write_scores(out, rows)


def _bar(**options) -> tqdm:
    return tqdm(file=sys.stderr, dynamic_ncols=True, **options)


def generate_missing(rows: list[BenchmarkRow], out: Path, mode: Mode, model: LoadSettings) -> None:
    """Answer every row not yet in predictions.jsonl, appending each answer when it is done."""
    done = {p.id for p in read_jsonl(out / PREDICTIONS, Prediction)}
    todo = [row for row in rows if row.id not in done]
    if not todo:
        return
    backend = open_backend(model)
    store = Store(out / STORE)
    answerer = Answerer(backend, store, mode, _resolved(model))
    rows_bar = _bar(
        total=len(rows), initial=len(rows) - len(todo), unit="row", desc=mode, position=0
    )
    words_bar = _bar(total=1, unit="word", position=1, leave=False)
    try:
        for row in todo:
            words_bar.reset(total=row.length)
            words_bar.set_description(f"row {row.id} ({row.language})")
            answer = answerer.answer(row, lambda words: words_bar.update(words - words_bar.n))
            words = count_words(answer.text)
            prediction = Prediction(
                id=row.id,
                prompt=row.prompt,
                type=row.type,
                language=row.language,
                required=row.length,
                bucket=row.bucket,
                response=answer.text,
                words=words,
                length_score=round(length_score(row.length, words), 2),
                sections=answer.sections,
                output_tokens=answer.output_tokens,
                seconds=answer.seconds,
                plan_fallback=answer.plan_fallback,
            )
            append_jsonl(out / PREDICTIONS, prediction)
            rows_bar.update()
    finally:
        words_bar.close()
        rows_bar.close()
        store.close()
        backend.close()


def judge_missing(
    rows: list[BenchmarkRow], out: Path, options: JudgeOptions, load: LoadSettings | None = None
) -> None:
    """Judge every answer not yet in judgments.jsonl; failures are recorded there too. A judge
    GGUF loads with `load`'s GPU layers, KV cache and threads (the answering model's)."""
    selected = {row.id for row in rows}
    judged = {j.id for j in read_jsonl(out / JUDGMENTS, Judgment)}
    todo = [
        p
        for p in read_jsonl(out / PREDICTIONS, Prediction)
        if p.id in selected and p.id not in judged
    ]
    if not todo:
        return
    judge = Judge.from_options(options.base_url, options.model_name, options.gguf, load)
    failed = 0
    try:
        for prediction in _bar(iterable=todo, unit="row", desc="judging"):
            verdict = judge.verdict(prediction.prompt, prediction.response)
            failed += verdict.status == "failed"
            append_jsonl(out / JUDGMENTS, Judgment(id=prediction.id, **verdict.model_dump()))
    finally:
        judge.backend.close()
    if failed:
        tqdm.write(
            f"The judge could not score {failed} rows; see judgments.jsonl.", file=sys.stderr
        )


def write_scores(out: Path, rows: list[BenchmarkRow]) -> Path | None:
    """scores.json, report.md and the plot for the selected rows answered so far."""
    settings = read_settings(out)
    selected = {row.id for row in rows}
    predictions = sorted(
        (p for p in read_jsonl(out / PREDICTIONS, Prediction) if p.id in selected),
        key=lambda p: p.id,
    )
    if not predictions:
        return None
    missing = len(selected) - len(predictions)
    plot = PLOTS[settings.kind]
    title = f"{settings.mode} · {Path(settings.model).name}"
    if settings.kind == "ruler":
        scores = ruler_scores(settings, predictions, missing)
        ruler_plot(scores, title, out / plot)
        report = ruler_report(scores, plot)
    else:
        judgments = [j for j in read_jsonl(out / JUDGMENTS, Judgment) if j.id in selected]
        scores = longbench_scores(settings, predictions, judgments, missing)
        length_scatter(predictions, title, out / plot)
        report = longbench_report(scores, [j for j in judgments if j.status == "failed"], plot)
    (out / SCORES).write_text(scores.model_dump_json(indent=2) + "\n", encoding="utf-8")
    (out / REPORT).write_text(report, encoding="utf-8")
    return out / REPORT


def load_scores(run_dir: Path) -> LongBenchScores | RulerScores:
    """The scores.json of a finished run directory."""
    path = run_dir / SCORES
    if not path.is_file():
        raise UserError(key="error.no_scores", path=run_dir, scores=SCORES)
    data = json.loads(path.read_text(encoding="utf-8"))
    model = RulerScores if data.get("kind") == "ruler" else LongBenchScores
    return model.model_validate(data)


def compare_runs(run_dirs: list[Path], out: Path) -> str:
    """A Markdown table and a plot across run directories; returns the table."""
    runs: dict[str, LongBenchScores | RulerScores] = {}
    for run_dir in run_dirs:
        label = run_dir.resolve().name
        if label in runs:
            label = f"{run_dir.resolve().parent.name}/{label}"
        runs[label] = load_scores(run_dir)
    kinds = {scores.kind for scores in runs.values()}
    if len(kinds) > 1:
        raise UserError(key="error.compare_kinds")
    table = compare_table(runs)
    try:
        out.mkdir(parents=True, exist_ok=True)
        compare_plot(runs, out / "compare.png")
        (out / "compare.md").write_text(
            f"# Comparison\n\n{table}\n\n![comparison](compare.png)\n", encoding="utf-8"
        )
    except OSError as error:
        raise UserError(key="error.out_unwritable", path=out, problem=error.strerror) from None
    return table
