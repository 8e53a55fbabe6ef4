"""The Length tab and its Score action: S_l per document and per section (engine.metrics).

The quality score of the LongBench-Write LLM judge belongs to the evaluation package; it plugs
in through `QUALITY_JUDGE` (set by `connect_judge` when the studio is started with a judge)
and, until then, the studio says it is not connected.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import gradio as gr
from gradio.components import Component

from app.studio.events import INSTANT, user_errors
from app.studio.feature import Shared
from app.studio.language import label, t
from app.studio.state import Studio
from engine.errors import UserError
from engine.export import Document
from engine.metrics import count_words, length_deviation, length_score
from engine.projects.run import project_document
from engine.schema import Plan
from engine.store.database import Project

COLUMNS = ("number", "section", "target", "written", "deviation", "score")

# The LLM judge slot: a callable taking (instruction, document) and returning a Markdown line.
QUALITY_JUDGE: Callable[[str, Document], str] | None = None


def length_rows(plan: Plan | None, texts: dict[int, str]) -> list[list]:
    """Per-section target vs actual words, signed deviation and S_l."""
    if plan is None:
        return []
    rows = []
    for i, section in enumerate(plan.sections):
        words = count_words(texts.get(i, ""))
        rows.append(
            [
                i + 1,
                section.title,
                section.words,
                words,
                f"{length_deviation(section.words, words):+.0%}",
                round(length_score(section.words, words), 1),
            ]
        )
    return rows


def length_table(rows: list[list]) -> dict:
    """The per-section rows under headers in the reader's language."""
    return {"headers": [t(f"length.col.{column}") for column in COLUMNS], "data": rows}


def length_summary(plan: Plan | None, texts: dict[int, str]) -> str:
    """The document's words against its target and its length score, one line."""
    if plan is None:
        return t("length.no_plan")
    words = sum(count_words(text) for text in texts.values())
    target = plan.total_words
    return t(
        "length.summary",
        words=f"{words:,}",
        target=f"{target:,}",
        score=f"{length_score(target, words):.1f}",
    )


def connect_judge(judge) -> None:
    """Score documents with an evaluation judge (training.eval.judge.Judge)."""
    global QUALITY_JUDGE

    def judged(instruction: str, document: Document) -> str:
        verdict = judge.verdict(instruction, document.body)
        if verdict.scores is None:
            return t("quality.failed", judge=judge.name, problem=verdict.error)
        marks = verdict.scores.model_dump(exclude={"quality_score"})
        listed = t("quality.list_separator").join(
            t("quality.mark", dimension=t(f"quality.{name}"), mark=mark)
            for name, mark in marks.items()
        )
        return t("quality.line", judge=judge.name, score=verdict.scores.quality_score, marks=listed)

    QUALITY_JUDGE = judged


def quality_line(instruction: str, document: Document) -> str:
    """The LLM judge's verdict, or a plain statement that no judge is connected."""
    if QUALITY_JUDGE is None:
        return t("length.no_judge")
    return QUALITY_JUDGE(instruction, document)


@dataclass
class LengthWidgets:
    """The Length tab: Score, the length summary and per-section table, the judge's line."""

    score: gr.Button
    length_summary: gr.Markdown
    length: gr.Dataframe
    quality: gr.Markdown

    refreshes_after_run: ClassVar[bool] = True

    def view_components(self) -> list[Component]:
        return [self.length_summary, self.length, self.quality]

    def view_of(self, studio: Studio, project: Project | None) -> dict:
        summary, rows = _length(studio, project) if project else ("", [])
        return {self.length_summary: summary, self.length: length_table(rows), self.quality: ""}

    def wire(self, studio: Studio, shared: Shared, demo: gr.Blocks) -> None:
        self.score.click(
            user_errors(functools.partial(score, studio, self)),
            [shared.open.project_id],
            self.view_components(),
            **INSTANT,
        )

    def after_run(self, studio: Studio, project_id: int | None) -> dict:
        """Refresh the length view after a generation or an edit."""
        if project_id is None:
            return {}
        summary, rows = _length(studio, studio.project(project_id))
        return {self.length_summary: summary, self.length: length_table(rows)}

    def after_run_components(self) -> list[Component]:
        return [self.length_summary, self.length]


def layout() -> LengthWidgets:
    score = gr.Button(label("length.score"), elem_id="score")
    length_summary = gr.Markdown(elem_id="length-summary")
    length = gr.Dataframe(
        headers=[t(f"length.col.{column}") for column in COLUMNS],
        interactive=False,
        elem_id="length-view",
        type="array",
    )
    quality = gr.Markdown(elem_id="quality")
    return LengthWidgets(score, length_summary, length, quality)


def _length(studio: Studio, project: Project) -> tuple[str, list[list]]:
    plan = studio.store.plan(project)
    texts = {s.idx: s.text for s in studio.store.sections(project, plan)}
    return length_summary(plan, texts), length_rows(plan, texts)


def score(studio: Studio, w: LengthWidgets, project_id) -> dict:
    project = studio.project(project_id)
    document = project_document(studio.store, project)
    if not document.body.strip():
        raise UserError(key="error.nothing_to_score")
    summary, rows = _length(studio, project)
    return {
        w.length_summary: summary,
        w.length: length_table(rows),
        w.quality: quality_line(project.instruction, document),
    }
