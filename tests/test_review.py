"""The read-through: deterministic checks on a seeded book (recall and precision as in
bench/review.py), findings stored with their states, the model's checks on the scripted fake
backend (made-up quotes dropped and counted, resume, re-runs read only what changed), checking
later chapters after an edit, and `longwrite review`."""

import json

import pytest
from click.testing import CliRunner

from app.cli import cli
from bench import review as bench
from engine.errors import UserError
from engine.metrics import count_words
from engine.review.checks import ReviewSection, drift, read_through, voice
from engine.review.findings import set_state, stored_findings
from engine.review.later import changes_since_review, check_later
from engine.review.run import ReviewFinished, ReviewProgress, review_project
from engine.schema import Plan, PlanSection
from engine.store.database import Store
from engine.writing.bible import parse_bible
from harness.fake_backend import FakeBackend


def test_seeded_defects_are_found_at_their_places(db_path):
    report = bench.run(db_path, words=6_000, copies=2, seed=5)
    assert report["recall"] >= 0.9 and report["precision"] >= 0.8, report
    assert set(report["recall_by_kind"]) == set(bench.KINDS)
    store = Store(db_path)
    project = store.project("Seeded")
    texts = {s.section_id: s.text for s in store.sections(project)}
    for finding in stored_findings(store, project):
        assert finding.quote and finding.quote in texts[finding.section_id]


def _section(text: str, position: int = 0, target: int | None = None) -> ReviewSection:
    words = count_words(text)
    return ReviewSection(f"s{position}", position, f"S{position}", "x", target or words, text, 1)


PAST = "She walked to the door. He opened it and looked out. She said nothing. " * 4
PRESENT = "She walks to the door. He opens it and looks out. She says nothing. " * 4


def test_tense_and_point_of_view_drift_from_the_style_or_the_majority():
    assert voice(PAST).past is True and voice(PRESENT).past is False
    assert voice(PAST).first_person is False
    assert voice("I walked. I looked. I waited. " * 4 + "He nodded.").first_person is True
    # dialogue in the first person does not make third-person narration first person
    assert voice("“I know, I will,” she said. He nodded to her. " * 5).first_person is False
    assert voice("我走到门口，我看见她在等我。" * 3).first_person is True  # Chinese: 我 vs 他/她
    assert voice("“我知道。”她说。他看着她，她转身走了。" * 3).first_person is False
    sections = [_section(PAST, 0), _section(PAST, 1), _section(PRESENT, 2), _section(PAST, 3)]
    found = drift(sections, [])
    assert [(f.section_id, f.kind) for f in found] == [("s2", "tense")]
    assert found[0].quote == "She walks to the door."
    found = drift(sections, ["present"])
    assert {f.section_id for f in found} == {"s0", "s1", "s3"}


def test_names_near_the_bible_but_not_in_it():
    bible = parse_bible("## Maëlle Roux\nAliases: Maëlle\nThe pilot.\n\n## Ines\nA girl.")
    text = (
        "Maele rowed out. Maëlle rowed back. Ines laughed. Inés waved. Mark watched, and the "
        "Harbour was calm; a harbour is calm."
    )
    found = read_through([_section(text)], bible, [])
    names = [f for f in found if f.kind == "name"]
    assert [f.quote for f in names] == ["Maele rowed out.", "Inés waved."]
    assert "Maëlle" in names[0].suggestion


def test_sections_far_from_their_length_and_chinese_text():
    short = _section("他走到门口。她没有说话，只是看着窗外的海。", 0, target=200)
    found = read_through([short], [], [])
    assert [f.kind for f in found] == ["length"] and found[
        0
    ].quote == "她没有说话，只是看着窗外的海。"
    overused = _section("她轻轻叹了口气。他来了，她轻轻叹了口气，又笑了。她轻轻叹了口气走了。", 0)
    found = read_through([overused], [], [])
    assert [(f.kind, f.quote) for f in found] == [
        ("overuse", "她轻轻叹了口")
    ]  # phrases run to six words


def _project(store: Store, texts: list[str], bible: str = ""):
    plan = Plan(
        sections=[
            PlanSection(title=f"Part {i + 1}", main_point=f"Point {i + 1}.", words=count_words(t))
            for i, t in enumerate(texts)
        ]
    )
    project = store.create_project("Tale", "Write a tale.", plan.total_words, bible)
    store.save_plan(project, plan)
    for row, text in zip(plan.sections, texts, strict=True):
        _edit(store, project, row.id, text)
    return store.project("Tale"), plan


def _edit(store, project, section_id, text):
    version = store.start_section(project, section_id, text)
    store.save_section(version, text, 0, done=True)


TEXTS = [
    "Mara climbed the tower at dusk and counted the steps to the lamp room twice.",
    "The keeper found a letter in the boat. Mara climbed the tower at dusk and counted the "
    "steps to the lamp room twice.",
    "Tobias rowed across the bay with the letter folded in his coat pocket.",
]


def test_findings_are_stored_and_dismissed_ones_stay_dismissed(db_path):
    store = Store(db_path)
    project, plan = _project(store, TEXTS)
    list(review_project(store, project))
    found = stored_findings(store, project)
    assert [(f.section_id, f.kind) for f in found] == [(plan.ids[1], "repeat")]
    set_state(store, project, found[0].id, "dismissed")
    list(review_project(store, project))
    assert stored_findings(store, project) == []
    assert [f.state for f in stored_findings(store, project, True)] == ["dismissed"]
    with pytest.raises(UserError, match="no longer there"):
        set_state(store, project, 999, "dismissed")
    store.delete_project(project)
    assert store.db.execute("select count(*) from review_findings").fetchone()[0] == 0


