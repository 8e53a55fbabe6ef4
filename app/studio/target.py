"""What a press applies to: the project it was pressed on, the page it came from, and (once
the engine checks them) the versions it was based on.

A Target travels through the page as JSON in a hidden field, so its value is the one the page
held at the press, not the one the server holds when a queued job's turn comes.
"""

import json
from dataclasses import asdict, dataclass, field, replace


@dataclass(frozen=True)
class Target:
    project_id: int
    name: str = ""
    page: str = ""  # the browser page that pressed (Stop there stops this job only)
    ticket: str = ""  # this press's place in the studio's queue of waiting generations
    # what the action was based on ("brief", "plan", "section:<id>" -> version), for the
    # engine's stale-write checks; empty until the engine reports versions
    versions: dict[str, int] = field(default_factory=dict)

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
