"""Novel-length pieces on the command line: two-level plans from `plan` and `write`, style and
bible options, chapter/scene/recap progress lines, the limits, and `projects show` of a book.

The runs use the scripted fake model in-process (click's runner, the backend opener replaced);
refusals run the real command, which stops before any model loads."""

import json
import re

import pytest
from click.testing import CliRunner

import engine.models.backends
from app.cli import LANGUAGE, cli
from engine.projects.service import continue_from, fit_plan, insert_row, project_overview
from engine.schema import Chapter, Plan, PlanSection
from engine.store.database import Store
from harness.fake_backend import FakeBackend, prose
from tests.conftest import one_line_error, run_cli

STORY = "A novel about a lighthouse keeper and the cartographer who comes to the island."
BIBLE = """## Mara
Aliases: the cartographer
A cartographer from the city.

## Tobias
The lighthouse keeper, old, with a limp.

## Style
Pinned
Short sentences.
"""


def _book_model(request) -> str:
    """Chapters, scenes, prose of the asked length, or a recap, as the request wants."""
    schema = request.json_schema or {}
    prompt = request.messages[-1]["content"]
    if "chapters" in schema.get("properties", {}):
        count = schema["properties"]["chapters"]["minItems"]
        rows = [
            {"title": f"Part {i}", "summary": f"Tobias and Mara in part {i}.", "words": 3000}
            for i in range(1, count + 1)
        ]
        return json.dumps({"chapters": rows})
    if "sections" in schema.get("properties", {}):
        count = schema["properties"]["sections"]["minItems"]
        rows = [
            {"title": f"Scene {i}", "main_point": f"Mara maps the coast ({i}).", "words": 500}
            for i in range(1, count + 1)
        ]
        return json.dumps({"sections": rows})
    if "recap" in prompt:
        return "Mara and Tobias found the old chart. The storm is still a secret."
    words = re.search(r"about (\d+) words", prompt)
    return prose(int(words[1]) if words else 60, seed=len(prompt))


@pytest.fixture
def fake_model(monkeypatch):
    """Every backend the command opens is the scripted book model; yields the backends."""
    opened = []

    def open_fake(*args, **kwargs):
        opened.append(FakeBackend(_book_model, context_length=16384))
        return opened[-1]

    monkeypatch.setattr(engine.models.backends, "open_backend", open_fake)
    monkeypatch.setitem(LANGUAGE, "chosen", "en")
    return opened


