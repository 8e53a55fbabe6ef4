"""The model's read of one section: does it do what its plan row says, and does it contradict
a bible entry it names or the recaps before it? One request per section, its reply held to a
JSON schema (a grammar on a local GGUF).

A finding must point at real text: a quote that is not, word for word, in the section (a small
model makes quotes up) is dropped, and counted.
"""

import hashlib
import json
from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError

from engine.metrics import count_words
from engine.models.backends.base import Backend, ChatRequest
from engine.planning.plan import ONE_LINE, json_rows
from engine.prompts import language_of, render
from engine.review.checks import ReviewSection
from engine.review.findings import Finding
from engine.schema import Plan, SamplingSettings
from engine.store.database import Project
from engine.writing.bible import always_entries, parse_bible, triggered_entries

MAX_FINDINGS = 3
REPLY_TOKENS = 256  # three terse findings; a reply cut short keeps its complete ones
MIN_QUOTE_WORDS = 3  # a quote of one or two words points at nothing in particular
SEVERITY = {"plan": "medium", "bible": "high", "recap": "high"}
SCHEMA = {
    "type": "object",
    "properties": {
        "findings": {
            "type": "array",
            "maxItems": MAX_FINDINGS,
            "items": {
                "type": "object",
                "properties": {
                    "kind": {"enum": ["plan", "bible", "recap"]},
                    "quote": {"type": "string", "pattern": ONE_LINE},
                    "problem": {"type": "string", "pattern": ONE_LINE},
                    "suggestion": {"type": "string", "pattern": ONE_LINE},
                },
                "required": ["kind", "quote", "problem", "suggestion"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["findings"],
    "additionalProperties": False,
}


class _Reply(BaseModel):
    kind: str
    quote: str
    problem: str
    suggestion: str


@dataclass
class SectionContext:
    """What a section is checked against, in the prompt's words."""

    language: str
    main_point: str
    facts: str  # the rendered bible and recap blocks, or ""

    @property
    def digest(self) -> str:
        """Changes when anything the section is checked against changes."""
        raw = json.dumps(
            [
                self.main_point,
                self.facts,
                render(self.language, "review", main_point="", facts="", text=""),
            ]
        )
        return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:16]


@dataclass
class ModelReview:
    findings: list[Finding] = field(default_factory=list)
    dropped: int = 0


def section_context(
    project: Project, plan: Plan, recaps: dict[str, str], section: ReviewSection, change: str = ""
) -> SectionContext:
    """The plan row, the bible entries the section names (and pinned ones), the recaps of the
    chapters before it and, for a later-chapters check, the change."""
    language = language_of(section.text)
    entries = parse_bible(project.bible)
    named = always_entries(entries) + triggered_entries(entries, [section.text])
    facts = ""
    if named:
        bible = "\n".join(f"- {entry.render()}" for entry in named)
        facts += render(language, "review_facts", bible=bible)
    if section.chapter_id:
        before = [c for c in plan.chapters[: plan.chapter_index(section.chapter_id)]]
        told = [f"- {c.title}: {recaps[c.id]}" for c in before if recaps.get(c.id)]
        if told:
            facts += render(language, "review_before", recaps="\n".join(told))
    point = section.main_point
    if section.chapter_title:
        point = f"{section.chapter_title} / {section.title}: {point}"
    return SectionContext(language, point, facts + change)


def check_section(
    backend: Backend, context: SectionContext, section: ReviewSection, source: str = "model"
) -> ModelReview:
    """Ask the model about one section; keep the findings whose quote is in the section."""
    text = _fit(backend, context, section.text)
    prompt = render(
        context.language, "review", main_point=context.main_point, facts=context.facts, text=text
    )
    request = ChatRequest(
        messages=[{"role": "user", "content": prompt}],
        max_tokens=REPLY_TOKENS,
        sampling=SamplingSettings(temperature=0.2, repeat_penalty=1.05, seed=0),
        json_schema=SCHEMA,
    )
    return verified(section, "".join(backend.stream(request)), source)


def verified(section: ReviewSection, reply: str, source: str = "model") -> ModelReview:
    """The findings of a model's reply whose quote stands word for word in the section; every
    other finding (made-up quote, too short, unreadable) is counted as dropped. A later-chapters
    check ("later") files them all as conflicts with the change."""
    review = ModelReview()
    try:
        rows = json_rows(reply, "findings")
    except (json.JSONDecodeError, KeyError, TypeError):
        return review
    for row in rows if isinstance(rows, list) else []:
        try:
            found = _Reply.model_validate(row)
        except ValidationError:
            review.dropped += 1
            continue
        quote = found.quote.strip().strip("\"'“”「」 ")
        if (
            found.kind not in SEVERITY
            or count_words(quote) < MIN_QUOTE_WORDS
            or quote not in section.text
        ):
            review.dropped += 1
            continue
        advice = " ".join(
            part.strip() for part in (found.problem, found.suggestion) if part.strip()
        )
        review.findings.append(
            Finding(
                section_id=section.section_id,
                kind=found.kind if source == "model" else "change",
                severity=SEVERITY[found.kind],
                quote=quote,
                suggestion=advice or found.kind,
                source=source,
            )
        )
    return review


def _fit(backend: Backend, context: SectionContext, text: str) -> str:
    """The section's text, cut from the end when the prompt would not fit the context."""
    room = backend.info.context_length - REPLY_TOKENS - 64
    for _ in range(4):
        prompt = render(
            context.language,
            "review",
            main_point=context.main_point,
            facts=context.facts,
            text=text,
        )
        tokens = backend.count_tokens([{"role": "user", "content": prompt}])
        if tokens <= room:
            break
        text = text[: int(len(text) * room / tokens * 0.95)]
    return text
