"""File names made from project names: valid on every common file system, at most
MAX_STEM_BYTES bytes of UTF-8 (file systems allow 255) and still readable in any script."""

import hashlib
import re
import unicodedata

from engine.text_hygiene import clean_name

MAX_STEM_BYTES = 100
HASH_CHARS = 8
# reserved on Windows or macOS, or path separators
_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_FORMAT_CHARS = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def file_stem(name: str, fallback: str = "document") -> str:
    """A file name stem for a project name: forbidden and bidi characters removed, spaces as
    underscores; a stem over MAX_STEM_BYTES is cut at a character boundary and ends with a
    short hash of the whole name, so two long names that share a beginning stay apart."""
    stem = unicodedata.normalize("NFC", clean_name(name))
    stem = _FORMAT_CHARS.sub("", _FORBIDDEN.sub("", stem))
    stem = "_".join(stem.split()).strip("._-") or fallback
    if len(stem.encode("utf-8")) <= MAX_STEM_BYTES:
        return stem
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_CHARS]
    room = MAX_STEM_BYTES - HASH_CHARS - 1
    cut = stem.encode("utf-8")[:room].decode("utf-8", "ignore").rstrip("._-")
    return f"{cut}-{digest}"
