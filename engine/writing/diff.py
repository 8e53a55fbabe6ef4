"""A word-level difference between two versions of a text, as data and as safe HTML.

Words (and CJK characters, which stand for words in Chinese) are compared with difflib; the
whitespace between them travels with the word it follows, so joining the pieces of either side
gives that side back exactly.
"""

import difflib
import html
import re
from dataclasses import dataclass
from typing import Literal

import nh3

_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]\s*|[^\s\u3400-\u9fff\uf900-\ufaff]+\s*|\s+")


@dataclass(frozen=True)
class Piece:
    """A run of text that both versions share ("same"), or that only one has."""

    kind: Literal["same", "inserted", "deleted"]
    text: str


def word_diff(old: str, new: str) -> list[Piece]:
    """The pieces that turn `old` into `new`, in reading order."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    pieces: list[Piece] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            pieces.append(Piece("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            pieces.append(Piece("deleted", "".join(a[i1:i2])))
        if j2 > j1:
            pieces.append(Piece("inserted", "".join(b[j1:j2])))
    return pieces


def diff_stats(pieces: list[Piece]) -> tuple[int, int]:
    """Words inserted and deleted."""
    inserted = sum(len(_TOKEN.findall(p.text.strip())) for p in pieces if p.kind == "inserted")
    deleted = sum(len(_TOKEN.findall(p.text.strip())) for p in pieces if p.kind == "deleted")
    return inserted, deleted


def diff_html(old: str, new: str) -> str:
    """The difference as HTML: <del> for removed words, <ins> for added ones, paragraphs kept.

    Every piece is escaped first and the result sanitized, so a version holding markup shows
    it as text."""
    tags = {"same": "{}", "inserted": "<ins>{}</ins>", "deleted": "<del>{}</del>"}
    body = "".join(
        tags[piece.kind].format(html.escape(piece.text, quote=False))
        for piece in word_diff(old, new)
    )
    body = body.replace("\n", "<br>")
    return nh3.clean(
        f'<div class="lw-diff">{body}</div>',
        tags={"div", "ins", "del", "br"},
        attributes={"div": {"class"}},
    )
