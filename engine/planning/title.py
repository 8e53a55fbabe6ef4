"""A book title drafted with the plan: a short title in the instruction's language, one line,
no quotes, never the instruction itself ("Write a 30,000-word mystery novel set" is no title).

When the model's reply is no usable title, one is made from the instruction's subject.
"""

import json
import re

from engine.models.backends.base import Backend, ChatRequest
from engine.planning.plan import ONE_LINE
from engine.prompts import language_of, render
from engine.schema import SamplingSettings

TITLE_TOKENS = 48
MAX_WORDS = {"en": 8, "zh": 16}  # Chinese: characters
SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string", "pattern": ONE_LINE}},
    "required": ["title"],
    "additionalProperties": False,
}
_CUT_JSON = re.compile(r'"title"\s*:\s*"([^"\n]*)')
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
        cut = _CUT_JSON.search(reply)  # the reply ran out of tokens inside the string
        title = cut.group(1) if cut else reply  # or a server ignored the schema
    prompt = render(language, "title", instruction="")
    return clean_title(title, instruction, prompt)


def clean_title(title: str, instruction: str, prompt: str = "") -> str:
    """One line, no quotes or label, at most a few words; the fallback when it is empty, in
    another language than the instruction, reads like an instruction or repeats the prompt."""
    line = next((part.strip() for part in title.splitlines() if part.strip()), "")
    line = _LABEL.sub("", line).strip(_QUOTES + " .。")
    line = line.strip(_QUOTES + " ")
    copied = instruction.lower().startswith(line.lower()) or line.lower() in prompt.lower()
    foreign = language_of(line) != language_of(instruction)
    if not line or copied or foreign or _INSTRUCTION.search(line) or re.search(r"[{}\[\]\"]", line):
        return fallback_title(instruction)
    return _cut(line)


def fallback_title(instruction: str) -> str:
    """A title from the instruction's subject: "Write a 30,000-word mystery novel set on a
    northern island" gives "Mystery novel set on a northern island"."""
    text = " ".join(instruction.split())
    if language_of(text) == "zh":
        text = re.sub(r"^(?:请)?(?:写|创作|撰写)(?:一[篇部本个])?", "", text)
        text = re.sub(r"^[\d,，一二三四五六七八九十百千万两]+字的?", "", text)
        about = re.search(r"(?:讲述|讲|关于|描写)(?:了)?(?:一[位个只条座])?(.+)", text)
        if about:  # "小说，讲一位老渔夫和……" is about the fisherman, not "the novel"
            text = about.group(1)
        return _cut(re.split(r"[，,。；;：:！？]", text)[0].strip()) or "无题"
    text = _LENGTH_AND_KIND.sub("", text)
    text = re.split(r"[,.;:!?]| where | who | which | that | in which ", text)[0].strip()
    return _cut(text[:1].upper() + text[1:]) or "Untitled"


def _cut(title: str) -> str:
    """At most a few words; a subtitle after a colon or dash goes."""
    main = re.split(r"\s*[:：]\s*|\s+[-–—]\s+", title)[0]
    title = main if len(main.split()) >= 2 or language_of(main) == "zh" else title
    language = language_of(title)
    if language == "zh":
        return title[: MAX_WORDS["zh"]]
    words = title.split()
    return " ".join(words[: MAX_WORDS["en"]]).rstrip(",;:-")
