"""The length view and the Score action: S_l per document and per section (engine.metrics).

The quality score of the LongBench-Write LLM judge belongs to the evaluation package; it plugs
in through `QUALITY_JUDGE` (set by `connect_judge` when the studio is started with a judge)
and, until then, the studio says it is not connected.
"""

from collections.abc import Callable

from engine.export import Document
from engine.metrics import count_words, length_deviation, length_score
from engine.schema import Plan

LENGTH_HEADERS = ["#", "Section", "Target", "Written", "Deviation", "S_l"]

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


def length_summary(plan: Plan | None, texts: dict[int, str]) -> str:
    """The document's words against its target and its length score, one line."""
    if plan is None:
        return "No plan yet."
    words = sum(count_words(text) for text in texts.values())
    target = plan.total_words
    return (
        f"**{words:,}** of {target:,} words · length score S_l "
        f"**{length_score(target, words):.1f}** / 100"
    )


def connect_judge(judge) -> None:
    """Score documents with an evaluation judge (training.eval.judge.Judge)."""
    global QUALITY_JUDGE

    def judged(instruction: str, document: Document) -> str:
        verdict = judge.verdict(instruction, document.body)
        if verdict.scores is None:
            return f"Quality score ({judge.name}): the judge could not score it: {verdict.error}"
        marks = verdict.scores.model_dump(exclude={"quality_score"})
        listed = ", ".join(f"{name.replace('_', ' ')} {mark}/5" for name, mark in marks.items())
        return (
            f"Quality score S_q ({judge.name}): **{verdict.scores.quality_score:.1f}** / 100 · "
            + listed
        )

    QUALITY_JUDGE = judged


def quality_line(instruction: str, document: Document) -> str:
    """The LLM judge's verdict, or a plain statement that no judge is connected."""
    if QUALITY_JUDGE is None:
        return "Quality score (LLM judge): not connected in this studio; only length is scored."
    return QUALITY_JUDGE(instruction, document)
