"""The GPU voice recipe (training/recipes/gpu/voice_qlora.sh) calls real commands with options
they take: it runs here with a recorder in place of `longwrite`, and every command it recorded
is parsed by the real command line, as far as validating its options (nothing runs)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from app.cli import cli

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "training" / "recipes" / "gpu" / "voice_qlora.sh"
# Records its arguments; `export gguf` leaves the files the real one writes in its -o folder.
RECORDER = """
import json, sys
from pathlib import Path
args = sys.argv[1:]
with open(sys.argv[0] + ".log", "a") as log:
    log.write(json.dumps(args) + "\\n")
if args[:2] == ["export", "gguf"]:
    out, name = Path(args[args.index("-o") + 1]), args[args.index("--name") + 1]
    out.mkdir(parents=True, exist_ok=True)
    for quant in ("F16", "Q4_K_M"):
        (out / f"{name}-{quant}.gguf").touch()
"""


def parse(argv: list[str]) -> click.Context:
    """The leaf command's context for argv, as `longwrite` would build it before running."""
    context = cli.make_context("longwrite", list(argv))
    command, args = cli, context.protected_args + context.args
    while isinstance(command, click.Group):
        name, command, args = command.resolve_command(context, args)
        context = command.make_context(name, args, parent=context)
        args = context.protected_args + context.args if isinstance(command, click.Group) else []
    return context


@pytest.mark.filterwarnings("ignore:'protected_args' is deprecated")
@pytest.mark.parametrize("model, hub", [("llama", "llama3.1-8b"), ("glm", "glm4-9b")])
def test_the_voice_recipe_runs_real_commands(tmp_path, model, hub):
    recorder = tmp_path / "longwrite.py"
    recorder.write_text(RECORDER)
    run = tmp_path / "run"
    env = {**os.environ, "LONGWRITE": f"{sys.executable} {recorder}", "STEPS": "30"}
    subprocess.run(
        ["bash", str(RECIPE), model, str(run), "novel.md", "My project"],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    calls = [json.loads(line) for line in Path(f"{recorder}.log").read_text().splitlines()]
    assert [call[:2] for call in calls] == [
        ["export", "gguf"],
        ["voice", "data"],
        ["voice", "train"],
        ["export", "gguf-lora"],
    ]
    assert calls[0][2] == f"THUDM/LongWriter-{hub}"
    contexts = [parse(call) for call in calls]
    data, train, adapter = contexts[1].params, contexts[2].params, contexts[3].params
    assert data["sources"] == ("novel.md", "My project")
    assert data["model_path"].endswith("-Q4_K_M.gguf")
    assert train["qlora"] and train["rank"] == 16 and train["steps"] == 30
    assert train["base"] == f"THUDM/LongWriter-{hub}"
    assert str(adapter["base_gguf"]).endswith("-F16.gguf")


def test_the_voice_recipe_says_how_to_call_it(tmp_path):
    for args in ([], ["mistral", str(tmp_path)], ["llama", str(tmp_path)]):
        result = subprocess.run(["bash", str(RECIPE), *args], capture_output=True, text=True)
        assert result.returncode == 2 and result.stderr.strip(), result
