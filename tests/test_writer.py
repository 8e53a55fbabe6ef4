"""AgentWrite runs on the real embedded model, persisted in a real SQLite file."""

from engine.metrics import count_words
from engine.models.backends.llama_cpp import LlamaCppBackend
from engine.models.settings import LoadSettings
from engine.projects.run import project_document, run_project
from engine.schema import Plan, PlanSection, SamplingSettings, WriteSettings
from engine.store.database import Store
from engine.writing.events import ContextTrimmed, LoopCut, RunFinished, SectionFinished

INSTRUCTION = "Write a short story about a baker who finds a map inside a loaf of bread."


def _plan(*words: int) -> Plan:
    points = [
        "The baker finds the map while slicing bread at dawn.",
        "She follows the map through the old town to the harbour.",
        "At the harbour she meets a fisherman who knows the island on the map.",
        "They sail to the island and dig where the map points.",
        "What they find changes the bakery for good.",
    ]
    return Plan(
        sections=[
            PlanSection(title=f"Part {i + 1}", main_point=points[i % len(points)], words=w)
            for i, w in enumerate(words)
        ]
    )


def _run(store, backend, plan, name="baker"):
    settings = WriteSettings(sampling=SamplingSettings(seed=7))
    project = store.create_project(name, INSTRUCTION, plan.total_words, settings=settings)
    store.save_plan(project, plan)
    events = list(run_project(store, project, backend))
    return project, events


def test_agentwrite_hits_the_length_and_reuses_the_prompt_prefix(backend, db_path):
    store = Store(db_path)
    project, events = _run(store, backend, _plan(150, 200, 150))
    stats = events[-1].stats
    assert isinstance(events[-1], RunFinished)
    assert [s.status for s in store.sections(project)] == ["done"] * 3
    assert stats.length_score >= 80
    assert stats.prompt_tokens_evaluated <= 1.3 * stats.output_tokens + stats.first_prompt_tokens
    assert stats.prompt_tokens_evaluated < stats.prompt_tokens_sent
    assert stats.repeated_8gram_share <= 0.1
    text = project_document(store, project).body
    assert "<|im_end|>" not in text and "Paragraph 2" not in text


def test_a_small_context_drops_old_sections_and_still_finishes(model_path, db_path):
    small = LlamaCppBackend(model_path, LoadSettings(n_ctx=1024))
    try:
        store = Store(db_path)
        project, events = _run(store, small, _plan(*[120] * 6), name="small-context")
    finally:
        small.close()
    assert any(isinstance(e, ContextTrimmed) for e in events)
    finished = [e for e in events if isinstance(e, SectionFinished)]
    assert len(finished) == 6
    assert all(s.text.strip() for s in store.sections(project))
    assert isinstance(events[-1], RunFinished)


def test_single_pass_mode_writes_one_reply(backend, db_path):
    store = Store(db_path)
    settings = WriteSettings(mode="single", sampling=SamplingSettings(seed=2))
    plan = Plan(sections=[PlanSection(title="Story", main_point=INSTRUCTION, words=200)])
    project = store.create_project("single", INSTRUCTION, 200, settings=settings)
    store.save_plan(project, plan)
    events = list(run_project(store, project, backend))
    stats = events[-1].stats
    assert stats.mode == "single" and stats.words > 50
    assert len(store.sections(project)) == 1


def test_a_section_that_fills_the_context_ends_instead_of_failing(model_path, db_path):
    tiny = LlamaCppBackend(model_path, LoadSettings(n_ctx=512))
    try:
        store = Store(db_path)
        project, events = _run(store, tiny, _plan(600), name="full-context")
    finally:
        tiny.close()
    assert isinstance(events[-1], RunFinished)
    assert store.sections(project)[0].text.strip()


def test_noise_in_a_section_is_cut_and_the_section_rewritten(backend, db_path):
    """A section autosaved with full-width noise at its end (as the 135M model writes on some
    Chinese prompts) goes on from the last sentence before the noise."""
    store = Store(db_path)
    plan = _plan(120)
    project = store.create_project(
        "noisy", INSTRUCTION, 120, settings=WriteSettings(sampling=SamplingSettings(seed=3))
    )
    store.save_plan(project, plan)
    clean = "The baker found the map at dawn. It was folded inside a warm loaf. "
    store.start_section(project, plan.sections[0].id, clean + "ＨＨＩ＃＄％．ＨＨＨ０１２" * 20)
    events = list(run_project(store, project, backend))
    assert any(isinstance(e, LoopCut) for e in events)
    text = store.sections(project)[0].text
    assert text.startswith("The baker found the map at dawn.") and "Ｈ" not in text
    assert count_words(text) > count_words(clean)