def _invoke(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


def test_plan_over_8000_words_is_chapters_nesting_scenes(fake_model, tmp_path):
    out = tmp_path / "plan.json"
    result = _invoke("plan", STORY, "--words", "9000", "--scenes-up-front", "-o", str(out))
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    assert set(written) == {"chapters"}
    chapters = written["chapters"]
    assert len(chapters) >= 3 and all(chapter["scenes"] for chapter in chapters)
    assert sum(s["words"] for c in chapters for s in c["scenes"]) == 9000
    assert "Drafting the chapters, then every chapter's scenes" in result.stderr
    assert f"Plan with {len(chapters)} chapters and " in result.stderr
    reread = Plan.model_validate(written)
    assert reread.two_level and reread.total_words == 9000


def test_plan_up_to_8000_words_stays_flat(fake_model, tmp_path):
    out = tmp_path / "plan.json"
    result = _invoke("plan", STORY, "--words", "2000", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert set(json.loads(out.read_text())) == {"sections"}


def test_write_a_book_chapter_by_chapter_with_style_bible_and_progress(fake_model, tmp_path):
    db, bible = tmp_path / "p.db", tmp_path / "bible.md"
    bible.write_text(BIBLE)
    sample = tmp_path / "sample.txt"
    sample.write_text("The wind came first. Then the rain.")
    result = _invoke(
        "write",
        STORY,
        "--words",
        "9000",
        "--bible",
        str(bible),
        "--style",
        "first_person,past",
        "--style",
        "plain",
        "--style-sample",
        str(sample),
        "--project",
        "island",
        "--db",
        str(db),
    )
    assert result.exit_code == 0, result.output
    err = result.stderr
    assert "Story bible: 3 entries (Mara, Tobias, Style)." in err
    assert "Drafting the chapters…" in err
    assert "(its scenes are drafted when the run reaches it)" in err
    store = Store(db)
    project = store.project("island")
    plan = store.plan(project)
    recaps = store.recaps(project)
    sections = store.sections(project)
    store.close()
    count = len(plan.chapters)
    assert project.settings.style == ["first_person", "past", "plain"]
    assert project.settings.style_sample == "The wind came first. Then the rain."
    assert all(plan.scenes(c.id) for c in plan.chapters) and set(recaps) == {
        c.id for c in plan.chapters
    }
    assert [s.status for s in sections] == ["done"] * len(plan.sections)
    for number in range(1, count + 1):
        scenes = len(plan.scenes(plan.chapters[number - 1].id))
        assert f"Chapter {number}/{count} “Part {number}”: drafting its scenes…" in err
        assert f"Chapter {number}/{count}: planned {scenes} scenes." in err
        assert f"Chapter {number}/{count}: writing its recap…" in err
        assert f"Chapter {number} recap: 13 words." in err
        assert f"Chapter {number}/{count}, scene {scenes}/{scenes}: Scene {scenes} (bible: " in err
    # every scene carries the pinned style note, the ones naming Mara her entry as well
    assert "scene 1/" in err and "(bible: Style, Mara" in err
    # events arrive in order: a chapter's scenes are planned, written, then recapped
    first = plan.chapters[0]
    assert (
        err.index("Chapter 1/")
        < err.index(f"Chapter 1/{count}, scene 1/")
        < err.index(f"Chapter 1/{count}: writing its recap")
        < err.index(f"Chapter 2/{count} “Part 2”: drafting")
    ), first.title


def test_progress_lines_read_in_chinese(fake_model, tmp_path, monkeypatch):
    monkeypatch.setitem(LANGUAGE, "chosen", "zh-CN")
    plan = tmp_path / "plan.json"
    plan.write_text(_book_plan_json(chapters=2, scenes=1, words=40))
    result = _invoke("write", STORY, "--plan", str(plan), "--db", str(tmp_path / "p.db"))
    assert result.exit_code == 0, result.output
    assert "第 1/2 章，第 1/1 个场景：Scene 1-1" in result.stderr
    assert "第 2/2 章：正在写本章回顾……" in result.stderr
    assert "第 1 章回顾：13 字。" in result.stderr


def _book_plan_json(chapters: int, scenes: int, words: int, empty_last: bool = False) -> str:
    rows = []
    for c in range(1, chapters + 1):
        chapter = {"title": f"Chapter {c}", "summary": f"What chapter {c} tells.", "words": 100}
        if not (empty_last and c == chapters):
            chapter["scenes"] = [
                {"title": f"Scene {c}-{s}", "main_point": f"Scene {s} of {c}.", "words": words}
                for s in range(1, scenes + 1)
            ]
        rows.append(chapter)
    return json.dumps({"chapters": rows})


def test_a_hand_written_plan_with_a_chapter_left_to_draft(fake_model, tmp_path):
    plan = tmp_path / "plan.json"
    plan.write_text(_book_plan_json(chapters=3, scenes=2, words=50, empty_last=True))
    db = tmp_path / "p.db"
    result = _invoke("write", STORY, "--plan", str(plan), "--project", "hand", "--db", str(db))
    assert result.exit_code == 0, result.output
    assert "Chapter 3/3 “Chapter 3”: drafting its scenes…" in result.stderr
    assert "Chapter 1/3 “Chapter 1”: drafting" not in result.stderr
    shown = _invoke("projects", "show", "hand", "--db", str(db))
    assert shown.exit_code == 0, shown.output
    assert "3 chapters, 5 scenes" in shown.stdout
    assert re.search(
        r"Chapter 2\. \[c\w+\] Chapter 2 \(100 planned; \d+ words written\)", shown.stdout
    )
    assert shown.stdout.count("recap: Mara and Tobias found the old chart.") == 3


@pytest.mark.parametrize(
    "args, files, hint",
    [
        (["--words", "200001"], {}, "more than the 200,000"),
        (["--plan", "PLAN"], {"PLAN": "BAD_SCENE"}, "chapters.1.scenes.0.words"),
        (["--plan", "PLAN"], {"PLAN": "MANY_CHAPTERS"}, "at most 100 items"),
        (["--plan", "PLAN"], {"PLAN": "MANY_SCENES"}, "more than 30 scenes"),
        (["--plan", "PLAN"], {"PLAN": "TOO_LONG"}, "more than the 200,000"),
        (["--style", "gothic"], {}, "no style preset 'gothic'"),
        (["--style-sample", "SAMPLE"], {"SAMPLE": "x" * 3001}, "at most 3,000"),
        (["--mode", "single", "--words", "12000"], {}, "at most 10,000"),
    ],
)
def test_limits_are_refused_in_one_line(tmp_path, args, files, hint):
    contents = {
        "BAD_SCENE": _book_plan_json(2, 1, 50).replace('"words": 50}]}]', '"words": -1}]}]'),
        "MANY_CHAPTERS": _book_plan_json(101, 1, 50),
        "MANY_SCENES": _book_plan_json(1, 31, 50),
        "TOO_LONG": _book_plan_json(25, 1, 9000),
    }
    for name, text in files.items():
        path = tmp_path / name
        path.write_text(contents.get(text, text))
        args = [str(path) if a == name else a for a in args]
    db = tmp_path / "p.db"
    result = run_cli("--lang", "en", "write", STORY, *args, "--db", str(db), timeout=120)
    assert hint in one_line_error(result)
    if db.exists():
        store = Store(db)
        assert store.list_projects() == []
        store.close()


def _book(store: Store) -> tuple:
    plan = Plan.model_validate(json.loads(_book_plan_json(chapters=3, scenes=2, words=40)))
    project = store.create_project("book", STORY, 240)
    store.save_plan(project, plan)
    for section in plan.sections:
        version = store.start_section(project, section.id)
        store.save_section(version, prose(40, seed=len(section.title)), 40, done=True)
    for chapter in plan.chapters:
        store.save_recap(project, chapter.id, f"Recap of {chapter.title}.", edited=False)
    return project, plan


def test_insert_a_scene_and_continue_from_in_a_book(db_path):
    store = Store(db_path)
    project, plan = _book(store)
    row = PlanSection(title="Fog", main_point="Fog hides the harbour.", words=30)
    edited = insert_row(plan, 3, row)  # after chapter 2's first scene
    assert edited.sections[3].chapter == plan.chapters[1].id
    assert [len(edited.scenes(c.id)) for c in edited.chapters] == [2, 3, 2]
    assert insert_row(plan, 0, row).sections[0].chapter == plan.chapters[0].id
    store.save_recap(project, plan.chapters[2].id, "The writer's own recap.", edited=True)
    continue_from(store, project, 2)  # chapter 2's first scene on
    recaps = store.recaps(project)
    assert set(recaps) == {plan.chapters[0].id, plan.chapters[2].id}
    assert recaps[plan.chapters[2].id].edited
    assert len(store.sections(project)) == 2
    overview = project_overview(store, project)
    assert [c.words for c in overview.chapters][1] == 0
    assert [c.scenes for c in overview.chapters] == [2, 2, 2]
    assert overview.chapters[0].recap == "Recap of Chapter 1."
    assert [s.chapter_id for s in overview.sections] == [s.chapter for s in plan.sections]
    store.close()


def test_a_full_chapter_takes_no_more_scenes():
    plan = Plan(
        chapters=[Chapter(id="c1", title="One", summary="All of it.", words=600)],
        sections=[
            PlanSection(title=f"S{i}", main_point="More.", words=20, chapter="c1")
            for i in range(30)
        ],
    )
    from engine.errors import UserError

    with pytest.raises(UserError, match="at most 30 scenes"):
        insert_row(plan, 1, PlanSection(title="One more", main_point="Too many.", words=20))


def test_a_book_plan_given_another_length_is_rescaled_by_chapters():
    plan = Plan.model_validate(json.loads(_book_plan_json(3, 2, 50, empty_last=True)))
    fitted = fit_plan(plan, 900)
    assert fitted.two_level and fitted.total_words == 900
    assert [c.id for c in fitted.chapters] == [c.id for c in plan.chapters]
    assert fitted.ids == plan.ids and fit_plan(plan, plan.total_words) is plan
