"""Novel-scale writing on the real embedded model: a small two-level plan whose second chapter
gets its scenes drafted when reached, every scene written, and every chapter recapped."""

from engine.planning.book_plan import draft_book_plan
from engine.projects.run import run_project
from engine.schema import Chapter, Plan, PlanSection, SamplingSettings, WriteSettings
from engine.store.database import Store
from engine.writing.events import ChapterPlanned, RecapFinished, RunFinished, SectionStarted

BIBLE = "## Mara\nAliases: the keeper\nThe lighthouse keeper, sixty.\n\n## Style\nShort sentences."


def test_a_small_book_is_planned_written_and_recapped(backend, db_path):
    first = Chapter(title="The letter", summary="Mara finds a letter on the rocks.", words=60)
    second = Chapter(title="The ship", summary="A ship appears in the fog.", words=80)
    scene = PlanSection(
        title="Rocks", main_point="Mara finds the letter.", words=60, chapter=first.id
    )
    store = Store(db_path)
    settings = WriteSettings(sampling=SamplingSettings(seed=5), style=["third_person", "past"])
    project = store.create_project(
        "Book", "A short novel about a lighthouse keeper.", 140, BIBLE, settings
    )
    store.save_plan(project, Plan(chapters=[first, second], sections=[scene]))
    events = list(run_project(store, project, backend))
    assert isinstance(events[-1], RunFinished)
    planned = [e for e in events if isinstance(e, ChapterPlanned)]
    assert [e.chapter_id for e in planned] == [second.id] and planned[0].scenes >= 1
    plan = store.plan(project)
    sections = store.sections(project)
    assert len(sections) == len(plan.sections) and all(s.status == "done" for s in sections)
    assert all(s.text.strip() for s in sections)
    recaps = store.recaps(project)
    assert set(recaps) == {first.id, second.id}
    assert all(recap.text.strip() and not recap.edited for recap in recaps.values())
    assert [e.chapter_id for e in events if isinstance(e, RecapFinished)] == [first.id, second.id]
    started = [e for e in events if isinstance(e, SectionStarted)]
    assert "Mara" in started[0].bible and "Style" in started[0].bible
    assert events[-1].stats.recaps == 2 and events[-1].stats.scene_plans == 1


def test_a_book_plan_is_drafted_as_chapters(backend):
    plan = draft_book_plan(backend, "A 9,000-word novel about a lighthouse keeper.", 9_000, seed=2)
    assert 4 <= len(plan.chapters) <= 6
    assert plan.total_words == 9_000 and not plan.sections
    assert all(chapter.title and chapter.summary for chapter in plan.chapters)
