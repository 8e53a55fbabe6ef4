"""Every recipe file is valid for the pinned libraries, on CPU, before any GPU time is spent:
TRL configs build from every YAML recipe, accelerate accepts every launcher config, DeepSpeed
knows every key of every JSON, and every path and command in the recipes README exists."""

import json
import re
import shlex
from pathlib import Path

import click
import pytest

from app.cli import cli
from engine.errors import UserError
from training.dpo import dpo_config
from training.recipe import DPORecipe, SFTRecipe, load_recipe
from training.sft import sft_config

REPO = Path(__file__).resolve().parents[2]
RECIPES = REPO / "training/recipes"
YAML_RECIPES = sorted(
    path
    for path in RECIPES.glob("**/*.yaml")
    if not path.name.startswith("accelerate") and path.parent.name != "recipes"
)
ACCELERATE_CONFIGS = sorted(RECIPES.glob("**/accelerate_*.yaml"))
DEEPSPEED_CONFIGS = sorted(path for path in RECIPES.glob("**/*.json") if "zero" in path.name)
README = (RECIPES / "README.md").read_text(encoding="utf-8")


def _recipe_id(path: Path) -> str:
    return str(path.relative_to(RECIPES))


@pytest.mark.parametrize("path", YAML_RECIPES, ids=_recipe_id)
def test_recipe_builds_its_trl_config(path, monkeypatch, tmp_path):
    monkeypatch.setenv("RUN", str(tmp_path))
    if "gpu" in path.parts:  # built as on a bf16 GPU; everything else is checked as it is
        monkeypatch.setattr("transformers.training_args.is_torch_bf16_gpu_available", lambda: True)
    if "dpo" in path.name:
        recipe = load_recipe(path, DPORecipe)
        args = dpo_config(recipe)
        assert args.beta > 0
        if recipe.sft_weight:  # DPO plus the SFT loss on chosen replies, with its weight
            assert args.loss_type == ["sigmoid", "sft"]
            assert args.loss_weights == [1.0, recipe.sft_weight]
    else:
        recipe = load_recipe(path, SFTRecipe)
        args = sft_config(recipe, recipe.pack_length)
        assert args.max_length == recipe.pack_length
    assert args.output_dir.startswith(str(tmp_path))


def test_unknown_trainer_key_fails(monkeypatch, tmp_path):
    monkeypatch.setenv("RUN", str(tmp_path))
    recipe = load_recipe(RECIPES / "gpu/sft.yaml", SFTRecipe, {"learning_rat": 1e-5})
    with pytest.raises(UserError, match="learning_rat"):
        sft_config(recipe, recipe.pack_length)


def test_unknown_model_key_fails(tmp_path):
    path = tmp_path / "sft.yaml"
    path.write_text("model: {name: x, flash: true}\ndata: d\noutput_dir: o\n")
    with pytest.raises(UserError, match="flash"):
        load_recipe(path, SFTRecipe)


def launch_option_names() -> set[str]:
    from accelerate.commands.launch import launch_command_parser

    return {action.dest for action in launch_command_parser()._actions}


@pytest.mark.parametrize("path", ACCELERATE_CONFIGS, ids=_recipe_id)
def test_accelerate_config(path):
    from accelerate.commands.config.config_args import ClusterConfig

    config = ClusterConfig.from_yaml_file(path)  # refuses unknown top-level keys
    options = launch_option_names()
    for section, prefix in (("deepspeed_config", ""), ("fsdp_config", "fsdp_")):
        for key in getattr(config, section):
            name = key if key.startswith(prefix) else prefix + key
            assert name in options, f"{path.name}: accelerate does not know {section}.{key}"
    deepspeed_file = config.deepspeed_config.get("deepspeed_config_file")
    if deepspeed_file:
        assert (REPO / deepspeed_file).is_file(), deepspeed_file
    if config.num_machines > 1 and config.distributed_type == "DEEPSPEED":
        # without it accelerate starts the other nodes through pdsh from node 0
        assert config.deepspeed_config.get("deepspeed_multinode_launcher") == "standard"


def deepspeed_known_keys() -> set[str]:
    """Every top-level config key DeepSpeed defines (the constants its config reader uses)."""
    from deepspeed.runtime import constants
    from deepspeed.runtime.zero import config as zero_config

    return {
        value
        for module in (constants, zero_config)
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, str)
    }


