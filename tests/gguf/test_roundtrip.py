"""Round trip: embedded GGUF → Hugging Face → SFT → GGUF files the engine writes with."""

import gguf
import pytest
from transformers import AutoTokenizer

from engine.models.backends.base import ChatRequest
from engine.models.backends.llama_cpp import LlamaCppBackend
from engine.models.settings import LoadSettings
from engine.schema import SamplingSettings
from tests.gguf.conftest import EXAMPLES, EXPORTED_QUANTS, SYSTEM_LINE

pytestmark = pytest.mark.slow  # a checkpoint is trained, exported and written with

SPECIAL_TEXTS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>")


def test_every_quantization_passes_its_check(exported, models_dir):
    for quant in EXPORTED_QUANTS:
        result = exported[quant]
        print(quant, result.check.summary(), f"{result.seconds:.1f} s")
        assert result.check.passed, result.check.summary()
        assert result.check.tokenizer_matches
        assert result.path == models_dir / f"SmolLM2-SFT-test-{quant}.gguf"
    assert sorted(p.name for p in models_dir.iterdir()) == sorted(
        f"SmolLM2-SFT-test-{quant}.gguf" for quant in EXPORTED_QUANTS
    ), "only checked files, and no leftovers, may remain in the models folder"
    assert exported["F16"].check.top1_agreement >= 0.99


def test_metadata_comes_from_the_checkpoint(exported, trained_checkpoint):
    tokenizer = AutoTokenizer.from_pretrained(trained_checkpoint)
    reader = gguf.GGUFReader(exported["Q4_K_M"].path)

    def value(key):
        return reader.fields[key].contents()

    assert value("general.name") == "SmolLM2 SFT test"
    assert value("general.finetune") == trained_checkpoint.name
    assert value("general.base_model.0.name") == "Smollm2 135M 8k Lc100K Mix1 Ep2"
    assert value("general.file_type") == gguf.LlamaFileType.MOSTLY_Q4_K_M
    assert value("tokenizer.ggml.pre") == "gpt-2"
    assert value("tokenizer.ggml.eos_token_id") == tokenizer.eos_token_id
    assert value("tokenizer.chat_template") == tokenizer.chat_template
    assert SYSTEM_LINE in value("tokenizer.chat_template")


@pytest.mark.parametrize("quant", EXPORTED_QUANTS)
def test_engine_writes_a_short_piece(exported, trained_checkpoint, quant):
    tokenizer = AutoTokenizer.from_pretrained(trained_checkpoint)
    backend = LlamaCppBackend(exported[quant].path, LoadSettings(n_ctx=1024))
    try:
        assert backend.info.name == "SmolLM2 SFT test"
        assert backend.info.quantization == quant
        assert backend.info.chat_template == tokenizer.chat_template
        request = ChatRequest(
            messages=[{"role": "user", "content": EXAMPLES[0][0]}],
            max_tokens=120,
            sampling=SamplingSettings(temperature=0.0, seed=0),
        )
        text = "".join(backend.stream(request))
        usage = backend.last_usage
        prompt = backend.render(request.messages)
    finally:
        backend.close()
    print(quant, repr(text))
    assert SYSTEM_LINE in prompt
    assert text.strip()
    assert not any(special in text for special in SPECIAL_TEXTS), text
    assert usage.output_tokens < request.max_tokens, "generation did not stop at end of turn"
    if quant == "F16":  # greedy decoding of an exact conversion repeats the fine-tuned reply
        assert text.strip() == EXAMPLES[0][1]
