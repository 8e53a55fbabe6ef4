"""Loading models for training: a missing FlashAttention is one line of advice, not a traceback."""

import importlib.util

import pytest

from engine.errors import UserError
from tests.conftest import run_cli
from training.models import load_model

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("flash_attn") is not None, reason="flash-attn is installed here"
)


def test_flash_attention_without_flash_attn_is_a_user_error(tiny_checkpoint):
    with pytest.raises(UserError, match="pip install flash-attn"):
        load_model(str(tiny_checkpoint), attn_implementation="flash_attention_2")


def test_sft_recipe_asking_for_flash_attention_fails_in_one_line(tiny_checkpoint, tmp_path):
    recipe = tmp_path / "sft.yaml"
    recipe.write_text(
        f"model: {{name: {tiny_checkpoint}, attn_implementation: flash_attention_2}}\n"
        f"data: {tmp_path}/data\noutput_dir: {tmp_path}/out\n"
    )
    result = run_cli("train", "sft", str(recipe))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "attn_implementation: sdpa" in errors[0], result.stderr
