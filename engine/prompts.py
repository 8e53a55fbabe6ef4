"""Prompt templates from assets/prompts/<language>/, and the language a task is written in."""

import re
from functools import cache
from importlib.resources import files
from typing import Literal

Language = Literal["en", "zh"]

_CJK = re.compile(r"[\u4e00-\u9fff]")


def language_of(text: str) -> Language:
    """'zh' when Chinese characters make up a fair part of the text, else 'en'."""
    cjk = len(_CJK.findall(text))
    return "zh" if cjk and cjk >= 0.2 * len(text.strip()) else "en"


@cache
def template(language: Language, name: str) -> str:
    """The text of assets/prompts/<language>/<name>.txt, without its final newline."""
    return (files("assets") / "prompts" / language / f"{name}.txt").read_text("utf-8").rstrip("\n")


def render(language: Language, name: str, **fields: object) -> str:
    """Fill a template's {named} fields."""
    return template(language, name).format(**fields)


def bible_block(language: Language, bible: str) -> str:
    """The story-bible paragraph of a prompt, or nothing when there is no bible."""
    return render(language, "bible", bible=bible.strip()) if bible.strip() else ""
