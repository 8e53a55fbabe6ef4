"""Benchmark rows, length buckets, run records and score aggregation, on hand-computed cases."""

import json

import pytest

from engine.errors import UserError
from engine.metrics import count_words, length_score
from training.eval.benchmark import bucket_of, load_rows
from training.eval.judge import DIMENSIONS, QualityScores
from training.eval.records import (
    Judgment,
    Prediction,
    RunSettings,
    append_jsonl,
    open_run,
    read_jsonl,
)
from training.eval.scoring import longbench_scores, ruler_scores

SETTINGS = RunSettings(kind="longbench", input="bench.jsonl", mode="single", model="embedded")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Hello, 世界! It's 2024年。", 6),  # Hello / 世 / 界 / It / s / 年
        ("ＡＢＣ full-width letters", 3),  # full-width Latin is neither ASCII nor CJK
        ("ひらがな and カタカナ", 1),  # kana are not counted, only "and"
        ("，。！？“”《》", 0),
        ("㐀 sits outside the range", 4),  # U+3400 is before U+4E00: not counted
    ],
)
def test_count_words_mixed_scripts(text, words):
    assert count_words(text) == words


def test_length_score_of_a_mixed_document():
    text = "我们" * 300 + " and then some English words here"  # 600 characters + 6 words
    assert count_words(text) == 606
    # 606 > 600: 100 * (1 - (606/600 - 1)/3) = 100 - 1/3
    assert length_score(600, count_words(text)) == pytest.approx(100 - 1 / 3)
    # 1,000 required, 606 written: 100 * (1 - (1000/606 - 1)/2) = 67.49…
    assert length_score(1000, 606) == pytest.approx(67.4917, abs=1e-4)


@pytest.mark.parametrize(
    ("required", "bucket"),
    [
        (1, "0–500"),
        (499, "0–500"),
        (500, "500–2k"),
        (1999, "500–2k"),
        (2000, "2k–4k"),
        (3999, "2k–4k"),
        (4000, "4k+"),
        (20000, "4k+"),
    ],
)
def test_bucket_bounds(required, bucket):
    assert bucket_of(required) == bucket


def test_quality_score_maps_marks_to_0_100():
    scores = QualityScores(
        relevance=5, accuracy=4, coherence=3, clarity=2, breadth_and_depth=1, reading_experience=3
    )
    assert scores.quality_score == pytest.approx((100 + 75 + 50 + 25 + 0 + 50) / 6)
    assert scores.model_dump()["quality_score"] == pytest.approx(50.0)


def _prediction(id_, required, words, language="en", type_="Story"):
    return Prediction(
        id=id_,
        prompt=f"task {id_}",
        type=type_,
        language=language,
        required=required,
        bucket=bucket_of(required),
        response="x",
        words=words,
        length_score=length_score(required, words),
        sections=1,
        output_tokens=words,
        seconds=1.0,
    )


def _judgment(id_, mark):
    marks = dict.fromkeys(DIMENSIONS, mark)
    return Judgment(id=id_, status="ok", scores=QualityScores(**marks), raw_outputs=["{}"])


def test_longbench_aggregation_by_bucket_language_and_type():
    predictions = [
        _prediction(0, 400, 400),  # S_l 100
        _prediction(1, 400, 200, "zh", "Essay"),  # 100 * (1 - (2 - 1)/2) = 50
        _prediction(2, 1000, 1300),  # 90
        _prediction(3, 3000, 750, "zh"),  # 100 * (1 - (4 - 1)/2) -> 0
    ]
    judgments = [
        _judgment(0, 5),  # S_q 100
        _judgment(2, 2),  # S_q 25
        Judgment(id=3, status="failed", error="no JSON", raw_outputs=["oops", "oops", "oops"]),
    ]
    scores = longbench_scores(SETTINGS, predictions, judgments, missing=1)
    assert scores.overall.rows == 4
    assert scores.overall.length_score == pytest.approx((100 + 50 + 90 + 0) / 4)
    assert scores.overall.judged == 2
    assert scores.overall.quality_score == pytest.approx(62.5)
    assert scores.overall.overall == pytest.approx((60 + 62.5) / 2)
    assert list(scores.by_bucket) == ["0–500", "500–2k", "2k–4k"]
    assert scores.by_bucket["0–500"].length_score == pytest.approx(75)
    assert scores.by_bucket["0–500"].quality_score == pytest.approx(100)
    assert scores.by_bucket["2k–4k"].quality_score is None  # its only row failed to be judged
    assert scores.by_language["zh"].length_score == pytest.approx(25)
    assert scores.by_type["Essay"].rows == 1
    assert scores.judge_failed == [3]
    assert scores.missing == 1


def test_ruler_longest_and_median():
    predictions = [_prediction(i, 1000, w) for i, w in enumerate([300, 900, 500])]
    predictions += [_prediction(3, 5000, 800), _prediction(4, 5000, 1200)]
    scores = ruler_scores(SETTINGS.model_copy(update={"kind": "ruler"}), predictions, 0)
    assert [(p.required, p.max_words, p.median_words) for p in scores.points] == [
        (1000, 900, 500),
        (5000, 1200, 1000),
    ]
    assert scores.max_words == 1200


def test_load_rows_numbers_rows_and_limits(tmp_path):
    path = tmp_path / "bench.jsonl"
    rows = [
        {"prompt": "写一篇100字的短文", "type": "t", "length": 100},
        {"prompt": "b", "length": 5},
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n")
    loaded = load_rows(path)
    assert [(r.id, r.language, r.bucket) for r in loaded] == [
        (0, "zh", "0–500"),
        (1, "en", "0–500"),
    ]
    assert len(load_rows(path, limit=1)) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"prompt": "a", "length": 0}\n', "line 1"),
        ('{"prompt": "a", "length": 10}\nnot json\n', "line 2"),
        ("", "no benchmark rows"),
    ],
)
def test_load_rows_rejects_bad_files(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(UserError, match=message):
        load_rows(path)
    with pytest.raises(UserError, match="not found"):
        load_rows(tmp_path / "missing.jsonl")


def test_read_jsonl_skips_a_cut_last_line_but_not_a_damaged_one(tmp_path):
    path = tmp_path / "predictions.jsonl"
    append_jsonl(path, _prediction(0, 100, 90))
    append_jsonl(path, _prediction(1, 100, 90))
    whole = path.read_text()
    path.write_text(whole + whole.splitlines()[0][:40])  # a crash in the middle of a write
    assert [p.id for p in read_jsonl(path, Prediction)] == [0, 1]
    path.write_text("garbage\n" + whole)
    with pytest.raises(UserError, match="line 1"):
        read_jsonl(path, Prediction)


def test_open_run_guards_an_existing_run(tmp_path):
    out = tmp_path / "run"
    open_run(out, SETTINGS, resume=False)
    with pytest.raises(UserError, match="--resume"):
        open_run(out, SETTINGS, resume=False)
    open_run(out, SETTINGS, resume=True)
    with pytest.raises(UserError, match="mode"):
        open_run(out, SETTINGS.model_copy(update={"mode": "agentwrite"}), resume=True)