def _model(request) -> str:
    """One made-up quote and one real one for every section."""
    text = request.messages[-1]["content"].split("<<<\n", 1)[1].split("\n>>>", 1)[0]
    real = " ".join(text.split()[:5])
    return json.dumps(
        {
            "findings": [
                {
                    "kind": "bible",
                    "quote": "a quote that is nowhere",
                    "problem": "P",
                    "suggestion": "S",
                },
                {"kind": "plan", "quote": real, "problem": "Off plan.", "suggestion": "Do it."},
            ]
        }
    )


def test_model_findings_must_quote_the_section_and_reruns_read_only_changes(db_path):
    store = Store(db_path)
    project, plan = _project(store, TEXTS, "## Mara\nThe keeper, old.")
    backend = FakeBackend(_model)
    events = list(review_project(store, project, backend))
    assert [e.done for e in events if isinstance(e, ReviewProgress)] == [0, 1, 2]
    finished = events[-1]
    assert isinstance(finished, ReviewFinished)
    assert finished.model_read == 3 and finished.dropped == 3
    model = [f for f in finished.findings if f.source == "model"]
    assert [f.quote for f in model] == [" ".join(t.split()[:5]) for t in TEXTS]
    assert backend.requests[0].json_schema["required"] == ["findings"]
    assert "The keeper, old." in backend.requests[0].messages[0]["content"]  # Mara is named
    assert "The keeper, old." not in backend.requests[2].messages[0]["content"]

    again = list(review_project(store, project, backend))[-1]
    assert again.model_read == 0 and again.model_skipped == 3
    _edit(store, project, plan.ids[2], "Tobias swam across the bay instead, letter and all.")
    again = list(review_project(store, project, backend))[-1]
    assert again.model_read == 1 and len(backend.requests) == 4


def test_a_killed_model_review_resumes_after_the_last_section_read(db_path):
    store = Store(db_path)
    project, _ = _project(store, TEXTS)
    backend = FakeBackend(_model)
    events = review_project(store, project, backend)
    for event in events:
        if isinstance(event, ReviewProgress) and event.done == 2:
            break  # the third section was never read
    events.close()
    resumed = list(review_project(store, project, backend))[-1]
    assert resumed.model_read == 1 and resumed.model_skipped == 2


def test_check_later_chapters_after_a_rename_in_the_bible(db_path):
    store = Store(db_path)
    project, plan = _project(store, TEXTS, "## Tobias\nThe ferryman.")
    list(review_project(store, project))
    assert changes_since_review(store, project) == []
    project = store.update_project(project, bible="## Tomas\nThe ferryman.")
    changes = changes_since_review(store, project)
    assert [c.what for c in changes] == ["bible entry “Tobias”", "bible entry “Tomas”"]
    finished = list(check_later(store, project, changes))[-1]
    later = [f for f in finished.findings if f.source == "later"]
    assert [(f.section_id, f.quote) for f in later] == [(plan.ids[2], TEXTS[2])]
    assert "Tobias" in later[0].suggestion
    assert changes_since_review(store, project) == []  # seen now


def test_check_later_after_editing_a_scene_uses_the_model(db_path):
    store = Store(db_path)
    project, plan = _project(store, TEXTS)
    list(review_project(store, project))
    _edit(store, project, plan.ids[0], "Mara never climbed the tower; she stayed below.")
    changes = changes_since_review(store, project)
    assert [c.what for c in changes] == ["section 1 (“Part 1”)"]
    backend = FakeBackend(_model)
    finished = list(check_later(store, project, changes, backend))[-1]
    assert finished.model_read == 2 and finished.dropped == 2  # the two sections after it
    prompt = backend.requests[0].messages[0]["content"]
    assert "Mara climbed the tower" in prompt and "Mara never climbed" in prompt
    assert {f.kind for f in finished.findings if f.source == "later"} == {"change"}


def test_review_command_lists_findings_and_json_and_dismisses(db_path):
    store = Store(db_path)
    project, plan = _project(store, TEXTS)
    runner = CliRunner()
    result = runner.invoke(cli, ["review", "Tale", "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    assert "2. Part 2" in result.output and "repeat" in result.output
    result = runner.invoke(cli, ["review", "Tale", "--json", "--db", str(db_path)])
    findings = json.loads(result.stdout)
    assert [f["kind"] for f in findings] == ["repeat"]
    result = runner.invoke(
        cli, ["review", "Tale", "--dismiss", str(findings[0]["id"]), "--db", str(db_path)]
    )
    assert result.exit_code == 0
    result = runner.invoke(cli, ["review", "Tale", "--json", "--db", str(db_path)])
    assert json.loads(result.stdout) == []


def test_review_of_an_unwritten_project_is_one_line(db_path):
    store = Store(db_path)
    project = store.create_project("Empty", "Write a tale.", 100)
    store.save_plan(project, Plan(sections=[PlanSection(title="A", main_point="B", words=100)]))
    result = CliRunner().invoke(cli, ["review", "Empty", "--db", str(db_path)])
    assert result.exit_code == 2 and "write it first" in result.output
