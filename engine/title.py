"""A book title drafted with the plan: a short title in the instruction's language, one line,
no quotes, never the instruction itself ("Write a 30,000-word mystery novel set" is no title).

When the model's reply is no usable title, one is made from the instruction's subject.
"""

import json
import re

from engine.backends.base import Backend, ChatRequest
from engine.plan import ONE_LINE
from engine.prompts import language_of, render
from engine.schema import SamplingSettings

TITLE_TOKENS = 32
MAX_WORDS = {"en": 8, "zh": 16}  # Chinese: characters
SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string", "pattern": ONE_LINE}},
    "required": ["title"],
    "additionalProperties": False,
}
_QUOTES = "\"'“”‘’「」『』《》〈〉*_#"
_LABEL = re.compile(r"^(?:book\s+)?title\s*[:：]\s*|^书名\s*[:：]\s*", re.IGNORECASE)
_INSTRUCTION = re.compile(
    r"^(?:please\s+)?(?:write|draft|create|compose|tell)\b|^(?:请)?(?:写|创作|撰写)", re.IGNORECASE
)
_LENGTH_AND_KIND = re.compile(
    r"^(?:please\s+)?(?:write|draft|create|compose|tell)\s+(?:me\s+)?(?:an?\s+|the\s+)?"
    r"(?:[\d,.]+[\s-]*(?:words?|word-long)\s+)?",
    re.IGNORECASE,
)


def draft_title(backend: Backend, instruction: str, seed: int | None = None) -> str:
    """The model's title for the book, cleaned; one made from the instruction if it fails."""
    language = language_of(instruction)
    request = ChatRequest(
        messages=[{"role": "user", "content": render(language, "title", instruction=instruction)}],
        max_tokens=TITLE_TOKENS,
        sampling=SamplingSettings(temperature=0.6, repeat_penalty=1.1, seed=seed),
        json_schema=SCHEMA,
    )
    reply = "".join(backend.stream(request))
    try:
        title = str(json.loads(reply, strict=False)["title"])
    except (ValueError, KeyError, TypeError):
        title = reply  # a server that ignored the schema
    return clean_title(title, instruction)


def clean_title(title: str, instruction: str) -> str:
    """One line, no quotes or label, at most a few words; the fallback when it reads like an
    instruction or is empty."""
    line = next((part.strip() for part in title.splitlines() if part.strip()), "")
    line = _LABEL.sub("", line).strip(_QUOTES + " .。")
    line = line.strip(_QUOTES + " ")
    copied = instruction.lower().startswith(line.lower())
    if not line or copied or _INSTRUCTION.search(line):
        return fallback_title(instruction)
    return _cut(line)


def fallback_title(instruction: str) -> str:
    """A title from the instruction's subject: "Write a 30,000-word mystery novel set on a
    northern island" gives "Mystery novel set on a northern island"."""
    text = " ".join(instruction.split())
    if language_of(text) == "zh":
        text = re.sub(r"^(?:请)?(?:写|创作|撰写)(?:一[篇部本个])?", "", text)
        text = re.sub(r"^[\d,，一二三四五六七八九十百千万两]+字的?", "", text)
        return _cut(re.split(r"[，,。；;：:！？]", text)[0].strip()) or "无题"
    text = _LENGTH_AND_KIND.sub("", text)
    text = re.split(r"[,.;:!?]| where | who | which | that | in which ", text)[0].strip()
    return _cut(text[:1].upper() + text[1:]) or "Untitled"


def _cut(title: str) -> str:
    language = language_of(title)
    if language == "zh":
        return title[: MAX_WORDS["zh"]]
    words = title.split()
    return " ".join(words[: MAX_WORDS["en"]]).rstrip(",;:-")
