"""Stable sections and revisions with the scripted fake backend: fast and deterministic.

Inserting, moving and deleting rows keep texts with their rows; a resume writes only rows
without text; a rewrite is a proposal until accepted; a passage rewrite touches only the
passage; "cut to N words" sets the length. tests/test_revise_model.py repeats the main paths
on the real embedded model.
"""

import pytest

from engine.errors import UserError
from engine.projects.revise import (
    RevisionReady,
    accept_version,
    find_passage,
    regenerate_section,
    revision_target,
    rewrite_section,
)
from engine.projects.run import run_project
from engine.projects.service import continue_from, insert_row
from engine.schema import Plan, PlanSection
from engine.store.database import Store
from engine.writing.events import RunFinished, SectionFinished
from harness.fake_backend import FakeBackend, prose

INSTRUCTION = "Write a story about a lighthouse keeper."


def _row(title: str, words: int = 40) -> PlanSection:
    return PlanSection(title=title, main_point=f"What happens in {title}.", words=words)


def _written_project(store: Store, titles=("One", "Two", "Three")):
    plan = Plan(sections=[_row(t) for t in titles])
    project = store.create_project("Keeper", INSTRUCTION, plan.total_words)
    store.save_plan(project, plan)
    backend = FakeBackend(lambda request: prose(40, seed=len(backend.requests)))
    events = list(run_project(store, project, backend))
    assert isinstance(events[-1], RunFinished)
    return project, plan


def test_resume_after_an_insert_writes_only_the_new_row(db_path):
    store = Store(db_path)
    project, plan = _written_project(store)
    before = {s.section_id: s.text for s in store.sections(project)}
    new = _row("Between")
    store.save_plan(project, insert_row(plan, 1, new))

    backend = FakeBackend(["A new section between the two written ones."])
    events = list(run_project(store, project, backend))
    finished = [e for e in events if isinstance(e, SectionFinished)]
    assert [e.index for e in finished] == [1]  # only the inserted row
    sections = store.sections(project)
    assert [s.section_id for s in sections] == [plan.ids[0], new.id, *plan.ids[1:]]
    assert {s.section_id: s.text for s in sections if s.section_id != new.id} == before
    # the new row was conditioned on the text before it and asked for by its own plan row
    prompt = backend.requests[0].messages
    assert prompt[-2]["content"] == before[plan.ids[0]]
    assert "Between" in prompt[-1]["content"]


def test_moving_and_deleting_rows_carry_their_texts(db_path):
    store = Store(db_path)
    project, plan = _written_project(store)
    texts = {s.section_id: s.text for s in store.sections(project)}
    one, two, three = plan.sections
    store.save_plan(project, Plan(sections=[three, one]))
    assert [s.text for s in store.sections(project)] == [texts[three.id], texts[one.id]]
    assert len(store.section_history(project, two.id)) == 1  # deleted row keeps its history


def test_continue_from_here_rewrites_the_rest_and_keeps_what_comes_before(db_path):
    store = Store(db_path)
    project, plan = _written_project(store)
    first = store.sections(project)[0]
    continue_from(store, project, 1)
    backend = FakeBackend(lambda request: "Rewritten ending. " + prose(39, seed=9))
    list(run_project(store, project, backend))
    sections = store.sections(project)
    assert sections[0].version_id == first.version_id
    assert all(s.text.startswith("Rewritten ending.") for s in sections[1:])
    assert len(store.section_history(project, plan.ids[2])) == 2


def test_rewrite_is_a_proposal_until_accepted(db_path):
    store = Store(db_path)
    project, plan = _written_project(store)
    section_id = plan.ids[1]
    old = store.sections(project)[1]
    backend = FakeBackend(["A darker version of the second section, full of storms."])
    events = list(rewrite_section(store, project, backend, section_id, "make it darker"))
    ready = events[-1]
    assert isinstance(ready, RevisionReady)
    assert ready.before == old.text
    assert ready.after == "A darker version of the second section, full of storms."
    assert store.sections(project)[1].version_id == old.version_id  # not current yet
    request = backend.requests[0]
    assert request.messages[-2] == {"role": "assistant", "content": old.text}
    assert "make it darker" in request.messages[-1]["content"]
    assert request.no_repeat_reply_only  # the old version's words may be reused

    accept_version(store, project, section_id, ready.version_id)
    assert store.sections(project)[1].text == ready.after
    history = store.section_history(project, section_id)
    assert [v.version_id for v in history][-1] == ready.version_id
    assert old.version_id in {v.version_id for v in history}
    with pytest.raises(UserError, match="another section"):
        accept_version(store, project, plan.ids[0], ready.version_id)


def test_rewriting_a_passage_changes_only_the_passage(db_path):
    store = Store(db_path)
    plan = Plan(sections=[_row("One", 30)])
    project = store.create_project("Passage", INSTRUCTION, 30)
    store.save_plan(project, plan)
    text = "The lamp was lit at dusk. The sea was calm and grey. The keeper slept."
    store.save_section(store.start_section(project, plan.ids[0], text), text, 10, done=True)
    passage = find_passage(text, "The sea", "and grey.")
    assert text[passage.start : passage.end] == "The sea was calm and grey."
    backend = FakeBackend(["The sea heaved black under a starless sky."])
    events = list(rewrite_section(store, project, backend, plan.ids[0], "make it stormy", passage))
    assert events[-1].after == (
        "The lamp was lit at dusk. The sea heaved black under a starless sky. The keeper slept."
    )
    assert "The sea was calm and grey." in backend.requests[0].messages[-1]["content"]
    with pytest.raises(UserError, match="no passage starting"):
        find_passage(text, "The moon")


def test_length_words_in_the_instruction_set_the_budget(db_path):
    assert revision_target("cut to 300 words", 800) == (300, True)
    assert revision_target("压缩到200字", 500) == (200, True)
    assert revision_target("shorten it by half", 800) == (400, True)
    assert revision_target("make it darker", 800) == (800, False)

    store = Store(db_path)
    project, plan = _written_project(store)
    backend = FakeBackend([prose(200, seed=4)])
    events = list(rewrite_section(store, project, backend, plan.ids[0], "expand to 60 words"))
    words = events[-2].stats.words
    assert 54 <= words <= 66  # within 10 % of 60, though the model ran on to 200


def test_a_stopped_regeneration_leaves_the_previous_version_current(db_path):
    store = Store(db_path)
    project, plan = _written_project(store)
    current = store.sections(project)[0]
    stream = regenerate_section(store, project, FakeBackend([prose(40)]), plan.ids[0])
    next(stream)
    next(stream)
    stream.close()
    assert store.sections(project)[0].version_id == current.version_id
    assert store.section_history(project, plan.ids[0])[-1].status == "writing"
