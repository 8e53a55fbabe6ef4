"""Carry a change forward: after the writer edits a bible entry, a chapter's recap or a scene,
check the later sections against that change.

What changed is found against what the last read-through saw (it keeps each section's version,
the bible and the recaps). Each later section is checked without a model for what the change
removed and it still says (a renamed character's old name, a phrase of the old recap), and,
with a backend, by the model given the old and the new text.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass

from engine.models.backends.base import Backend
from engine.prompts import language_of, render
from engine.review import findings as stored
from engine.review.checks import STOPWORDS, ReviewSection, find_phrase, sentence_at, words_of
from engine.review.findings import Finding
from engine.review.model_checks import check_section, section_context
from engine.review.run import ReviewFinished, ReviewProgress, book_sections, review_rules
from engine.store.database import Project, Store
from engine.writing.bible import parse_bible

MAX_CHANGE_CHARS = 1_500  # of the old and of the new text, in a prompt


@dataclass
class Change:
    """One edit since the last read-through: what it was, and which sections come after it."""

    what: str  # "bible entry “Mara”", "recap of chapter 3", "section 4 (“The ferry”)"
    old: str
    new: str
    names: tuple[str, ...] = ()  # a bible entry's names: the sections that name it are checked
    after: int = -1  # plan position: the sections after it are checked


def changes_since_review(store: Store, project: Project) -> list[Change]:
    """Bible entries, recaps and sections edited since the last read-through."""
    plan = store.plan(project)
    snapshot = stored.snapshots(store, project, "bible")
    if plan is None or "" not in snapshot:
        return []
    changes = []
    old = {e.name: e for e in parse_bible(snapshot[""])}
    new = {e.name: e for e in parse_bible(project.bible)}
    for name in [*old, *(n for n in new if n not in old)]:
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        changes.append(
            Change(
                f"bible entry “{name}”",
                before.render() if before else "",
                after.render() if after else "",
                names=_names(before, after),
            )
        )
    recaps = {cid: r.text for cid, r in store.recaps(project).items()}
    for chapter_id, text in stored.snapshots(store, project, "recap").items():
        if recaps.get(chapter_id, "") != text and chapter_id in {c.id for c in plan.chapters}:
            scenes = plan.scene_range(chapter_id)
            number = plan.chapter_index(chapter_id) + 1
            changes.append(
                Change(
                    f"recap of chapter {number}",
                    text,
                    recaps.get(chapter_id, ""),
                    after=scenes.stop - 1,
                )
            )
    read = stored.passes(store, project, "rules")
    for section in store.sections(project, plan):
        version = read.get(section.section_id)
        if version is None or version[0] == section.version_id or section.status != "done":
            continue
        old_text = next(
            (
                v.text
                for v in store.section_history(project, section.section_id)
                if v.version_id == version[0]
            ),
            "",
        )
        title = plan.sections[section.idx].title
        changes.append(
            Change(
                f"section {section.idx + 1} (“{title}”)", old_text, section.text, after=section.idx
            )
        )
    return changes


def _names(*entries) -> tuple[str, ...]:
    """An entry's names and aliases, and each capitalized word of them ("Tobias Wren" is
    often just "Tobias")."""
    names = {n for e in entries if e for n in (e.name, *e.aliases) if n.strip()}
    parts = {p for n in names for p in n.split() if p[:1].isupper() and len(p) > 2}
    return tuple(sorted(names | parts))


def later_sections(sections: list[ReviewSection], change: Change) -> list[ReviewSection]:
    if change.names:
        pattern = "|".join(
            re.escape(n) if language_of(n) == "zh" else rf"(?<!\w){re.escape(n)}(?!\w)"
            for n in change.names
        )
        return [s for s in sections if re.search(pattern, s.text, re.IGNORECASE)]
    return [s for s in sections if s.position > change.after]


def removed_phrases(old: str, new: str) -> list[tuple[str, ...]]:
    """What the change took out: names (capitalized words) and phrases of two or three words
    that start and end with a content word, in the old text but not the new."""

    def grams(text: str) -> set[tuple[str, ...]]:
        words = words_of(text)
        found = {(w.lower(),) for w in re.findall(r"(?<![\w'’])[A-Z][a-z]+", text)}
        found = {g for g in found if g[0] not in STOPWORDS}
        for n in (2, 3):
            for i in range(len(words) - n + 1):
                gram = tuple(words[i : i + n])
                if gram[0] not in STOPWORDS and gram[-1] not in STOPWORDS:
                    found.add(gram)
        return found

    new_words = set(words_of(new))
    gone = grams(old) - grams(new)
    # a phrase whose every word is still in the new text was reworded, not removed
    return sorted(g for g in gone if not set(g) <= new_words)


def still_says(section: ReviewSection, change: Change) -> list[Finding]:
    """The first place this section still says something the change removed."""
    for gram in removed_phrases(change.old, change.new):
        found = find_phrase(section.text, gram)
        if found is None:
            continue
        quote = sentence_at(section.text, section.text.index(found))
        now = " ".join(change.new.split())[:120] or "removed"
        return [
            Finding(
                section_id=section.section_id,
                kind="change",
                severity="high",
                quote=quote,
                suggestion=f"Still says “{found}”, which the change to the {change.what} took "
                f"out (now: “{now}”). Bring this passage in line.",
                source="later",
            )
        ]
    return []


def check_later(
    store: Store, project: Project, changes: list[Change], backend: Backend | None = None
) -> Iterator[ReviewProgress | ReviewFinished]:
    """Check the sections after each change against it; the findings replace those of the
    last later-chapters check. The changes then count as seen."""
    sections = book_sections(store, project)
    plan = store.plan(project)
    recaps = {cid: r.text for cid, r in store.recaps(project).items()}
    jobs = [(change, s) for change in changes for s in later_sections(sections, change)]
    found: list[Finding] = []
    finished = ReviewFinished([], 0)
    for done, (change, section) in enumerate(jobs):
        found += still_says(section, change)
        if backend is None:
            continue
        yield ReviewProgress(done, len(jobs), section.title)
        block = render(
            language_of(section.text),
            "review_change",
            old=change.old[:MAX_CHANGE_CHARS] or "—",
            new=change.new[:MAX_CHANGE_CHARS] or "—",
        )
        context = section_context(project, plan, recaps, section, block)
        review = check_section(backend, context, section, source="later")
        found += review.findings
        finished.model_read += 1
        finished.dropped += review.dropped
    stored.replace_findings(store, project, "later", _unique(found))
    review_rules(store, project)  # the changes are seen: the next check starts from here
    finished.findings = stored.stored_findings(store, project)
    finished.rules_findings = len(found)
    yield finished


def _unique(findings: list[Finding]) -> list[Finding]:
    seen, kept = set(), []
    for finding in findings:
        if finding.key not in seen:
            seen.add(finding.key)
            kept.append(finding)
    return kept
