"""bench/novel.py in miniature on the scripted fake backend, so the script behind the README's
novel figures keeps working and its bound is computed from the right numbers."""

import json

from bench.novel import write_novel
from engine.store.database import Store
from harness.fake_backend import FakeBackend
from tests.test_novel import scripted


def book_script(request) -> str:
    """Chapters for the book plan, then the novel tests' scenes, scene plans and recaps."""
    if request.json_schema and "chapters" in request.json_schema["properties"]:
        rows = [{"title": f"C{i}", "summary": "A wave.", "words": 120} for i in range(3)]
        return json.dumps({"chapters": rows})
    return scripted(request)


def test_the_bench_reports_a_whole_book(db_path):
    report = write_novel(Store(db_path), FakeBackend(book_script), 360, seed=1)
    assert report["chapters"] == 2 and report["recaps"] == 2  # 360 words: two chapters at most
    assert report["scenes_written"] == report["scenes_planned"] == 2
    assert report["chapters_without_scenes"] == 0
    assert report["length_score"] >= 90 and len(report["chapter_length_scores"]) == 2
    assert report["within_bound"] is True
    assert report["first_scene_prompt_tokens_evaluated"] <= report["scene_prompt_tokens_evaluated"]
    assert len(report["seconds_per_output_token_by_tenth"]) == 2  # one scene in each part
    assert all(tokens > 0 for tokens in report["tokens_evaluated_per_output_token_by_tenth"])
