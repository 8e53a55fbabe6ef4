"""The book's title: drafted with the plan as a short title in the instruction's language (the
scripted fake backend and the real model), used by exports and the project list; a project
without one (every project made before titles) keeps its name as its title."""

import json
import re

import pytest
from click.testing import CliRunner

from app.cli import LANGUAGE, cli
from engine.planning.title import clean_title, draft_title, fallback_title
from engine.projects.run import project_document
from engine.prompts import language_of
from engine.store.database import Store
from harness.fake_backend import FakeBackend, prose

INSTRUCTION = "Write a 30,000-word mystery novel set on a northern island where letters arrive."


def _reply(title: str):
    return FakeBackend([json.dumps({"title": title})])


def test_the_model_title_is_cleaned_and_an_instruction_is_no_title():
    assert draft_title(_reply("“The Salt Letters”"), INSTRUCTION) == "The Salt Letters"
    assert draft_title(_reply("Title: Northern Light."), INSTRUCTION) == "Northern Light"
    backend = _reply("Write a 30,000-word mystery novel set")
    assert draft_title(backend, INSTRUCTION) == "Mystery novel set on a northern island"
    assert backend.requests[0].json_schema["required"] == ["title"]
    assert draft_title(_reply("《灯塔来信》"), "写一篇三万字的悬疑小说，讲灯塔。") == "灯塔来信"
    assert fallback_title("写一篇三万字的悬疑小说，讲一位灯塔看守人。") == "灯塔看守人"
    assert fallback_title("写一篇三万字的悬疑小说。") == "悬疑小说"
    assert draft_title(_reply("The Lighthouse"), "写一篇小说，讲灯塔。") == "灯塔"  # not English
    assert clean_title("", "A tale of two foxes, 500 words") == "A tale of two foxes"
    long = draft_title(_reply(" ".join(["word"] * 20)), INSTRUCTION)
    assert long == " ".join(["word"] * 8)


def _book_model(request) -> str:
    schema = request.json_schema or {}
    if "title" in schema.get("properties", {}):
        return json.dumps({"title": "The Letters from the Wreck"})
    if "sections" in schema.get("properties", {}):
        rows = [{"title": "One", "main_point": "It begins.", "words": 100}]
        return json.dumps({"sections": rows})
    return prose(100, seed=len(request.messages[-1]["content"]))


def test_write_titles_the_book_and_exports_and_the_list_use_it(monkeypatch, db_path, tmp_path):
    import engine.models.backends

    monkeypatch.setattr(
        engine.models.backends, "open_backend", lambda *a, **k: FakeBackend(_book_model)
    )
    monkeypatch.setitem(LANGUAGE, "chosen", "en")
    runner = CliRunner()
    db = ["--db", str(db_path)]
    result = runner.invoke(cli, ["write", "Write a 100-word story about a wreck.", *db])
    assert result.exit_code == 0, result.output
    assert "Title: The Letters from the Wreck" in result.stderr
    store = Store(db_path)
    project = store.project("Write a 100-word story about a")  # the name: the instruction's
    assert project.title == "The Letters from the Wreck"
    assert project_document(store, project).title == "The Letters from the Wreck"
    out = tmp_path / "wreck.md"
    runner.invoke(cli, ["export", "doc", project.name, "-o", str(out), *db])
    assert out.read_text().startswith("# The Letters from the Wreck\n")
    listed = runner.invoke(cli, ["projects", *db]).output
    assert listed.strip().endswith("\tThe Letters from the Wreck")


def test_a_project_without_a_title_keeps_its_name(db_path):
    store = Store(db_path)
    project = store.create_project("Old Tale", "Write a tale.", 100)
    store.db.execute("update projects set title = null where id = ?", [project.id])
    project = store.project("Old Tale")
    assert project.title == "" and project.book_title == "Old Tale"
    assert store.list_projects()[0].title == "Old Tale"
    renamed = store.update_project(project, title="A New Title")
    assert renamed.book_title == "A New Title" and renamed.name == "Old Tale"


@pytest.mark.parametrize(
    "instruction",
    [INSTRUCTION, "写一篇两千字的小说，讲一位老渔夫和一只会说话的海鸥。"],
    ids=["english", "chinese"],
)
def test_the_real_model_drafts_a_title(backend, instruction):
    title = draft_title(backend, instruction, seed=1)
    print(repr(title))
    assert title and "\n" not in title and not re.search('["“”「」《》]', title)
    assert not title.lower().startswith("write a") and not title.startswith("写")
    assert len(title.split()) <= 8 and len(title) <= 80
    assert language_of(title) == language_of(instruction)
