"""Revisions on the real embedded model: a rewrite with a length, and a passage rewrite that
leaves every other byte of the section as it was."""

import pytest

from engine.metrics import count_words
from engine.projects.revise import RevisionReady, accept_version, find_passage, rewrite_section
from engine.projects.run import run_project
from engine.schema import Plan, PlanSection, SamplingSettings, WriteSettings
from engine.store.database import Store

pytestmark = pytest.mark.slow

INSTRUCTION = "Write a short story about a clockmaker who repairs a town's tower clock."


def _written(store: Store, backend):
    plan = Plan(
        sections=[
            PlanSection(title="The job", main_point="The mayor hires Anna to fix it.", words=70),
            PlanSection(
                title="The fix", main_point="Anna finds a bird's nest in the gears.", words=70
            ),
        ]
    )
    settings = WriteSettings(sampling=SamplingSettings(seed=21))
    project = store.create_project("Clock", INSTRUCTION, 140, settings=settings)
    store.save_plan(project, plan)
    list(run_project(store, project, backend))
    return store.project("Clock"), plan


def test_rewrite_with_a_length_then_accept(backend, db_path):
    store = Store(db_path)
    project, plan = _written(store, backend)
    events = list(rewrite_section(store, project, backend, plan.ids[1], "cut to 40 words"))
    ready = events[-1]
    assert isinstance(ready, RevisionReady) and ready.after.strip()
    # never past the budget (105 % + 5 words), cut at a sentence end; how close it comes to 40
    # over many tries is bench.revise's figure (a long last sentence can undershoot)
    assert count_words(ready.after) <= 47 and ready.after.rstrip()[-1] in ".!?\"'”"
    assert count_words(ready.after) < count_words(ready.before)
    accept_version(store, project, plan.ids[1], ready.version_id)
    assert store.sections(project)[1].text == ready.after


def test_passage_rewrite_keeps_the_rest_byte_for_byte(backend, db_path):
    store = Store(db_path)
    project, plan = _written(store, backend)
    text = store.sections(project)[0].text
    words = text.split()
    first, last = " ".join(words[3:6]), " ".join(words[12:15])
    passage = find_passage(text, first, last)
    events = list(rewrite_section(store, project, backend, plan.ids[0], "make it funnier", passage))
    after = events[-1].after
    assert after.startswith(text[: passage.start])
    assert after.endswith(text[passage.end :])
    assert after != text
