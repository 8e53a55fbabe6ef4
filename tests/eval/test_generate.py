"""A row whose plan the model cannot draft still gets answered, on a recorded fallback plan."""

from engine.models.settings import LoadSettings
from harness.fake_backend import FakeBackend
from training.eval.benchmark import BenchmarkRow
from training.eval.generate import Answerer


def test_undraftable_plan_falls_back_to_even_parts():
    backend = FakeBackend(["not a plan", "still not a plan"])
    answerer = Answerer(backend, store=None, mode="agentwrite", model=LoadSettings())
    row = BenchmarkRow(id=7, prompt="写一篇2000字的关于长城的文章", length=2000)
    plan = answerer._draft(row)
    assert len(backend.requests) == 2  # two drafts were tried, with different seeds
    assert backend.requests[0].sampling.seed != backend.requests[1].sampling.seed
    assert len(plan.sections) == 3 and plan.total_words == 2000
    assert all(s.main_point == row.prompt for s in plan.sections)
