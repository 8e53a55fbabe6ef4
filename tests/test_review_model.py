"""The read-through's model checks on the real embedded model, end to end (the mechanism only:
a 135M model's editorial judgement means nothing): a two-section story, one schema-held
request per section, every kept finding quoting its section word for word, the rest counted as
dropped, and a later-chapters check after a section edit."""

import pytest

from engine.review.findings import stored_findings
from engine.review.later import changes_since_review, check_later
from engine.review.run import ReviewFinished, review_project
from engine.schema import Plan, PlanSection
from engine.store.database import Store

pytestmark = pytest.mark.slow

BIBLE = "## Anna\nThe clockmaker, seventy, green-eyed, left-handed."


TEXTS = [
    "Anna climbed the tower stairs with her toolbag. The mayor waited at the top, counting "
    "the minutes the clock had lost since spring. She opened the case and looked at the gears.",
    "Inside the gears sat a nest of twigs and string. Anna lifted it out with her left hand "
    "and set it on the sill, and the pendulum swung free again for the first time in weeks.",
]


def test_the_model_reads_each_section_and_every_kept_quote_is_in_it(backend, db_path):
    store = Store(db_path)
    plan = Plan(
        sections=[
            PlanSection(title="The job", main_point="The mayor hires Anna to fix it.", words=30),
            PlanSection(title="The fix", main_point="Anna finds a nest in the gears.", words=30),
        ]
    )
    project = store.create_project("Clock", "A short story about a clockmaker.", 60, BIBLE)
    store.save_plan(project, plan)
    for row, text in zip(plan.sections, TEXTS, strict=True):
        _edit(store, project, row.id, text)

    finished = list(review_project(store, project, backend))[-1]
    assert isinstance(finished, ReviewFinished)
    assert finished.model_read == 2
    model = [f for f in stored_findings(store, project) if f.source == "model"]
    for finding in model:
        assert finding.quote in TEXTS[plan.ids.index(finding.section_id)]
    print(f"kept {len(model)}, dropped {finished.dropped}")
    again = list(review_project(store, project, backend))[-1]
    assert again.model_read == 0 and again.model_skipped == 2

    # the writer edits the first section: the model checks the second against the change
    _edit(store, project, plan.ids[0], TEXTS[0].replace("toolbag", "toolbox"))
    changes = changes_since_review(store, project)
    assert [c.what for c in changes] == ["section 1 (“The job”)"]
    later = list(check_later(store, project, changes, backend))[-1]
    assert later.model_read == 1
    for finding in stored_findings(store, project):
        assert finding.quote in store.sections(project)[plan.ids.index(finding.section_id)].text


def _edit(store, project, section_id, text):
    version = store.start_section(project, section_id, text)
    store.save_section(version, text, 0, done=True)
