"""Plan parsing, validation and rescaling, with hypothesis fuzzing the text parser and schema."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from engine.errors import UserError
from engine.planning.plan import (
    draft_schema,
    load_plan_file,
    merge_locked,
    parse_text_plan,
    plan_from_model_output,
    rescale,
    section_bounds,
    words_from_instruction,
)
from engine.schema import MAX_SECTIONS, Plan, PlanSection

ENGLISH_PLAN = """Paragraph 1 - Main Point: The keeper finds a bottle on the rocks at dawn. - Word Count: 400 words
Paragraph 2 - Main Point: The message inside is forty years old. - Word Count: 600 words

Paragraph 3 - Main Point: He rows out to the island it names. - Word Count: 500 words"""

CHINESE_PLAN = """段落1 - 主要内容：守塔人在黎明时发现漂流瓶。 - 字数要求：400字
第2段 - 主要内容：瓶中的信写于四十年前。 - 字数要求：600字"""


def test_parse_english_text_plan():
    plan = parse_text_plan(ENGLISH_PLAN)
    assert [s.words for s in plan.sections] == [400, 600, 500]
    assert plan.sections[1].main_point == "The message inside is forty years old."


def test_parse_chinese_text_plan():
    plan = parse_text_plan(CHINESE_PLAN)
    assert [s.words for s in plan.sections] == [400, 600]
    assert plan.sections[0].main_point.startswith("守塔人")


def test_text_without_plan_is_a_user_error():
    with pytest.raises(UserError, match="no plan"):
        parse_text_plan("Once upon a time there was a lighthouse.")


def test_model_output_json_is_bounded_to_the_section_limit():
    rows = [
        {"title": f"Part {i}", "main_point": "Something happens.", "words": 100} for i in range(30)
    ]
    plan = plan_from_model_output(json.dumps({"sections": rows}), 1000)
    assert len(plan.sections) == section_bounds(1000)[1]


def test_rescale_hits_total_and_keeps_locked_rows():
    plan = Plan(
        sections=[
            PlanSection(title="a", main_point="x", words=100),
            PlanSection(title="b", main_point="y", words=300, locked=True),
            PlanSection(title="c", main_point="z", words=100),
        ]
    )
    scaled = rescale(plan, 1300)
    assert scaled.total_words == 1300
    assert scaled.sections[1].words == 300
    assert scaled.sections[0].words == scaled.sections[2].words == 500


def test_merge_locked_keeps_locked_rows_in_place():
    old = Plan(
        sections=[
            PlanSection(title="keep me", main_point="x", words=100, locked=True),
            PlanSection(title="old", main_point="y", words=100),
        ]
    )
    new = Plan(sections=[PlanSection(title=f"new {i}", main_point="z", words=50) for i in range(3)])
    merged = merge_locked(old, new)
    assert [s.title for s in merged.sections] == ["keep me", "new 0", "new 1"]


@pytest.mark.parametrize(
    ("instruction", "words"),
    [
        ("Write a 10,000-word mystery novella", 10_000),
        ("write it in approximately 150 words", 150),
        ("写一篇1000字的中国旅游指南", 1000),
        ("写一篇1万字的小说", 10_000),
        ("Write a story about a cat", None),
    ],
)
def test_words_from_instruction(instruction, words):
    assert words_from_instruction(instruction) == words


def test_section_bounds_grow_with_length():
    assert section_bounds(500) == (1, 2)
    low, high = section_bounds(20_000)
    assert 20 <= low <= high <= MAX_SECTIONS


def test_plan_file_round_trip_and_errors(tmp_path):
    plan = parse_text_plan(ENGLISH_PLAN)
    path = tmp_path / "plan.json"
    path.write_text(plan.model_dump_json(indent=2))
    assert load_plan_file(str(path)) == plan
    path.write_text('{"sections": [{"title": "x", "main_point": "y", "words": -5}]}')
    with pytest.raises(UserError, match=r"sections\.0\.words"):
        load_plan_file(str(path))
    with pytest.raises(UserError, match="not found"):
        load_plan_file(str(tmp_path / "missing.json"))


# -- fuzzing ------------------------------------------------------------------------------

row_text = st.builds(
    lambda n, point, words, zh: (
        f"段落{n} - 主要内容：{point} - 字数要求：{words}字"
        if zh
        else f"Paragraph {n} - Main Point: {point} - Word Count: {words} words"
    ),
    st.integers(1, 99),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=60),
    st.integers(-10, 50_000),
    st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(row_text, st.text(max_size=80)), max_size=12))
def test_fuzz_text_plan_parser_yields_valid_plan_or_user_error(lines):
    try:
        plan = parse_text_plan("\n".join(lines))
    except UserError:
        return
    assert 1 <= len(plan.sections) <= MAX_SECTIONS
    for section in plan.sections:
        assert section.words >= 1 and section.main_point.strip() and section.title.strip()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 10_000), min_size=1, max_size=40), st.integers(100, 100_000))
def test_fuzz_rescale_adds_up(counts, total):
    plan = Plan(
        sections=[PlanSection(title=f"s{i}", main_point="p", words=c) for i, c in enumerate(counts)]
    )
    scaled = rescale(plan, total)
    if total >= 20 * len(counts):
        assert scaled.total_words == total
    assert all(s.words >= 20 for s in scaled.sections)


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["sections", "title", "x"]), json_value, max_size=3))
def test_fuzz_plan_validation_accepts_only_valid_plans(data):
    try:
        plan = Plan.model_validate(data)
    except ValidationError:
        return
    assert 1 <= len(plan.sections) <= MAX_SECTIONS


def test_draft_schema_bounds_sections():
    schema = draft_schema(3000)
    items = schema["properties"]["sections"]
    assert (items["minItems"], items["maxItems"]) == section_bounds(3000)


def test_json_plan_with_raw_newlines_and_a_cut_off_tail_keeps_complete_rows():
    text = (
        '{"sections": [{"title": "Dawn", "main_point": "She wakes.\n\tThe sea is loud.", '
        '"words": 300}, {"title": "Noon", "main_point": "She sails.", "words": 300}, '
        '{"title": "Dus'
    )
    plan = plan_from_model_output(text, 600)
    assert [s.title for s in plan.sections] == ["Dawn", "Noon"]
    assert "The sea is loud." in plan.sections[0].main_point
