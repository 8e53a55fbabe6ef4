"""`voice data --preferences`: the writer's accepted rewrites and hand edits come out as
preference pairs in plan order, each naming the right section versions, with the studio's own
writing request as the prompt. `voice train --dpo` skips DPO under 20 pairs."""

import json

from engine.projects.revise import accept_version
from engine.projects.service import create_project
from engine.schema import Plan, PlanSection
from engine.store.database import Store
from harness.fake_backend import FakeBackend, prose
from training.voice.preferences import PREFERENCES_FILE, export_preferences
from training.voice.train import MIN_DPO_PAIRS, VoiceSettings, run_voice_dpo


def version(store, project, section_id, text, tokens, current=True):
    """A finished version: the model's (tokens > 0) or the writer's own (0)."""
    version_id = store.start_section(project, section_id, text, make_current=current)
    store.save_section(version_id, text, tokens, done=True)
    return version_id


def test_pairs_come_out_in_order_with_the_right_versions(tmp_path):
    store = Store(tmp_path / "p.db")
    rows = [PlanSection(title=f"Part {i}", main_point=f"Point {i}.", words=60) for i in (1, 2, 3)]
    plan = Plan(sections=rows)
    project = create_project(store, "tale", "Write a 180-word tale.", 180, plan=plan)
    a, b, c = (row.id for row in rows)
    # Part 1, the model's text, later edited by hand: the edit beats the model's text
    a_model = version(store, project, a, prose(60, 1), 80)
    a_edit = version(store, project, a, "My own opening. " + prose(50, 1), 0)
    # Part 2: a rewrite accepted over the first draft; a second proposal discarded
    b_draft = version(store, project, b, prose(60, 2), 80)
    b_rewrite = version(store, project, b, prose(60, 3), 85, current=False)
    accept_version(store, project, b, b_rewrite)
    b_discarded = version(store, project, b, prose(60, 4), 90, current=False)
    # Part 3: only the model's text, never changed: nothing to prefer
    version(store, project, c, prose(60, 5), 80)
    backend = FakeBackend()
    count = export_preferences(store, ["tale"], backend, tmp_path / "data")
    pairs = [json.loads(line) for line in (tmp_path / "data" / PREFERENCES_FILE).open()]
    assert count == 3
    order = [(p["section_id"], p["chosen_version"], p["rejected_version"]) for p in pairs]
    assert order == [(a, a_edit, a_model), (b, b_rewrite, b_draft), (b, b_rewrite, b_discarded)]
    texts = {v.version_id: v.text for s in (a, b) for v in store.section_history(project, s)}
    for pair, (_, chosen, rejected) in zip(pairs, order, strict=True):
        assert pair["chosen"] == [{"role": "assistant", "content": texts[chosen]}]
        assert pair["rejected"] == [{"role": "assistant", "content": texts[rejected]}]
    # the prompt is the studio's request for the section, after the current text before it
    assert 'section 1 of 3, "Part 1"' in pairs[0]["prompt"][-1]["content"]
    b_prompt = pairs[1]["prompt"]
    assert 'section 2 of 3, "Part 2"' in b_prompt[-1]["content"]
    assert b_prompt[-2] == {"role": "assistant", "content": texts[a_edit]}


def test_dpo_is_skipped_under_twenty_pairs(tmp_path):
    pair = {
        "prompt": [{"role": "user", "content": "Write."}],
        "chosen": [{"role": "assistant", "content": "Yes."}],
        "rejected": [{"role": "assistant", "content": "No."}],
    }
    path = tmp_path / PREFERENCES_FILE
    path.write_text((json.dumps(pair) + "\n") * (MIN_DPO_PAIRS - 1))
    assert run_voice_dpo(path, tmp_path / "voice", VoiceSettings()) == 0
    assert not (tmp_path / "voice").exists()