@pytest.mark.parametrize("path", DEEPSPEED_CONFIGS, ids=_recipe_id)
def test_deepspeed_config(path):
    config = json.loads(path.read_text(encoding="utf-8"))
    zero = config["zero_optimization"]
    if zero.get("offload_optimizer", {}).get("device") == "cpu":
        # DeepSpeed refuses the trainer's own optimizer when the optimizer state is offloaded
        assert config["optimizer"]["type"] in ("AdamW", "Adam")
    pytest.importorskip("deepspeed")
    from deepspeed.runtime.zero.config import DeepSpeedZeroConfig

    unknown = set(config) - deepspeed_known_keys()
    assert not unknown, f"DeepSpeed does not know {unknown}"
    settled = {k: v for k, v in zero.items() if v != "auto"}  # "auto" is filled by transformers
    DeepSpeedZeroConfig(**settled)  # refuses unknown and ill-typed keys


def readme_paths() -> set[str]:
    return set(re.findall(r"\b((?:training|tests|bench)/[\w./-]*\w)", README))


def test_readme_paths_exist():
    missing = [path for path in readme_paths() if not (REPO / path).exists()]
    assert not missing


def readme_commands() -> list[list[str]]:
    """Each command line of the README's bash blocks, variables replaced by sample values."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("#")[0].strip()
            if line:
                line = re.sub(r'"?\$\{?(\w+)\}?"?', lambda m: SAMPLE_VALUES[m[1]], line)
                words = shlex.split(line)
                while "=" in words[0]:  # leading VAR=value assignments
                    words.pop(0)
                commands.append(words)
    return commands


SAMPLE_VALUES = {"NODE_RANK": "1", "MASTER_ADDR": "10.0.0.1", "RUN": "runs/gpu"}


def check_longwrite_arguments(arguments: list[str]) -> None:
    """Parse arguments with the real `longwrite` command tree without running anything."""
    context = cli.make_context("longwrite", list(arguments))
    while isinstance(context.command, click.Group):
        words = context.protected_args + context.args
        name, command, rest = context.command.resolve_command(context, words)
        context = command.make_context(name, rest, parent=context)
    for value in context.params.values():
        if isinstance(value, (str, Path)) and str(value).startswith("training/"):
            assert (REPO / value).exists(), value


@pytest.mark.filterwarnings("ignore:'protected_args' is deprecated")
def test_readme_commands_parse():
    commands = readme_commands()
    assert commands
    for words in commands:
        if words[:2] == ["accelerate", "launch"]:
            from accelerate.commands.launch import launch_command_parser

            args = launch_command_parser().parse_args(words[2:])
            assert (REPO / args.config_file).is_file()
            assert args.module and args.training_script == "app"
            check_longwrite_arguments(args.training_script_args)
        elif words[0] == "deepspeed":
            module = words.index("--module")
            assert words[module + 1] == "app"
            # the DeepSpeed launcher puts --local_rank=N before the script's own arguments
            check_longwrite_arguments(["--local_rank=3", *words[module + 2 :]])
        elif words[0] == "longwrite":
            check_longwrite_arguments(words[1:])
        elif words[0] in ("bash", "PROCS=2"):
            assert (REPO / words[1]).is_file()
        else:
            pytest.fail(f"unknown launcher in the README: {words}")


def test_deepspeed_launcher_rank_argument_is_accepted(tmp_path):
    from click.testing import CliRunner

    result = CliRunner().invoke(
        cli, ["--local_rank=0", "train", "sft", str(tmp_path / "missing.yaml")]
    )
    assert "No such option" not in result.output
    assert "Recipe not found" in str(result.exception) + result.output


def test_readme_states_what_is_ours_and_what_is_untested():
    """The recipes README does not call our DPO settings the paper's, says that DeepSpeed's
    ZeRO-3 gather is untested here, and gives the offload recipe's CPU Adam build line."""
    dpo = README[README.index("5. **DPO**") : README.index("6. **Export**")]
    assert "**ours**, not the paper's" in dpo
    assert "DeepSpeed's ZeRO-3 gather" in README and "no test here runs" in README
    offloads = [
        path
        for path in DEEPSPEED_CONFIGS
        if json.loads(path.read_text())["zero_optimization"].get("offload_optimizer")
    ]
    for path in offloads:
        assert path.name in README
    if offloads:
        assert "DS_BUILD_CPU_ADAM=1 pip install deepspeed" in README.replace("\n", " ")
        assert "ninja" in README and "CUDA toolkit" in README
