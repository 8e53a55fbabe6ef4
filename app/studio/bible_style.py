"""The story bible summary and style handlers of the Brief panel (app.studio.panels.brief):
what of the bible the model gets (entries, aliases, pinned ones), style presets and a sample of
the writer's own prose.

The bible box takes the Markdown entry form (engine.writing.bible); under it a short summary, made
again each time the bible is saved, says which entries go into every scene and which only into
scenes that mention them. Style presets and the sample are saved in the project's settings.
"""

import gradio as gr

from app.studio import service
from app.studio.language import info, t
from app.studio.state import Studio
from engine.errors import UserError
from engine.projects.service import check_bible
from engine.schema import MAX_STYLE_SAMPLE_CHARS
from engine.store.database import Project
from engine.writing.bible import parse_bible

# presets that cannot hold together
CLASHES = (("first_person", "third_person"), ("past", "present"))


def summary(bible: str) -> str:
    """Which entries the model gets: always (pinned ones, the style note), or when a scene
    mentions their name or an alias."""
    entries = parse_bible(bible)
    if not entries:
        return ""
    if len(entries) == 1 and entries[0].untitled:
        return t("bible.summary_whole")

    def shown(entry) -> str:
        name = f"**{entry.name}**"
        return (
            t("bible.aliases", name=name, aliases=", ".join(entry.aliases))
            if entry.aliases
            else name
        )

    always = [shown(e) for e in entries if e.always]
    named = [shown(e) for e in entries if not e.always]
    none = t("bible.none")
    return t(
        "bible.summary",
        count=len(entries),
        always=", ".join(always) or none,
        named=", ".join(named) or none,
    )


def bible_done(studio: Studio, project_id, bible, request: gr.Request = None) -> str:
    """The bible box lost focus: save it, and show what the model will get of it."""
    check_bible(bible or "")
    service.save_brief_fields(studio, service.page_of(request), project_id, bible=bible or "")
    return summary(bible or "")


def save_style(studio: Studio, project_id, presets, request: gr.Request = None) -> None:
    project = studio.project(project_id)
    presets = list(presets or [])
    for clash in CLASHES:
        if all(preset in presets for preset in clash):
            first, second = (t(f"style.{preset}") for preset in clash)
            raise UserError(key="error.style_clash", first=first, second=second)
    if presets != list(project.settings.style):
        _save_settings(studio, project, request, style=presets)
        info("style.saved")


def save_sample(studio: Studio, project_id, sample, request: gr.Request = None) -> None:
    project = studio.project(project_id)
    sample = (sample or "").strip()
    if len(sample) > MAX_STYLE_SAMPLE_CHARS:
        raise UserError(
            key="error.style_sample_too_long",
            length=f"{len(sample):,}",
            most=f"{MAX_STYLE_SAMPLE_CHARS:,}",
        )
    if sample != project.settings.style_sample:
        _save_settings(studio, project, request, style_sample=sample)
        info("style.sample_saved" if sample else "style.sample_cleared")


def _save_settings(studio: Studio, project: Project, request: gr.Request | None, **fields):
    settings = project.settings.model_copy(update=fields)
    service.save_brief_fields(studio, service.page_of(request), project.id, settings=settings)
