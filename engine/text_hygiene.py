"""Text made safe to keep: what enters the store (names, instruction, bible, plan rows, section
text) loses the characters that XML 1.0 cannot hold, since every DOCX and EPUB export is XML.

Kept: tab, newline, carriage return and every character XML allows. Vertical tab and form feed
become newlines (they separate lines where they come from); other C0 and C1 controls, DEL and
the non-characters U+FFFE/U+FFFF are dropped; lone surrogates (undecodable input bytes) become
U+FFFD, the replacement character.

Names (of projects) are one line, at most MAX_NAME_CHARS characters, and lose the bidirectional
controls (embeddings, overrides, isolates and the direction marks): a right-to-left override in
a name would reverse it, and whatever follows it, wherever the name is shown.
"""

import re
import unicodedata
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from engine.errors import UserError

ModelT = TypeVar("ModelT", bound=BaseModel)

_LINE_BREAKS = re.compile("[\x0b\x0c]")
_DROPPED = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
_SURROGATES = re.compile("[\ud800-\udfff]")
_NAME_BREAKS = re.compile(r"[\t\n\r\x0b\x0c\u2028\u2029]+")
_BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
MAX_NAME_CHARS = 120


def clean_text(text: str) -> str:
    """text with XML-incompatible characters replaced or dropped (see the module docstring)."""
    text = _SURROGATES.sub("\ufffd", repair_decoding(text))
    return _DROPPED.sub("", _LINE_BREAKS.sub("\n", text))


def clean_name(name: str) -> str:
    """A one-line name: clean_text, with line breaks and tabs turned into single spaces, the
    bidirectional controls dropped, and cut to MAX_NAME_CHARS characters."""
    one_line = _NAME_BREAKS.sub(" ", _BIDI_CONTROLS.sub("", clean_text(name))).strip()
    return one_line[:MAX_NAME_CHARS].rstrip()


def clean_tree(value: object) -> object:
    """clean_text applied to every string inside nested dicts and lists (a dumped model)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {key: clean_tree(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_tree(item) for item in value]
    return value


def repair_decoding(text: str) -> str:
    """Undo Python's surrogateescape decoding (command-line arguments, file names) and decode
    the bytes again as UTF-8 with U+FFFD for the invalid ones."""
    if not _SURROGATES.search(text):
        return text
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that no byte was escaped to
        return _SURROGATES.sub("\ufffd", text)
    return raw.decode("utf-8", "replace")


def printable(text: str) -> str:
    """text for a terminal: control, format (bidi overrides) and unpaired characters escaped as
    \\xNN / \\uNNNN, so a name cannot move the cursor, recolour or reverse what follows it."""
    return "".join(
        char.encode("unicode_escape").decode("ascii") if _unprintable(char) else char
        for char in text
    )


def _unprintable(char: str) -> bool:
    category = unicodedata.category(char)
    # zero-width (non-)joiners are format characters too, but they shape emoji and scripts
    return (category[0] == "C" and char not in "\u200c\u200d") or category in ("Zl", "Zp")


def clean_fields(fields: dict[str, object]) -> dict[str, object]:
    """A project's changed fields with clean_name on the name and clean_text on other text."""
    cleaned = dict(fields)
    for key, value in fields.items():
        if isinstance(value, str):
            cleaned[key] = clean_name(value) if key == "name" else clean_text(value)
    return cleaned


def clean_model(model: ModelT) -> ModelT:
    """A copy of a pydantic model with clean_tree applied to its fields; UserError when the
    cleaned text no longer validates (a field held nothing but control characters)."""
    try:
        return type(model).model_validate(clean_tree(model.model_dump()))
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise UserError(key="error.only_control", where=where, problem=problem["msg"]) from None
