"""The studio's two-level (novel) handlers without a browser: chapters and scenes in the plan
editor, chapter-grouped documents with recaps, the bible summary and style settings; a real
Gradio layout, a real SQLite file and the scripted fake backend."""

import itertools
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.studio import bible_style, render, service
from app.studio.chapter_table import add_chapter
from app.studio.model_host import ModelHost
from app.studio.panels import plan as plan_panel
from app.studio.panels import recaps, writing
from app.studio.plan_table import delete_row, move_row, toggle_lock
from app.studio.state import Studio
from app.studio.ui import screen
from engine.errors import UserError
from engine.export import markdown_to_safe_html
from engine.schema import Chapter, Plan, PlanSection
from harness.fake_backend import FakeBackend, prose

INSTRUCTION = "Write a 9,000-word novella about a ferry crossing."


REPLIES = itertools.count()


def book_reply(request) -> str:
    """Chapters or scenes as JSON when the request asks for a plan; prose otherwise. Each reply
    comes after a pause, so the event before it reaches the page in a batch of its own."""
    time.sleep(0.15)
    schema = request.json_schema or {}
    if "chapters" in schema.get("properties", {}):
        rows = [
            {"title": f"Part {i}", "summary": f"Things happen, part {i}.", "words": 3000}
            for i in range(1, 4)
        ]
        return json.dumps({"chapters": rows})
    if "sections" in schema.get("properties", {}):
        rows = [{"title": f"Scene {i}", "main_point": "A turn.", "words": 20} for i in (1, 2)]
        return json.dumps({"sections": rows})
    return prose(20, seed=next(REPLIES))


@pytest.fixture
def studio(db_path):
    backend = FakeBackend(book_reply)
    studio = Studio(db_path, ModelHost.serving(backend))
    studio.backend = backend
    return studio


@pytest.fixture
def ui(studio):
    return screen(studio)[1]


def book(studio: Studio, name: str = "Ferry"):
    """A saved project with three chapters: two of two scenes each, the last without scenes."""
    chapters = [
        Chapter(id=f"c{i}", title=f"Part {i}", summary=f"Part {i} happens.", words=40)
        for i in (1, 2, 3)
    ]
    scenes = [
        PlanSection(
            id=f"s{c}{k}", title=f"Scene {c}.{k}", main_point="A turn.", words=20, chapter=f"c{c}"
        )
        for c in (1, 2)
        for k in (1, 2)
    ]
    plan = Plan(chapters=chapters, sections=scenes)
    project = studio.store.create_project(name, INSTRUCTION, plan.total_words)
    studio.store.save_plan(project, plan)
    return project, plan


def written(studio: Studio, project, plan: Plan, count: int) -> None:
    """The first `count` scenes written, as a finished run leaves them."""
    for row in plan.sections[:count]:
        version = studio.store.start_section(project, row.id)
        studio.store.save_section(version, f"Text of {row.title}.", 5, done=True)


def test_a_two_level_plan_shows_chapters_and_one_chapters_scenes(studio, ui):
    project, plan = book(studio)
    shown = ui.shared.view.of(studio, project)
    assert shown[ui.plan.chapters_box]["visible"] is True
    assert [row[0] for row in shown[ui.plan.chapters]["data"]] == ["Part 1", "Part 2", "Part 3"]
    assert [row[2] for row in shown[ui.plan.chapters]["data"]] == [40, 40, 40]
    assert shown[ui.plan.chapter_pick]["value"] == "c1"
    assert [row[0] for row in shown[ui.plan.plan]["data"]] == ["Scene 1.1", "Scene 1.2"]
    assert "120" in shown[ui.plan.plan_total]

    picked = plan_panel.pick_chapter(studio, ui.plan, project.id, "c2")
    assert picked[ui.plan.plan_ids] == ["s21", "s22"]
    assert plan_panel.pick_chapter(studio, ui.plan, project.id, "c3")[ui.plan.plan]["data"] == []

    # a flat project shows no chapters
    flat = studio.store.create_project("Flat", "Write a tale.", 60)
    studio.store.save_plan(flat, Plan(sections=[PlanSection(title="A", main_point="B", words=60)]))
    assert ui.shared.view.of(studio, flat)[ui.plan.chapters_box]["visible"] is False


