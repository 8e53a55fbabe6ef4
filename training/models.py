"""Loading tokenizers and causal LMs for training: a Hugging Face id or folder (a GLM-4 folder in
THUDM's remote-code layout is converted once, see glm_base), a GGUF file (dequantized by
transformers), "embedded" for the studio's SmolLM2, or a tiny random model that shares a
tokenizer (the CPU miniature)."""

from pathlib import Path

from engine.errors import UserError
from engine.models.discovery import embedded_model_path
from training.glm_base import trainable_base
from training.recipe import LoraSection, ModelSection


def _gguf_location(name: str) -> tuple[str, dict]:
    """from_pretrained arguments for a model name: (folder or id, extra keyword arguments)."""
    path = embedded_model_path() if name == "embedded" else Path(name).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise UserError(key="error.gguf_missing", path=path)
        return str(path.parent), {"gguf_file": path.name}
    return trainable_base(str(name)), {}


def load_tokenizer(name: str):
    """The tokenizer (with its chat template) of a model id, folder, GGUF file or "embedded"."""
    from transformers import AutoTokenizer

    location, extra = _gguf_location(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, **extra)
    except (OSError, ValueError) as error:
        raise UserError(
            key="error.tokenizer_load", name=name, problem=str(error).split("\n")[0]
        ) from None
    if tokenizer.chat_template is None:
        raise UserError(key="error.no_chat_template", name=name)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(name: str, dtype: str = "auto", attn_implementation: str = "sdpa", **kwargs):
    """A causal LM from a model id, folder, GGUF file or "embedded"."""
    import torch
    from transformers import AutoModelForCausalLM

    check_attention(attn_implementation)
    location, extra = _gguf_location(name)
    if "gguf_file" in extra:  # a plain float model, which save_pretrained writes without GGUF keys
        from transformers import GgufConfig

        extra["quantization_config"] = GgufConfig(dequantize=True)
    torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
    try:
        return AutoModelForCausalLM.from_pretrained(
            location, dtype=torch_dtype, attn_implementation=attn_implementation, **extra, **kwargs
        )
    except (OSError, ValueError, ImportError) as error:
        raise UserError(
            key="error.model_load", name=name, problem=str(error).split("\n")[0]
        ) from None


def check_attention(attn_implementation: str) -> None:
    """Refuse FlashAttention before loading any weights when flash-attn is not installed."""
    import importlib.util

    if attn_implementation == "flash_attention_2" and not importlib.util.find_spec("flash_attn"):
        raise UserError(key="error.flash_attn", attention=attn_implementation)


def tiny_model(tokenizer, hidden_size: int, layers: int, heads: int, seed: int = 0):
    """A randomly initialised Llama-architecture model over the tokenizer's vocabulary."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 4,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=8192,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return LlamaForCausalLM(config)


def build_model(section: ModelSection, tokenizer, lora: LoraSection | None, seed: int = 0):
    """The model to train: tiny and random, or loaded (4-bit for QLoRA)."""
    if section.tiny is not None:
        sizes = section.tiny
        return tiny_model(tokenizer, sizes.hidden_size, sizes.layers, sizes.heads, seed)
    extra = {}
    if lora is not None and lora.quantize_4bit:
        try:
            import bitsandbytes  # noqa: F401
            import torch
            from transformers import BitsAndBytesConfig
        except ImportError:
            raise UserError(key="error.qlora_needs") from None
        extra["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=torch.bfloat16,
            bnb_4bit_use_double_quant=True,
        )
    return load_model(section.name, section.dtype, section.attn_implementation, **extra)
