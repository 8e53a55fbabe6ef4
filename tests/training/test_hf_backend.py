"""Sampling from a Hugging Face checkpoint stops at the chat template's end of turn, even when
the model's generation config names another EOS (as a base Llama-3.1's <|end_of_text|> does)."""

import copy
import json
import shutil

import torch

from engine.models.backends.base import ChatRequest
from engine.schema import SamplingSettings
from training.hf_backend import TransformersBackend, stop_token_ids


def test_end_of_turn_comes_from_the_chat_template(tokenizer):
    other_eos = copy.deepcopy(tokenizer)
    other_eos.eos_token = "<|endoftext|>"
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    endoftext = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = type("GenerationConfig", (), {"eos_token_id": [endoftext]})()
    assert stop_token_ids(other_eos, config) == [im_end, endoftext]


def test_generation_stops_on_end_of_turn(tiny_checkpoint, tokenizer, tmp_path):
    folder = shutil.copytree(tiny_checkpoint, tmp_path / "base-like")
    endoftext = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    (folder / "generation_config.json").write_text(json.dumps({"eos_token_id": endoftext}))
    backend = TransformersBackend(folder)
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    push = torch.zeros(len(tokenizer))
    push[im_end] = 1000.0  # the model now always says its turn is over
    backend.model.lm_head.register_forward_hook(lambda module, inputs, output: output + push)
    request = ChatRequest(
        messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=8,
        sampling=SamplingSettings(temperature=0.0, seed=0),
    )
    reply = "".join(backend.stream(request))
    assert backend.last_usage.output_tokens == 1, "generation ran past the end of turn"
    assert reply == ""
