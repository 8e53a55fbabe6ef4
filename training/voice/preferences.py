"""The writer's own choices in the studio as preference pairs (TRL's conversational format).

The store keeps every version of every section, oldest first, and which one is current. The
current version is the writer's choice; it is paired against:
- when it is a hand edit (a version the model did not write: no output tokens), the latest
  model version before it, the text the writer edited;
- when it is a model version (an accepted rewrite, a kept regeneration), every other finished
  model version of the section: the text it replaced and the proposals the writer discarded.
Each pair's prompt is the request the studio sends to write that section after the current
text of the sections before it, so DPO sees the same prompts as SFT and as writing.
Pairs come out in plan order, and within a section in the order the rejected versions were made.
"""

import json
from pathlib import Path

from engine.models.backends.base import Backend
from engine.projects.run import project_brief
from engine.store.database import Section, Store
from training.voice.data import studio_conversations

PREFERENCES_FILE = "preferences.jsonl"


def rejected_versions(history: list[Section], current: Section) -> list[Section]:
    """The versions the current one was chosen over (see the module's rules)."""
    finished = [v for v in history if v.status == "done" and v.version_id != current.version_id]
    by_model = [v for v in finished if v.output_tokens > 0]
    if current.output_tokens == 0:  # a hand edit (or imported text) of the model's text
        before = [v for v in by_model if v.version_id < current.version_id]
        return before[-1:]
    return by_model


def project_pairs(store: Store, name: str, backend: Backend) -> list[dict]:
    """The preference pairs of one project, in plan order."""
    project = store.project(name)
    plan = store.plan(project)
    if plan is None:
        return []
    current = {s.section_id: s for s in store.sections(project, plan)}
    texts = [current[row.id].text if row.id in current else "" for row in plan.sections]
    prompts = dict(
        studio_conversations(backend, project_brief(store, project, plan, backend), texts)
    )
    pairs = []
    for index, row in enumerate(plan.sections):
        chosen = current.get(row.id)
        if chosen is None or chosen.status != "done":
            continue
        for rejected in rejected_versions(store.section_history(project, row.id), chosen):
            if rejected.text.strip() == chosen.text.strip():
                continue
            pairs.append(
                {
                    "prompt": prompts[index],
                    "chosen": [{"role": "assistant", "content": chosen.text}],
                    "rejected": [{"role": "assistant", "content": rejected.text}],
                    "project": project.name,
                    "section_id": row.id,
                    "chosen_version": chosen.version_id,
                    "rejected_version": rejected.version_id,
                }
            )
    return pairs


def export_preferences(store: Store, sources: list[str], backend: Backend, out: Path) -> int:
    """Write the pairs of every project among `sources` (files are skipped) to
    out/preferences.jsonl; returns how many there are."""
    pairs = []
    for source in sources:
        if Path(source).suffix or Path(source).is_file():
            continue
        pairs += project_pairs(store, source, backend)
    out.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(pair, ensure_ascii=False) + "\n" for pair in pairs)
    (out / PREFERENCES_FILE).write_text(lines, encoding="utf-8")
    return len(pairs)
