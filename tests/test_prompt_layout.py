"""Prompt assembly: consecutive section prompts extend each other; trimming drops in big steps.

These use no model (the layout is pure text); the real prefix reuse is measured in test_writer.
"""

from engine.schema import Plan, PlanSection
from engine.writing.prompt_layout import Brief, section_messages, sections_to_drop

PLAN = Plan(
    sections=[PlanSection(title=f"Part {i}", main_point=f"Point {i}.", words=100) for i in range(6)]
)
BRIEF = Brief(
    "Write a 600-word story about a lighthouse.", PLAN, bible="Keeper: Ada, 60, stubborn."
)


def test_each_prompt_extends_the_previous_conversation():
    written = [f"Text of section {i}." for i in range(5)]
    previous = section_messages(BRIEF, written, 0, dropped=0)
    for index in range(1, 5):
        current = section_messages(BRIEF, written, index, dropped=0)
        assert current[: len(previous)] == previous
        assert current[len(previous)] == {"role": "assistant", "content": written[index - 1]}
        previous = current


def test_every_prompt_carries_instruction_bible_and_plan():
    messages = section_messages(BRIEF, ["a", "b", "c"], 3, dropped=2)
    first_user = messages[1]["content"]
    assert BRIEF.instruction in first_user
    assert "Ada, 60, stubborn" in first_user
    assert all(f"Part {i}" in first_user for i in range(6))
    assert "Sections 1 to 2 are already written" in first_user
    # only the kept section remains as a turn
    assert [m["content"] for m in messages if m["role"] == "assistant"] == ["c"]


def test_chinese_task_gets_chinese_prompts():
    brief = Brief("写一篇600字的灯塔故事", PLAN)
    messages = section_messages(brief, [], 0, dropped=0)
    assert "写作任务" in messages[1]["content"]


def test_nothing_dropped_while_it_fits():
    assert sections_to_drop([100] * 5, fixed_tokens=500, context=8000, reserve=1000, dropped=0) == 0


def test_trim_drops_a_large_block_and_keeps_recent_text():
    tokens = [500] * 14  # 7,000 tokens of text; 6,200 fit
    dropped = sections_to_drop(tokens, fixed_tokens=1000, context=8000, reserve=800, dropped=0)
    kept = sum(tokens[dropped:])
    assert dropped >= 6  # a big step, so the layout stays stable afterwards
    assert 0 < kept <= 0.35 * (8000 - 1000 - 800)
    # the next section fits again without another drop
    assert sections_to_drop(tokens + [500], 1000, 8000, 800, dropped) == dropped
