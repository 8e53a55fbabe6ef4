"""Fixtures for the training tests: the embedded model's tokenizer through transformers."""

import pytest

pytest.importorskip("trl", reason="the training extra (torch, transformers, TRL) is not installed")


@pytest.fixture(scope="session")
def tokenizer():
    from training.models import load_tokenizer

    return load_tokenizer("embedded")
