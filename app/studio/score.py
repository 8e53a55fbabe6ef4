"""The length view and the Score action: S_l per document and per section (engine.metrics).

The quality score of the LongBench-Write LLM judge belongs to the evaluation package; it plugs
in through `QUALITY_JUDGE` and, until something sets it, the studio says it is not connected.
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


def quality_line(instruction: str, document: Document) -> str:
    """The LLM judge's verdict, or a plain statement that no judge is connected."""
    if QUALITY_JUDGE is None:
        return "Quality score (LLM judge): not connected in this studio; only length is scored."
    return QUALITY_JUDGE(instruction, document)
