"""AgentWrite output filters and the step cache (the real build runs in the miniature test)."""

import pytest

from engine.errors import UserError
from engine.schema import Plan, PlanSection
from training.agentwrite import Filters, StepCache, TaskState, cache_folder_for, rejection
from training.records import WritingTask


def state(texts: list[str], sections: int = 2, words: int = 40) -> TaskState:
    plan = Plan(
        sections=[PlanSection(title=f"t{i}", main_point="p", words=20) for i in range(sections)]
    )
    return TaskState(instruction=f"Write {words} words.", words=words, plan=plan, sections=texts)


def test_filters():
    good = ["one two three four five six seven eight nine ten " * 2] * 2
    assert rejection(state(good), Filters()) is None
    assert rejection(state(good[:1]), Filters()) == "too short"
    assert rejection(state(good, sections=30), Filters(max_sections=20)) == "too many sections"
    labelled = [good[0], "Paragraph 2: " + good[1]]
    assert rejection(state(labelled), Filters()) == "leftover paragraph label"


def test_cache_resumes_and_refuses_to_overwrite(tmp_path):
    task = WritingTask(instruction="Write a 300-word poem about tides.")
    assert task.words == 300
    out = tmp_path / "long.jsonl"
    cache = StepCache(cache_folder_for(out, resume=False))
    saved = state(["first section"], words=300)
    cache.save(task, saved)
    assert StepCache(cache_folder_for(out, resume=True)).load(task) == saved
    with pytest.raises(UserError, match="--resume"):
        cache_folder_for(out, resume=False)
