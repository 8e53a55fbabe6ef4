"""Loop and noise detection on text alone (the writer's use of it runs in test_writer)."""

from engine.metrics import words_of
from engine.writing.repetition import (
    WORDLESS_CHARS,
    LoopDetector,
    ends_wordless,
    loop_start,
    wordless_start,
)

NOISE = "ＨＨＩ＃＄％．ＨＨＨ０１２" * 20  # what the 135M model wrote on a Chinese prompt


def test_a_repeated_eight_word_run_is_a_loop_also_across_earlier_text():
    detector = LoopDetector("the old keeper climbed the stairs every night at nine")
    assert not detector.feed_words(words_of("then the storm broke over the bay"))
    assert detector.feed_words(words_of("and the old keeper climbed the stairs every night"))


def test_loop_start_points_at_the_first_repeated_run():
    run = "One two three four five six seven eight."
    section = f"A gull cried. {run} {run}"
    assert section[loop_start(section) :] == run
    assert loop_start("Nothing repeats in this sentence at all.") == len(
        "Nothing repeats in this sentence at all."
    )


def test_prose_and_figures_are_not_noise():
    assert not ends_wordless("The harbour was quiet that night. " * 10)
    assert not ends_wordless("微笑日是每年十月的第一个星期五，人们在这一天互相微笑。" * 5)
    table = "| 2019 | 35.2 | 40.1 |\n| 2020 | 36.8 | 41.7 |\n" * 10
    assert not ends_wordless(table)


def test_full_width_letters_and_symbols_are_noise():
    text = "微笑日的心理原理很简单。" + NOISE
    assert ends_wordless(text)
    assert text[: wordless_start(text)] == "微笑日的心理原理很简单"
    just_short = "短文" + NOISE[: WORDLESS_CHARS - 1]  # one character short of a noise run
    assert not ends_wordless(just_short) and wordless_start(just_short) == len(just_short)
