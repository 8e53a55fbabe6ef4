"""What `longwrite plan` and `write` take and say for novel-length pieces: the style options,
the bible's entries, the plan listing (chapters with their scenes) and the progress lines of
chapters, scenes and recaps."""

from collections.abc import Callable
from typing import get_args

import click

from engine import messages
from engine.errors import UserError
from engine.schema import MAX_STYLE_SAMPLE_CHARS, Plan, PlanSection, StylePreset
from engine.writing.bible import parse_bible

STYLE_PRESETS = get_args(StylePreset)

style_options = [
    click.option(
        "--style",
        "styles",
        multiple=True,
        metavar="PRESET[,PRESET…]",
        help="Style presets, repeated or comma-separated: " + ", ".join(STYLE_PRESETS) + ".",
    ),
    click.option(
        "--style-sample",
        "style_sample_file",
        type=click.Path(path_type=str),
        help=f"A text file of your own prose (up to {MAX_STYLE_SAMPLE_CHARS:,} characters) "
        "whose voice every scene follows.",
    ),
]


def style_presets(values: tuple[str, ...]) -> list[str]:
    """The presets of repeated and comma-separated --style values, in order, each once."""
    chosen: list[str] = []
    for value in values:
        for name in value.replace("，", ",").split(","):
            name = name.strip().lower().replace("-", "_")
            if not name:
                continue
            if name not in STYLE_PRESETS:
                raise UserError(
                    key="error.style_unknown", name=name, presets=", ".join(STYLE_PRESETS)
                )
            if name not in chosen:
                chosen.append(name)
    return chosen


def style_sample(text: str, path: str | None) -> str:
    if len(text) > MAX_STYLE_SAMPLE_CHARS:
        raise UserError(
            key="error.style_sample_long",
            path=path,
            length=len(text),
            most=MAX_STYLE_SAMPLE_CHARS,
        )
    return text.strip()


def bible_summary(bible: str, language: str) -> str | None:
    """'Story bible: 3 entries (Mara, The harbour, Style).', or None for no bible."""
    entries = parse_bible(bible)
    if not entries:
        return None
    names = ", ".join(entry.name for entry in entries)
    return messages.text("cli.bible_read", language, count=len(entries), names=names)


def plan_lines(plan: Plan, language: str, row: Callable[[int, PlanSection], str]) -> list[str]:
    """The plan as the command line lists it: `row(number, section)` for each row, under its
    chapter's line in a book plan (a chapter without scenes yet says they come later)."""
    if not plan.two_level:
        return [row(i, s) for i, s in enumerate(plan.sections, start=1)]
    lines, number = [], 0
    for position, chapter in enumerate(plan.chapters, start=1):
        scenes = plan.scenes(chapter.id)
        lines.append(
            messages.text(
                "cli.chapter_line",
                language,
                number=position,
                title=chapter.title,
                words=f"{plan.chapter_words(chapter):,}",
            )
        )
        if not scenes:
            lines.append("      " + messages.text("cli.scenes_later", language))
        for scene in scenes:
            number += 1
            lines.append("  " + row(number, scene))
    return lines


def progress_line(event: object, plan: Plan, language: str) -> str | None:
    """The line a run prints for a chapter, scene or recap event (None for other events)."""
    from engine.metrics import count_words
    from engine.writing.events import (
        ChapterPlanned,
        ChapterPlanning,
        RecapFinished,
        RecapStarted,
        SectionStarted,
    )

    def chapter(chapter_id: str) -> dict:
        index = plan.chapter_index(chapter_id)
        return {
            "number": index + 1,
            "count": len(plan.chapters),
            "title": plan.chapters[index].title,
        }

    if isinstance(event, ChapterPlanning):
        return messages.text("cli.chapter_planning", language, **chapter(event.chapter_id))
    if isinstance(event, ChapterPlanned):
        key = "cli.chapter_planned_one" if event.scenes == 1 else "cli.chapter_planned"
        return messages.text(key, language, scenes=event.scenes, **chapter(event.chapter_id))
    if isinstance(event, RecapStarted):
        return messages.text("cli.recap_started", language, **chapter(event.chapter_id))
    if isinstance(event, RecapFinished):
        words = count_words(event.text)
        return messages.text(
            "cli.recap_finished", language, words=words, **chapter(event.chapter_id)
        )
    if not isinstance(event, SectionStarted) or event.index >= len(plan.sections):
        return None
    section = plan.sections[event.index]
    bible = (
        messages.text("cli.scene_bible", language, names=", ".join(event.bible))
        if event.bible
        else ""
    )
    if section.chapter is None:
        if not bible:
            return None
        return messages.text(
            "cli.section_started",
            language,
            number=event.index + 1,
            count=event.count,
            title=section.title,
            bible=bible,
        )
    scenes = plan.scene_range(section.chapter)
    return messages.text(
        "cli.scene_started",
        language,
        scene=event.index - scenes.start + 1,
        scenes=len(scenes),
        bible=bible,
        section_title=section.title,
        **chapter(section.chapter),
    )
