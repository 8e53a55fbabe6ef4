"""DPO's frozen reference model is loaded exactly like the policy: in the recipe's precision
and attention, and from the same kind of source (here the embedded GGUF, dequantized), where
TRL alone reloads it from the policy's config path."""

import json
from pathlib import Path

import pytest
import torch

from training.dpo import dpo_trainer
from training.recipe import DPORecipe, ModelSection
from training.records import Conversation, read_jsonl

pytestmark = pytest.mark.slow  # the 135M model is loaded twice

GENERAL = Path(__file__).resolve().parents[2] / "training/recipes/cpu/general.jsonl"


def test_reference_is_loaded_like_the_policy(tmp_path):
    rows = read_jsonl(GENERAL, Conversation)[:2]
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        "".join(
            json.dumps(
                {
                    "prompt": [m.model_dump() for m in row.messages[:-1]],
                    "chosen": [row.messages[-1].model_dump()],
                    "rejected": [{"role": "assistant", "content": "No."}],
                }
            )
            + "\n"
            for row in rows
        )
    )
    recipe = DPORecipe(
        model=ModelSection(name="embedded", dtype="bfloat16", attn_implementation="eager"),
        data=str(pairs),
        output_dir=str(tmp_path / "dpo"),
        trainer={"use_cpu": True, "bf16": False, "max_length": 128, "report_to": "none"},
    )
    trainer = dpo_trainer(recipe)
    policy, reference = trainer.model, trainer.ref_model
    assert reference is not None and reference is not policy
    assert reference.dtype == policy.dtype == torch.bfloat16
    assert reference.config._attn_implementation == "eager"
    for (name, theirs), mine in zip(reference.named_parameters(), policy.parameters(), strict=True):
        assert not theirs.requires_grad, name
        assert theirs.equal(mine), name
