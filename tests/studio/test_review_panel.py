"""The Review tab's handlers on a real Gradio layout, a real SQLite file and the scripted fake
backend: findings by chapter, a click marks the passage, Dismiss hides it, the model's finding
with a real quote reaches the table while a made-up one is dropped and counted, Fix this rewrites
that passage through the rewrite-and-diff flow, and Check later chapters after a bible edit."""

import json

import pytest

from app.studio.model_host import ModelHost
from app.studio.panels import review, section_tools
from app.studio.state import Studio
from app.studio.ui import screen
from engine.errors import UserError
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
def s(studio):
    return screen(studio)[1]


def test_findings_by_chapter_click_marks_the_passage_and_dismiss_hides_it(studio, s):
    w = s.review
    shown = list(review.review(studio, w, studio.project_id, False))[-1]
    rows = shown[w.table]["data"]
    assert [r[:2] + r[3:5] for r in rows] == [
        ["Arrival", "2. Scene 2", "repeated sentence", TEXTS[0]]
    ]
    assert "1 open finding" in shown[w.progress]
    chosen = review.choose(studio, w, studio.project_id, shown[w.ids], _Select(0))
    assert f"<mark>{TEXTS[0]}</mark>" in chosen[w.passage]
    assert chosen[w.passage].startswith("<div class='lw-review-text'>The keeper found")
    after = review.dismiss(studio, w, studio.project_id, chosen[w.chosen])
    assert after[w.table]["data"] == []
    reopened = w.view_of(studio, studio.store.project("Tale"))
    assert reopened[w.table]["data"] == []  # stored: dismissed stays dismissed


def test_a_model_finding_reaches_the_table_and_fix_this_shows_a_diff_of_its_passage(studio, s):
    w, tools, run = s.review, s.sections, s.shared.run
    updates = list(review.review(studio, w, studio.project_id, True))
    final = updates[-1]
    assert "3 of its finding(s) were dropped" in final[w.progress]
    rows = final[w.table]["data"]
    assert [r[3:5] for r in rows] == [["repeated sentence", TEXTS[0]], ["plan", REAL_QUOTE]]
    chosen = review.choose(studio, w, studio.project_id, final[w.ids], _Select(1))
    fixing = list(review.fix(studio, s.shared, studio.project_id, chosen[w.chosen]))
    assert fixing[0][s.shared.tabs]["selected"] == "write-tab"
    assert fixing[0][tools.tools]["open"] is True
    assert (
        fixing[0][tools.section]["value"] == studio.store.plan(studio.store.project("Tale")).ids[1]
    )
    assert fixing[0][tools.revise_instruction] == "Fix this: Off plan. Cut."
    done = fixing[-1]
    assert done[tools.revise_box]["visible"] is True
    assert "<del>" in done[tools.revise_diff] and "gull" in done[tools.revise_diff]
    proposal = done[tools.proposal]
    section_tools.accept(studio, tools, run, studio.project_id, proposal)
    text = studio.store.sections(studio.store.project("Tale"))[1].text
    assert text.startswith("A gull dropped a letter on the deck.") and TEXTS[0] in text
    rows = w.view_of(studio, studio.store.project("Tale"))[w.table]["data"]
    assert [r[3] for r in rows] == ["repeated sentence"]  # the fixed passage is gone


def test_a_finding_clicked_while_a_review_runs_stays_chosen_after_it(studio, s):
    w = s.review
    first = list(review.review(studio, w, studio.project_id, False))[-1]
    clicked = review.choose(studio, w, studio.project_id, first[w.ids], _Select(0))[w.chosen]
    ended = list(review.review(studio, w, studio.project_id, True))[-1]
    assert w.chosen not in ended  # the review's end leaves the choice to chosen_again
    kept = review.chosen_again(studio, w, studio.project_id, clicked)
    assert kept[w.chosen] in {str(i) for i in ended[w.ids]}
    assert f"<mark>{TEXTS[0]}</mark>" in kept[w.passage]
    review.dismiss(studio, w, studio.project_id, kept[w.chosen])
    gone = review.chosen_again(studio, w, studio.project_id, kept[w.chosen])
    assert gone == {w.chosen: "", w.passage: ""}


def test_fix_this_needs_a_finding(studio, s):
    with pytest.raises(UserError, match="finding"):
        list(review.fix(studio, s.shared, studio.project_id, ""))


def test_check_later_chapters_after_a_rename(studio, s):
    w = s.review
    list(review.review(studio, w, studio.project_id, False))
    nothing = list(review.later(studio, w, studio.project_id, False))[-1]
    assert "Nothing changed" in nothing[w.progress]
    project = studio.store.project("Tale")
    studio.store.update_project(project, bible="## Tomas\nThe ferryman.")
    shown = list(review.later(studio, w, studio.project_id, False))[-1]
    assert "bible entry “Tobias”" in shown[w.progress]
    kinds = [r[3] for r in shown[w.table]["data"]]
    assert "after a change" in kinds
