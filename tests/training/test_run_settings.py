"""What a long run needs before step 1 and while it runs: the longest prepared row found
without a Python int per token, checkpoints every few hundred steps that resume from the
newest complete one, TensorBoard and eval settings, `longwrite train status`, and no LoRA run
on a base whose chat template's rows it cannot train."""

import json

import pytest

from training.recipe import LoraSection, ModelSection, SFTRecipe


def test_longest_row_reads_the_arrow_lengths(monkeypatch):
    from datasets import Dataset

    from training.sft import longest_row

    dataset = Dataset.from_dict({"input_ids": [[1] * 5, [2] * 300, [3] * 7], "labels": [[0]] * 3})

    def no_rows(*args):
        raise AssertionError("rows were turned into Python objects")

    monkeypatch.setattr(Dataset, "__getitem__", no_rows)
    assert longest_row(dataset) == 300


def test_sft_settings_save_often_and_report(tmp_path):
    from training.sft import sft_config

    recipe = SFTRecipe(
        model=ModelSection(name="embedded"),
        data=str(tmp_path),
        output_dir=str(tmp_path / "out"),
        trainer={"use_cpu": True, "bf16": False},
    )
    args = sft_config(recipe, 100)
    assert (args.save_strategy, args.save_steps, args.save_total_limit) == ("steps", 400, 3)
    assert args.report_to == ["tensorboard"]
    assert args.eval_strategy == "no"
    with_eval = sft_config(recipe, 100, has_eval=True)
    assert with_eval.eval_strategy == "steps" and with_eval.eval_steps == 200


def test_newest_complete_checkpoint(tmp_path):
    from training.sft import newest_checkpoint

    for step, complete in ((400, True), (800, True), (1200, False)):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        if complete:
            (folder / "trainer_state.json").write_text("{}")
    assert newest_checkpoint(tmp_path) == tmp_path / "checkpoint-800"
    assert newest_checkpoint(tmp_path / "checkpoint-1200") is None


def test_resume_options_reach_the_run(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from app.cli import cli

    seen = []
    monkeypatch.setattr("training.sft.run_sft", lambda recipe, resume: seen.append(resume))
    recipe = tmp_path / "sft.yaml"
    recipe.write_text("model: {name: embedded}\ndata: d\noutput_dir: o\n")
    for extra in ([], ["--resume"], ["--resume-from-checkpoint", "o/checkpoint-4"]):
        result = CliRunner().invoke(cli, ["train", "sft", str(recipe), *extra])
        assert result.exit_code == 0, result.output
    assert seen == [None, "auto", "o/checkpoint-4"]


def test_lora_on_a_base_with_a_borrowed_template_is_refused():
    base = ModelSection(
        name="meta-llama/Llama-3.1-8B", tokenizer="meta-llama/Llama-3.1-8B-Instruct"
    )
    with pytest.raises(ValueError, match="untrained"):
        SFTRecipe(model=base, data="d", output_dir="o", lora=LoraSection())
    SFTRecipe(model=base, data="d", output_dir="o")  # full fine-tuning trains every row
    instruct = ModelSection(name="meta-llama/Llama-3.1-8B-Instruct")
    SFTRecipe(model=instruct, data="d", output_dir="o", lora=LoraSection())


def metrics_rows(folder, rows):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))


def test_train_status_reads_the_log(tmp_path):
    from click.testing import CliRunner

    from app.cli import cli

    rows = [
        {"step": s, "max_steps": 100, "epoch": s / 50, "time": 1000.0 + 2 * s,
         "loss": 3.0 - s / 100, "num_input_tokens_seen": 4096 * s}
        for s in range(1, 21)
    ]  # fmt: skip
    rows.insert(10, {"step": 10, "max_steps": 100, "time": 1021.0, "eval_loss": 2.95})
    # a crash after step 20, resumed from step 16 an hour later: the gap is not training time
    rows += [
        {"step": s, "max_steps": 100, "epoch": s / 50, "time": 5000.0 + 2 * (s - 16),
         "loss": 3.0 - s / 100, "num_input_tokens_seen": 4096 * s}
        for s in range(17, 31)
    ]  # fmt: skip
    metrics_rows(tmp_path / "run", rows)
    result = CliRunner().invoke(cli, ["train", "status", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    print(result.output)
    lines = result.output.splitlines()
    assert lines[0] == "step 30 / 100, epoch 0.60"
    assert lines[1] == "train loss 2.7000 (mean of the last 10: 2.7450)"
    assert lines[2] == "eval loss 2.9500 at step 10"
    assert lines[3] == "tokens/s 2,048"
    assert lines[4] == "2.00 s/step"
    assert lines[5] == "ETA 2 min"  # 70 steps at 2 s
    missing = CliRunner().invoke(cli, ["train", "status", str(tmp_path / "nothing")])
    assert missing.exit_code != 0 and "metrics.jsonl" in missing.output


def test_an_older_transformers_gets_gradient_checkpointing():
    """transformers 5.17 (the GPU image's) has no activation_checkpointing field: the setting
    reaches it under its older name instead of failing the run."""
    import dataclasses

    from training.sft import trainer_config

    @dataclasses.dataclass
    class OlderConfig:
        gradient_checkpointing: bool = False
        learning_rate: float = 1e-5

    config = trainer_config(OlderConfig, {"activation_checkpointing": True}, {}, learning_rate=2e-5)
    assert config == OlderConfig(gradient_checkpointing=True, learning_rate=2e-5)
