"""What a press applies to: the project it was pressed on, the page it came from, and the
versions it was based on (what the page showed), which the engine checks before it writes.

A Target travels through the page as JSON in a hidden field, so its value is the one the page
held at the press, not the one the server holds when a queued job's turn comes.
"""

import json
from dataclasses import asdict, dataclass, field, replace

from engine.store.database import Project, Versions


@dataclass(frozen=True)
class Target:
    project_id: int
    name: str = ""
    page: str = ""  # the browser page that pressed (Stop there stops this job only)
    ticket: str = ""  # this press's place in the studio's queue of waiting generations
    # what the action was based on ("brief", "plan", "section:<id>" -> version), for the
    # engine's stale-write checks; empty when unknown (then nothing is checked). A project
    # without a plan has no "plan" key.
    versions: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, project: Project, versions: Versions | None = None) -> "Target":
        """The project as a page shows it, based on `versions` (the store's, read then)."""
        return cls(project.id, project.name, versions=encode(versions) if versions else {})

    def based_on(self) -> Versions | None:
        """The versions for the engine's checks (None when unknown: nothing is checked)."""
        return decode(self.project_id, self.versions)

    def with_versions(self, versions: Versions | None) -> "Target":
        return replace(self, versions=encode(versions) if versions else {})

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    def pressed(self, page: str, ticket: str) -> "Target":
        return replace(self, page=page or "", ticket=ticket)

    @classmethod
    def parse(cls, value) -> "Target | None":
        """The Target a handler got: JSON from the page, a project id (callers without a
        page: tests, the CLI), or nothing when no project is open."""
        if value is None or value == "":
            return None
        if isinstance(value, Target):
            return value
        if isinstance(value, int | float):
            return cls(int(value))
        fields = json.loads(value)
        if isinstance(fields, int):
            return cls(fields)
        return cls(
            project_id=int(fields["project_id"]),
            name=str(fields.get("name", "")),
            page=str(fields.get("page", "")),
            ticket=str(fields.get("ticket", "")),
            versions={str(k): int(v) for k, v in (fields.get("versions") or {}).items()},
        )


def encode(versions: Versions) -> dict[str, int]:
    """Versions as a flat map that travels as JSON."""
    flat = {"brief": versions.brief}
    if versions.plan is not None:
        flat["plan"] = versions.plan
    flat.update({f"section:{sid}": vid for sid, vid in versions.sections.items()})
    return flat


def decode(project_id: int, flat: dict[str, int]) -> Versions | None:
    if "brief" not in flat:
        return None
    sections = {k.split(":", 1)[1]: v for k, v in flat.items() if k.startswith("section:")}
    return Versions(project_id, flat["brief"], flat.get("plan"), sections)
