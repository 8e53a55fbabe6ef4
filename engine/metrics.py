"""Word counting and the LongBench-Write length score, plus a repetition measure.

Words are counted the LongWriter way: each Chinese character (U+4E00..U+9FFF) is one word, and
each run of ASCII letters is one word. Digits and punctuation are not words.
"""

import re
from collections import Counter

WORD_PATTERN = re.compile(r"[\u4e00-\u9fff]|[A-Za-z]+")


def words_of(text: str) -> list[str]:
    """The countable words of a text, lower-cased (Chinese characters one by one)."""
    return [word.lower() for word in WORD_PATTERN.findall(text)]


def count_words(text: str) -> int:
    """Chinese characters plus English words, as LongBench-Write counts output length."""
    return len(WORD_PATTERN.findall(text))


def length_score(required: int, actual: int) -> float:
    """S_l in [0, 100]: 100 at the required length; -1/3 per 100 % over, -1/2 per 100 % under."""
    if required <= 0:
        raise ValueError("required length must be positive")
    if actual <= 0:
        return 0.0
    if actual > required:
        return 100.0 * max(0.0, 1.0 - (actual / required - 1.0) / 3.0)
    return 100.0 * max(0.0, 1.0 - (required / actual - 1.0) / 2.0)


def length_deviation(required: int, actual: int) -> float:
    """Signed relative deviation from the required length: +0.1 means 10 % too long."""
    return (actual - required) / required


def repeated_ngram_share(text: str, n: int = 8) -> float:
    """Share of the text's n-word sequences that occur more than once in it (0 for short texts)."""
    words = words_of(text)
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0.0
    counts = Counter(grams)
    return sum(1 for gram in grams if counts[gram] > 1) / len(grams)
