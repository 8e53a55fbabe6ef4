"""Fixtures for the training tests (they need the `train` extra: torch, transformers, TRL)."""

import pytest


@pytest.fixture(scope="session")
def tokenizer():
    """The embedded SmolLM2's tokenizer and chat template, read by transformers from the GGUF."""
    from training.models import load_tokenizer

    return load_tokenizer("embedded")
