"""The final checkpoint of a LoRA run: the adapter with its tokenizer and a local base, and a
full-precision merged model that export and DPO load (the same path a QLoRA run takes)."""

import json

import pytest
from safetensors.torch import load_file

from training.gguf.export import export_gguf
from training.recipe import LoraSection, ModelSection, SFTRecipe
from training.sft import run_sft

TRAINER = {
    "max_steps": 3,
    "learning_rate": 1e-2,
    "bf16": False,
    "activation_checkpointing": False,
    "use_cpu": True,
    "save_strategy": "no",
    "seed": 0,
}


@pytest.fixture(scope="module")
def lora_run(tiny_checkpoint, prepared_chat, tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("lora") / "sft"
    recipe = SFTRecipe(
        # the base named by a relative path, as a recipe run from the repository would
        model=ModelSection(name=str(tiny_checkpoint.relative_to(tiny_checkpoint.parents[1]))),
        data=str(prepared_chat),
        output_dir=str(output_dir),
        pack_length=512,
        lora=LoraSection(r=4, alpha=8, target_modules=["q_proj", "v_proj"]),
        trainer=TRAINER,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tiny_checkpoint.parents[1])
        final = run_sft(recipe)
    return output_dir, final


def test_adapter_has_tokenizer_and_local_base(lora_run, tiny_checkpoint):
    output_dir, _ = lora_run
    adapter = output_dir / "adapter"
    assert (adapter / "adapter_model.safetensors").is_file()
    assert (adapter / "tokenizer.json").is_file()
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(tiny_checkpoint.resolve())


def test_final_is_merged_full_precision(lora_run, tiny_checkpoint):
    _, final = lora_run
    config = json.loads((final / "config.json").read_text())
    assert "quantization_config" not in config
    assert (final / "tokenizer.json").is_file()
    merged = load_file(final / "model.safetensors")
    base = load_file(tiny_checkpoint / "model.safetensors")
    assert set(merged) == set(base), "the merged model must have the base's tensors, no lora_*"
    name = "model.layers.0.self_attn.q_proj.weight"
    assert merged[name].dtype == base[name].dtype
    assert not merged[name].equal(base[name]), "the adapter was not merged"
    assert merged["model.embed_tokens.weight"].equal(base["model.embed_tokens.weight"])


def test_export_accepts_the_adapter_folder(lora_run, tmp_path):
    output_dir, _ = lora_run
    [result] = export_gguf(output_dir / "adapter", tmp_path / "models", ["F16"], name="adapter")
    assert result.check.passed, result.check.summary()
