"""Degeneration while a section streams: the same 8 words written again means the model loops;
a long run of characters with no countable word in it means it writes noise (a small model on
Chinese can slide into full-width letters and symbols for thousands of tokens).
"""

import re
from collections import Counter, deque

from engine.metrics import WORD_PATTERN, words_of

LOOP_NGRAM = 8
WORDLESS_CHARS = 160  # prose has a word, and a table a figure, well within this many characters
_CONTENT = re.compile(WORD_PATTERN.pattern + r"|[0-9]+")


class LoopDetector:
    """Tracks the document's 8-word sequences; flags a new one that was already written."""

    def __init__(self, earlier_text: str = "", n: int = LOOP_NGRAM):
        self.n = n
        self.seen: Counter[tuple[str, ...]] = Counter()
        self.window: deque[str] = deque(maxlen=n)
        self.feed_words(words_of(earlier_text))

    def feed_words(self, words: list[str]) -> bool:
        """Add newly written words; True when one of them completes an already-seen 8-gram."""
        looped = False
        for word in words:
            self.window.append(word)
            if len(self.window) == self.n:
                gram = tuple(self.window)
                self.seen[gram] += 1
                looped = looped or self.seen[gram] > 1
        return looped


def loop_start(section_text: str, earlier_text: str = "", n: int = LOOP_NGRAM) -> int:
    """Offset in section_text where the first 8-gram already written (here or earlier) begins."""
    earlier = words_of(earlier_text)
    seen = {tuple(earlier[i : i + n]) for i in range(len(earlier) - n + 1)}
    matches = list(WORD_PATTERN.finditer(section_text))
    words = (earlier[-(n - 1) :] if n > 1 else []) + [m.group().lower() for m in matches]
    offset = len(words) - len(matches)  # words carried over from the earlier text
    for i in range(len(words) - n + 1):
        gram = tuple(words[i : i + n])
        if gram in seen:
            return matches[max(0, i - offset)].start()
        seen.add(gram)
    return len(section_text)


def ends_wordless(text: str, span: int = WORDLESS_CHARS) -> bool:
    """True when the last `span` characters of text hold no countable word and no ASCII figure."""
    return len(text) >= span and _CONTENT.search(text, len(text) - span) is None


def wordless_start(text: str, span: int = WORDLESS_CHARS) -> int:
    """Offset where the first run of `span` or more characters without a word or figure begins."""
    previous_end = 0
    for match in _CONTENT.finditer(text):
        if match.start() - previous_end >= span:
            return previous_end
        previous_end = match.end()
    return previous_end if len(text) - previous_end >= span else len(text)