def test_chapter_edits_keep_scenes_with_their_chapter(studio, ui):
    project, plan = book(studio)
    rows = plan_panel.plan_view(studio, ui.plan, project, plan)[ui.plan.chapters]["data"]
    ids = [c.id for c in plan.chapters]

    # move chapter 2 up: its scenes go first
    moved = plan_panel.edit_chapters(
        studio, ui.plan, lambda r, i, n: move_row(r, i, n, -1), project.id, rows, ids, 2, "c1"
    )
    saved = studio.store.plan(project)
    assert [c.id for c in saved.chapters] == ["c2", "c1", "c3"]
    assert saved.ids == ["s21", "s22", "s11", "s12"]
    assert moved[ui.plan.chapter_pick]["value"] == "c1"

    # a new chapter after the first, then the old first one deleted: its scenes leave with it
    rows, ids = moved[ui.plan.chapters]["data"], moved[ui.plan.chapter_ids]
    added = plan_panel.edit_chapters(studio, ui.plan, add_chapter, project.id, rows, ids, 1, "c1")
    assert len(studio.store.plan(project).chapters) == 4
    rows, ids = added[ui.plan.chapters]["data"], added[ui.plan.chapter_ids]
    plan_panel.edit_chapters(studio, ui.plan, delete_row, project.id, rows, ids, 1, "c1")
    saved = studio.store.plan(project)
    assert "c2" not in [c.id for c in saved.chapters] and saved.ids == ["s11", "s12"]

    # a chapter's words typed in the table rescale its scenes
    shown = plan_panel.plan_view(studio, ui.plan, project, saved, "c1")
    rows = shown[ui.plan.chapters]["data"]
    position = shown[ui.plan.chapter_ids].index("c1")
    rows[position][2] = 100
    plan_panel.save_chapters(studio, ui.plan, project.id, rows, shown[ui.plan.chapter_ids], "c1")
    assert [s.words for s in studio.store.plan(project).scenes("c1")] == [50, 50]


@pytest.mark.parametrize(
    ("cell", "value", "message"),
    [
        (0, "  ", "Chapter 2: the title must not be empty."),
        (1, "", "Chapter 2: the summary must not be empty."),
        (2, 30_000, "Chapter 2: give a word count between 1 and 20,000."),
        (2, "lots", "Chapter 2: the word count 'lots' is not a number."),
    ],
)
def test_an_invalid_chapter_edit_is_a_one_line_message_and_goes_back(
    studio, ui, cell, value, message, monkeypatch
):
    """The cell goes back to its saved value, and the message is shown once."""
    project, plan = book(studio)
    saved = plan_panel.plan_view(studio, ui.plan, project, plan)[ui.plan.chapters]["data"]
    rows = [list(row) for row in saved]
    rows[1][cell] = value
    shown = []
    monkeypatch.setattr(plan_panel.gr, "Warning", shown.append)
    view = plan_panel.save_chapters(
        studio, ui.plan, project.id, rows, [c.id for c in plan.chapters], "c1"
    )
    assert shown == [message]
    assert view[ui.plan.chapters]["data"] == saved
    assert studio.store.plan(project) == plan


