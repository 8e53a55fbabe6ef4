"""Findings and their storage: each one is a section, a kind, a severity, a verbatim quote
from the section and a suggestion; stored with the project, `open` or `dismissed`.

A finding's key (its source, kind, section and quote) survives a re-run: a finding the writer
dismissed stays dismissed when the same check finds it again.
"""

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel

from engine.errors import UserError
from engine.store.database import Project, Store

Kind = Literal[
    "name", "repeat", "overuse", "pov", "tense", "length", "plan", "bible", "recap", "change"
]
Severity = Literal["high", "medium", "low"]
State = Literal["open", "dismissed"]
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


class Finding(BaseModel):
    """What the read-through flags; `source` is "rules" (no model) or "model"."""

    section_id: str
    kind: Kind
    severity: Severity
    quote: str
    suggestion: str
    source: Literal["rules", "model", "later"] = "rules"
    id: int | None = None
    state: State = "open"

    @property
    def key(self) -> str:
        raw = json.dumps([self.source, self.kind, self.section_id, " ".join(self.quote.split())])
        return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:16]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def replace_findings(
    store: Store,
    project: Project,
    source: str,
    findings: Iterable[Finding],
    section_ids: Iterable[str] | None = None,
) -> None:
    """Put `findings` in place of the stored ones of `source` (for the given sections only,
    when named); a finding dismissed before stays dismissed."""
    findings = list(findings)
    where, params = "project_id = ? and source = ?", [project.id, source]
    if section_ids is not None:
        ids = list(section_ids)
        where += f" and section_id in ({','.join('?' * len(ids))})"
        params += ids
    with store.db.conn:
        dismissed = {
            row[0]
            for row in store.db.execute(
                f"select key from review_findings where {where} and state = 'dismissed'", params
            )
        }
        store.db.execute(f"delete from review_findings where {where}", params)
        for finding in findings:
            state = "dismissed" if finding.key in dismissed else "open"
            store.db.execute(
                "insert into review_findings (project_id, section_id, source, kind, severity, "
                "quote, suggestion, key, state, created_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    project.id,
                    finding.section_id,
                    source,
                    finding.kind,
                    finding.severity,
                    finding.quote,
                    finding.suggestion,
                    finding.key,
                    state,
                    _now(),
                ],
            )


def stored_findings(store: Store, project: Project, include_dismissed: bool = False) -> list:
    """The project's findings in plan order, the most severe first within a section. A finding
    whose passage is no longer in its section's current text (an edit or an accepted fix
    changed it), or whose section left the plan, points at nothing and is left out."""
    plan = store.plan(project)
    order = {section_id: i for i, section_id in enumerate(plan.ids if plan else [])}
    texts = {s.section_id: s.text for s in store.sections(project, plan)}
    rows = store.db.execute(
        "select id, section_id, source, kind, severity, quote, suggestion, state "
        "from review_findings where project_id = ?",
        [project.id],
    ).fetchall()
    findings = [
        Finding(
            id=row[0],
            section_id=row[1],
            source=row[2],
            kind=row[3],
            severity=row[4],
            quote=row[5],
            suggestion=row[6],
            state=row[7],
        )
        for row in rows
        if row[1] in order
        and row[5] in texts.get(row[1], "")
        and (include_dismissed or row[7] == "open")
    ]
    return sorted(
        findings, key=lambda f: (order[f.section_id], SEVERITY_ORDER[f.severity], f.id or 0)
    )


def set_state(store: Store, project: Project, finding_id: int, state: State) -> None:
    """Dismiss a finding (or open it again)."""
    with store.db.conn:
        changed = store.db.execute(
            "update review_findings set state = ? where id = ? and project_id = ?",
            [state, int(finding_id), project.id],
        ).rowcount
    if not changed:
        raise UserError(key="error.finding_gone")


def finding_by_id(store: Store, project: Project, finding_id: int) -> Finding:
    found = [f for f in stored_findings(store, project, True) if f.id == int(finding_id)]
    if not found:
        raise UserError(key="error.finding_gone")
    return found[0]


def passes(store: Store, project: Project, source: str) -> dict[str, tuple[int, str]]:
    """Section id -> (version id, context digest) that `source` last read."""
    rows = store.db.execute(
        "select section_id, version_id, context from review_passes "
        "where project_id = ? and source = ?",
        [project.id, source],
    ).fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}


def save_pass(
    store: Store,
    project: Project,
    source: str,
    section_id: str,
    version_id: int,
    context: str,
    findings: list[Finding],
) -> None:
    """Store one section's findings of `source` and mark the section read, together (a run
    killed after this resumes after this section)."""
    replace_findings(store, project, source, findings, [section_id])
    with store.db.conn:
        store.db.execute(
            "insert or replace into review_passes values (?, ?, ?, ?, ?)",
            [project.id, section_id, source, version_id, context],
        )


def snapshots(store: Store, project: Project, kind: str) -> dict[str, str]:
    rows = store.db.execute(
        "select key, text from review_snapshots where project_id = ? and kind = ?",
        [project.id, kind],
    ).fetchall()
    return dict(rows)


def save_snapshots(store: Store, project: Project, kind: str, texts: dict[str, str]) -> None:
    with store.db.conn:
        store.db.execute(
            "delete from review_snapshots where project_id = ? and kind = ?", [project.id, kind]
        )
        for key, text in texts.items():
            store.db.execute(
                "insert into review_snapshots values (?, ?, ?, ?)", [project.id, kind, key, text]
            )
