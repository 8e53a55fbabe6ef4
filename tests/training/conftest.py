"""Fixtures for the training tests (they need the `train` extra: torch, transformers, TRL)."""

import pytest


@pytest.fixture(scope="session")
def tokenizer():
    """The embedded SmolLM2's tokenizer and chat template, read by transformers from the GGUF."""
    from training.models import load_tokenizer

    return load_tokenizer("embedded")


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, tokenizer):
    """A saved tiny random Llama model (float32) with the embedded tokenizer and chat template."""
    import torch

    from training.models import tiny_model

    folder = tmp_path_factory.mktemp("tiny") / "tiny-llama"
    model = tiny_model(tokenizer, hidden_size=32, layers=1, heads=2)
    with torch.no_grad():  # peaked next-token distributions, so a GGUF check has decided positions
        for parameter in model.parameters():
            if parameter.ndim > 1:
                parameter.mul_(25)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def prepared_chat(tmp_path_factory, tokenizer):
    """The CPU miniature's six general chat rows, prepared for SFT (a `data prepare` folder)."""
    from pathlib import Path

    from training.prepare import PrepareOptions, prepare
    from training.records import Conversation, read_jsonl

    rows = read_jsonl(
        Path(__file__).parents[2] / "training/recipes/cpu/general.jsonl", Conversation
    )
    folder = tmp_path_factory.mktemp("prepared") / "sft_data"
    prepare(tokenizer, rows, [], folder, PrepareOptions(max_length=512))
    return folder