def test_scene_rows_edit_the_picked_chapter_and_rescale_keeps_locked_chapters(studio, ui):
    project, plan = book(studio)
    rows = plan_panel.plan_view(studio, ui.plan, project, plan, "c2")[ui.plan.plan]["data"]
    # delete both scenes of chapter 2: allowed, the run drafts new ones when it gets there
    once = plan_panel.edit_rows(
        studio, ui.plan, delete_row, project.id, rows, ["s21", "s22"], 1, 120, "c2"
    )
    plan_panel.edit_rows(
        studio,
        ui.plan,
        delete_row,
        project.id,
        once[ui.plan.plan]["data"],
        once[ui.plan.plan_ids],
        1,
        120,
        "c2",
    )
    assert studio.store.plan(project).scenes("c2") == []
    with pytest.raises(UserError, match="Choose a chapter first"):
        plan_panel.save_rows(studio, ui.plan, project.id, rows, ["s21", "s22"], None)

    # lock chapter 1, rescale the book to 1,000 words: chapter 1 and its scenes keep theirs
    chapters = plan_panel.plan_view(studio, ui.plan, project, studio.store.plan(project))
    plan_panel.edit_chapters(
        studio,
        ui.plan,
        toggle_lock,
        project.id,
        chapters[ui.plan.chapters]["data"],
        chapters[ui.plan.chapter_ids],
        1,
        "c1",
    )
    shown = plan_panel.rescale_rows(
        studio,
        ui.plan,
        project.id,
        chapters[ui.plan.plan]["data"],
        chapters[ui.plan.plan_ids],
        1000,
        "c1",
    )
    rescaled = studio.store.plan(project)
    assert rescaled.total_words == 1000
    assert [s.words for s in rescaled.scenes("c1")] == [20, 20]
    assert "1,000" in shown[ui.plan.plan_total]


def test_drafting_a_long_piece_drafts_chapters_then_scenes_up_front(studio, ui):
    project = studio.store.create_project("Novella", INSTRUCTION, 9000)
    updates = list(
        plan_panel.draft(studio, ui.plan, project.id, INSTRUCTION, "", 9000, False, False)
    )
    plan = studio.store.plan(project)
    assert [c.title for c in plan.chapters] == ["Part 1", "Part 2", "Part 3"]
    assert plan.sections == [] and plan.total_words == 9000
    assert updates[-1][ui.plan.chapters_box]["visible"] is True

    list(plan_panel.draft(studio, ui.plan, project.id, INSTRUCTION, "", 9000, False, True))
    plan = studio.store.plan(project)
    assert all(len(plan.scenes(c.id)) == 2 for c in plan.chapters)


def test_the_document_groups_chapters_and_a_recap_edit_is_used_as_written(studio, ui):
    project, plan = book(studio)
    written(studio, project, plan, 4)
    studio.store.save_recap(project, "c1", "Ida boards the ferry.", edited=False)
    document = writing.view_of(studio, ui.writing, project)[ui.writing.run.document]
    assert document.count("<details") == 2 and document.count(" open>") == 1
    assert "Chapter 1 · Part 1" in document and "Ida boards the ferry." in document
    assert (
        document.index("Text of Scene 1.2")
        < document.index("Ida boards")
        < document.index("Chapter 2 · Part 2")
    )

    assert recaps.show(studio, project.id, "c1") == "Ida boards the ferry."
    saved = recaps.save(
        studio, ui.recaps, ui.shared.run, project.id, "c1", "  Ida <b>hides</b> the parcel.  "
    )
    assert studio.store.recaps(project)["c1"].edited is True
    assert (
        "Recap (yours):" in saved[ui.writing.run.document]
        and "&lt;b&gt;hides" in saved[ui.writing.run.document]
    )

    recaps.save(
        studio, ui.recaps, ui.shared.run, project.id, "c1", ""
    )  # emptied: the model writes a new one
    assert "c1" not in studio.store.recaps(project)
    with pytest.raises(UserError, match="Choose a chapter first"):
        recaps.save(studio, ui.recaps, ui.shared.run, project.id, None, "text")


