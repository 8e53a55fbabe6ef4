"""The read-through's model checks on the real embedded model, end to end (the mechanism only:
a 135M model's editorial judgement means nothing): a project the model wrote, one schema-held
request per section, every kept finding quoting its section word for word, the rest counted as
dropped, and a later-chapters check after a bible edit."""


import pytest

from engine.review.findings import stored_findings
from engine.review.later import changes_since_review, check_later
from engine.review.run import ReviewFinished, review_project
from engine.schema import Plan, PlanSection, SamplingSettings, WriteSettings
from engine.session import run_project
from engine.store import Store

pytestmark = pytest.mark.slow

BIBLE = "## Anna\nThe clockmaker, seventy, green-eyed, left-handed."


def test_the_model_reads_each_section_and_every_kept_quote_is_in_it(backend, db_path):
    store = Store(db_path)
    plan = Plan(
        sections=[
            PlanSection(title="The job", main_point="The mayor hires Anna to fix it.", words=60),
            PlanSection(title="The fix", main_point="Anna finds a nest in the gears.", words=60),
        ]
    )
    settings = WriteSettings(sampling=SamplingSettings(seed=4))
    project = store.create_project(
        "Clock", "A short story about a clockmaker.", 120, BIBLE, settings
    )
    store.save_plan(project, plan)
    list(run_project(store, project, backend))

    events = list(review_project(store, project, backend))
    finished = events[-1]
    assert isinstance(finished, ReviewFinished)
    assert finished.model_read == 2
    texts = {s.section_id: s.text for s in store.sections(project)}
    model = [f for f in stored_findings(store, project) if f.source == "model"]
    for finding in model:
        assert finding.quote in texts[finding.section_id]
    print(f"kept {len(model)}, dropped {finished.dropped}")
    again = list(review_project(store, project, backend))[-1]
    assert again.model_read == 0 and again.model_skipped == 2

    project = store.update_project(project, bible=BIBLE.replace("green-eyed", "blue-eyed"))
    changes = changes_since_review(store, project)
    assert [c.what for c in changes] == ["bible entry “Anna”"]
    later = list(check_later(store, project, changes, backend))[-1]
    mentioning = [s for s in texts.values() if "Anna" in s]
    assert later.model_read == len(mentioning)
    for finding in stored_findings(store, project):
        assert finding.quote in texts[finding.section_id]
