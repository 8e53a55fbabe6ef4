"""The message catalogue: every user-facing line of the studio and the command line, keyed, in
each language (assets/i18n/<language>.json), and which language a user reads.

Messages with values keep named placeholders ("Created {name}."), filled with str.format; a
value may itself be a Phrase, a message read in the same language as the one it fills.
English is the fallback: a key missing in another language reads in English.
"""

import json
import os
import re
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files

ENGLISH = "en"
CHINESE = "zh-CN"
LANGUAGES = (ENGLISH, CHINESE)


@cache
def phrasebook(language: str) -> dict[str, str]:
    """Key -> message for one language."""
    text = (files("assets") / "i18n" / f"{language}.json").read_text("utf-8")
    return json.loads(text)


@dataclass(frozen=True)
class Phrase:
    """A catalogue message used as the value of another message's placeholder."""

    key: str
    params: dict = field(default_factory=dict)

    def text(self, language: str = ENGLISH) -> str:
        return text(self.key, language, **self.params)


def text(key: str, language: str = ENGLISH, **params) -> str:
    """The message `key` in `language`, its {placeholders} filled from params."""
    template = phrasebook(language).get(key) or phrasebook(ENGLISH)[key]
    if not params:
        return template
    values = {
        name: value.text(language) if isinstance(value, Phrase) else value
        for name, value in params.items()
    }
    return template.format(**values)


def placeholders(message: str) -> set[str]:
    """The names of a message's {placeholders} (format specs ignored)."""
    return set(re.findall(r"\{(\w+)(?:[:!][^}]*)?\}", message))


def language_of_tag(tag: str | None) -> str | None:
    """A supported language for a locale or language tag (zh_CN.UTF-8, zh-Hans, en-GB), or
    None when it names neither."""
    if not tag:
        return None
    tag = tag.split(".")[0].replace("_", "-").lower()
    if tag.startswith("zh"):
        return CHINESE
    if tag.startswith("en") or tag in {"c", "posix"}:
        return ENGLISH
    return None


def language_from_env() -> str:
    """The language of the environment's locale: LC_ALL, then LC_MESSAGES, then LANG (the
    order in which POSIX programs read them); English otherwise."""
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable)
        if value:
            return language_of_tag(value) or ENGLISH
    return ENGLISH


def language_from_header(accept_language: str | None) -> str:
    """The first supported language of an HTTP Accept-Language header; English otherwise."""
    ranked = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, weight = part.strip().partition(";q=")
        try:
            quality = float(weight) if weight else 1.0
        except ValueError:
            quality = 0.0
        ranked.append((-quality, position, tag))
    for _, _, tag in sorted(ranked):
        language = language_of_tag(tag)
        if language:
            return language
    return ENGLISH