def each_step_on_a_new_thread(generator) -> list:
    """Gradio may resume a generator handler on another of its threads between two yields;
    every step here runs on a thread of its own, all alive to the end (a finished thread's id
    can be reused, which would hide a connection used on the wrong thread)."""
    results, pools = [], []
    while True:
        pools.append(ThreadPoolExecutor(1))
        step = pools[-1].submit(next, generator, None).result()
        if step is None:
            break
        results.append(step)
    for pool in pools:
        pool.shutdown()
    return results


def test_a_book_run_streams_chapter_progress_bible_entries_and_recaps(studio, ui):
    project, plan = book(studio)
    bible = "## Ida\nAliases: the courier\nA courier.\n\n## Style\nShort sentences."
    studio.store.update_project(project, bible=bible)
    run = service.write(studio, ui.shared.run, False, project.id, INSTRUCTION, bible, 120, False)
    updates = each_step_on_a_new_thread(run)
    lines = [update[ui.writing.run.progress] for update in updates]
    assert any(line.startswith("Chapter 3 of 3: drafting its scenes") for line in lines)
    assert any("Chapter 3 of 3: 1 scene(s) planned" in line for line in lines)
    assert any(line.startswith("Chapter 3 of 3 is written; recapping") for line in lines)
    assert any("bible: Style" in line for line in lines)
    assert lines[-1].startswith("Done")
    assert set(studio.store.recaps(project)) == {"c1", "c2", "c3"}
    final = updates[-1][ui.writing.run.document]
    assert final.count("<details") == 3 and final.count('class="lw-recap"') == 3

    # an emptied recap: Resume writes only that recap
    studio.store.save_recap(project, "c2", "", edited=False)
    list(service.write(studio, ui.shared.run, True, project.id, INSTRUCTION, bible, 120, False))
    assert set(studio.store.recaps(project)) == {"c1", "c2", "c3"}


def test_bible_summary_and_style_settings(studio, ui):
    project, _ = book(studio)
    bible = (
        "## Ida\nAliases: the courier, I.\nA courier.\n\n"
        "## Harbour\nPinned\nCold.\n\n## Style\nTerse."
    )
    shown = bible_style.bible_done(studio, project.id, bible)
    assert shown == (
        "The model gets **3** bible entries. In every scene: **Harbour**, **Style**. "
        "In scenes that mention them: **Ida** (also the courier, I.)."
    )
    assert studio.project(project.id).bible == bible
    assert bible_style.summary("Ida: a courier.").startswith("The whole bible goes into every")
    assert bible_style.summary("") == ""

    bible_style.save_style(studio, project.id, ["first_person", "past"])
    bible_style.save_sample(studio, project.id, "  The sea was flat.  ")
    settings = studio.project(project.id).settings
    assert (
        settings.style == ["first_person", "past"] and settings.style_sample == "The sea was flat."
    )
    with pytest.raises(UserError, match="Choose either First person or Third person, not both"):
        bible_style.save_style(studio, project.id, ["first_person", "third_person"])
    with pytest.raises(UserError, match="The style sample is 3,001 characters"):
        bible_style.save_sample(studio, project.id, "x" * 3001)
    opened = ui.shared.view.of(studio, studio.project(project.id))
    assert opened[ui.brief.style] == ["first_person", "past"]
    assert opened[ui.brief.style_sample] == "The sea was flat."
    assert "**Ida**" in opened[ui.brief.bible_summary]


@pytest.mark.parametrize(
    "text",
    [
        prose(300, seed=3),
        'He said, "Don\'t go."\n\nShe went anyway — into the well-lit hall.\nThe end.',
        "第一章。\n\n她走了。",
        "\n\nLead.\n\n\nTrail.\n\n",
        "A line\n---\nmore",
        "- a list",
        "x *em* y",
        "1. one",
        "a & b <b>c</b>",
        "    code",
        "Term\n: definition",
        "Title\n=====",
        "a  \nb",
    ],
)
def test_plain_prose_renders_as_markdown_would(text):
    assert render.prose_html(text) == markdown_to_safe_html(text)
