"""The word counter and S_l pinned against hand-computed cases, English and Chinese."""

import pytest

from engine.metrics import count_words, length_deviation, length_score, repeated_ngram_share


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("The quick brown fox.", 4),
        ("It's 2024: year-end, 3 cats!", 5),  # It / s / year / end / cats: runs of letters
        ("我爱北京天安门", 7),
        ("我爱Python编程", 5),  # 4 Chinese characters + 1 English word
        ("１２３ ... ,,,", 0),
        ("", 0),
    ],
)
def test_count_words(text, words):
    assert count_words(text) == words


@pytest.mark.parametrize(
    ("required", "actual", "score"),
    [
        (1000, 1000, 100.0),
        (1000, 1300, 90.0),  # 30 % over: 1 - 0.3/3
        (1000, 4000, 0.0),  # 300 % over
        (1000, 800, 87.5),  # 1 - (1000/800 - 1)/2
        (1000, 500, 50.0),
        (1000, 333, 0.0),  # more than 3x short floors at 0 … (1000/333-1)/2 > 1
        (1000, 0, 0.0),
    ],
)
def test_length_score(required, actual, score):
    assert length_score(required, actual) == pytest.approx(score, abs=1e-9)


def test_length_score_chinese_document():
    text = "春" * 450 + "。" + "夏" * 450
    assert count_words(text) == 900
    assert length_score(1000, count_words(text)) == pytest.approx(100 * (1 - (1000 / 900 - 1) / 2))


def test_length_deviation():
    assert length_deviation(200, 250) == pytest.approx(0.25)
    assert length_deviation(200, 150) == pytest.approx(-0.25)


def test_repeated_ngram_share():
    unique = " ".join(f"w{i}" for i in range(50)).replace("w", "word")
    assert repeated_ngram_share("one two three four five six seven eight nine ten") == 0.0
    looped = "the cat sat on the mat and smiled " * 3
    # 24 words, 17 eight-grams, every one of them occurs more than once
    assert repeated_ngram_share(looped) == 1.0
    half = "a b c d e f g h " * 2 + " ".join(f"x{chr(97 + i)}" for i in range(16))
    share = repeated_ngram_share(half)
    assert 0.0 < share < 1.0
    assert count_words(unique) == 50
