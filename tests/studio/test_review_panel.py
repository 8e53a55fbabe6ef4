"""The Review tab's handlers on a real Gradio layout, a real SQLite file and the scripted fake
backend: findings by chapter, a click marks the passage, Dismiss hides it, the model's finding
with a real quote reaches the table while a made-up one is dropped and counted, Fix this rewrites
that passage through the rewrite-and-diff flow, and Check later chapters after a bible edit."""

import json

import pytest

from app.studio import review_panel, section_tools
from app.studio.model_host import ModelHost
from app.studio.state import Studio
from app.studio.ui import screen
from engine.schema import Chapter, Plan, PlanSection
from harness.fake_backend import FakeBackend

TEXTS = [
    "Mara climbed the tower at dusk and counted the steps to the lamp room twice.",
    "The keeper found a letter in the boat. Mara climbed the tower at dusk and counted the "
    "steps to the lamp room twice.",
    "Tobias rowed across the bay with the letter folded in his coat pocket.",
]
REAL_QUOTE = "The keeper found a letter in the boat."


def _model(request) -> str:
    if request.json_schema:  # a review: one made-up quote, one real one in section 2
        prompt = request.messages[-1]["content"]
        rows = [
            {"kind": "bible", "quote": "words nowhere at all", "problem": "P", "suggestion": ""}
        ]
        if REAL_QUOTE in prompt:
            rows.append(
                {"kind": "plan", "quote": REAL_QUOTE, "problem": "Off plan.", "suggestion": "Cut."}
            )
        return json.dumps({"findings": rows})
    return "A gull dropped a letter on the deck."  # the rewritten passage


class _Select:
    def __init__(self, row):
        self.index = [row, 0]


@pytest.fixture
def studio(db_path):
    backend = FakeBackend(_model)
    studio = Studio(db_path, ModelHost.serving(backend))
    studio.backend = backend
    store = studio.store
    chapters = [
        Chapter(title="Arrival", summary="x", words=30),
        Chapter(title="Sea", summary="y", words=13),
    ]
    rows = [
        PlanSection(
            title=f"Scene {i + 1}",
            main_point="z",
            words=len(t.split()),
            chapter=chapters[min(i, 2) // 2].id,
        )
        for i, t in enumerate(TEXTS)
    ]
    project = store.create_project("Tale", "Write a tale.", 43, "## Tobias\nThe ferryman.")
    store.save_plan(project, Plan(chapters=chapters, sections=rows))
    for row, text in zip(rows, TEXTS, strict=True):
        version = store.start_section(project, row.id, text)
        store.save_section(version, text, 0, done=True)
    studio.project_id = project.id
    return studio


@pytest.fixture
def w(studio):
    return screen(studio)[1]


def test_findings_by_chapter_click_marks_the_passage_and_dismiss_hides_it(studio, w):
    shown = list(review_panel.review(studio, w, studio.project_id, False))[-1]
    rows = shown[w.review_table]["data"]
    assert [r[:2] + r[3:5] for r in rows] == [
        ["Arrival", "2. Scene 2", "repeated sentence", TEXTS[0]]
    ]
    assert "1 open finding" in shown[w.review_progress]
    chosen = review_panel.choose(studio, w, studio.project_id, shown[w.review_ids], _Select(0))
    assert f"<mark>{TEXTS[0]}</mark>" in chosen[w.review_passage]
    assert chosen[w.review_passage].startswith("<div class='lw-review-text'>The keeper found")
    after = review_panel.dismiss(studio, w, studio.project_id, chosen[w.review_chosen])
    assert after[w.review_table]["data"] == []
    reopened = review_panel.view_of(studio, w, studio.store.project("Tale"))
    assert reopened[w.review_table]["data"] == []  # stored: dismissed stays dismissed


def test_a_model_finding_reaches_the_table_and_fix_this_shows_a_diff_of_its_passage(studio, w):
    updates = list(review_panel.review(studio, w, studio.project_id, True))
    final = updates[-1]
    assert "3 of its finding(s) were dropped" in final[w.review_progress]
    rows = final[w.review_table]["data"]
    assert [r[3:5] for r in rows] == [["repeated sentence", TEXTS[0]], ["plan", REAL_QUOTE]]
    chosen = review_panel.choose(studio, w, studio.project_id, final[w.review_ids], _Select(1))
    fixing = list(review_panel.fix(studio, w, studio.project_id, chosen[w.review_chosen]))
    assert fixing[0][w.section]["value"] == studio.store.plan(studio.store.project("Tale")).ids[1]
    assert fixing[0][w.revise_instruction] == "Fix this: Off plan. Cut."
    done = fixing[-1]
    assert done[w.revise_box]["visible"] is True
    assert "<del>" in done[w.revise_diff] and "gull" in done[w.revise_diff]
    proposal = done[w.proposal]
    section_tools.accept(studio, w, studio.project_id, proposal)
    text = studio.store.sections(studio.store.project("Tale"))[1].text
    assert text.startswith("A gull dropped a letter on the deck.") and TEXTS[0] in text
    rows = review_panel.view_of(studio, w, studio.store.project("Tale"))[w.review_table]["data"]
    assert [r[3] for r in rows] == ["repeated sentence"]  # the fixed passage is gone


def test_check_later_chapters_after_a_rename(studio, w):
    list(review_panel.review(studio, w, studio.project_id, False))
    nothing = list(review_panel.later(studio, w, studio.project_id, False))[-1]
    assert "Nothing changed" in nothing[w.review_progress]
    project = studio.store.project("Tale")
    studio.store.update_project(project, bible="## Tomas\nThe ferryman.")
    shown = list(review_panel.later(studio, w, studio.project_id, False))[-1]
    assert "bible entry “Tobias”" in shown[w.review_progress]
    kinds = [r[3] for r in shown[w.review_table]["data"]]
    assert "after a change" in kinds
