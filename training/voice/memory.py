"""The GPU memory a QLoRA voice needs, estimated from the base's config before anything loads.

An estimate, not a measurement: the parts are the base's linear weights in NF4 with double
quantization (4.127 bits a weight), its embeddings and head in bf16, the LoRA weights with
their gradients and AdamW states in bf16 (TRL casts a QLoRA adapter to bf16, as the QLoRA
paper does: 8 bytes each), the activations of one packed row under activation checkpointing
(every layer's input kept, one layer's own activations rebuilt for its backward pass, in bf16
with their gradients), the logits with their float32 loss and gradient, and a fixed allowance
for the CUDA context and the allocator's slack.
"""

from dataclasses import dataclass

from training.gguf.architectures import head_dim

GB = 1e9
NF4_BYTES = 4.127 / 8  # 4 bits a weight, plus the double-quantized block scales
LORA_BYTES = 8  # bf16 weight, gradient and AdamW's two moments
LOGIT_BYTES = 10  # bf16 logits, their float32 copy for the loss, and its gradient
CONTEXT_GB = 1.5  # the CUDA context, cuBLAS workspaces, the allocator's slack


@dataclass(frozen=True)
class QloraMemory:
    """Estimated GPU memory of one QLoRA training step, in GB, by part."""

    base: float
    lora: float
    activations: float
    logits: float

    @property
    def total(self) -> float:
        return self.base + self.lora + self.activations + self.logits + CONTEXT_GB

    def summary(self) -> str:
        return (
            f"about {self.total:.1f} GB of GPU memory (an estimate: base {self.base:.1f}, "
            f"LoRA and optimizer {self.lora:.1f}, activations {self.activations:.1f}, "
            f"logits {self.logits:.1f}, CUDA {CONTEXT_GB:.1f})"
        )


def block_shapes(config) -> list[tuple[int, int]]:
    """(inputs, outputs) of each linear layer of one block: query, key, value, attention
    output, gate, up, down (what NF4 and LoRA apply to)."""
    hidden, ffn = config.hidden_size, config.intermediate_size
    heads = config.num_attention_heads
    kv_heads = config.num_key_value_heads or heads
    head = head_dim(config)
    return [
        (hidden, heads * head),
        (hidden, kv_heads * head),
        (hidden, kv_heads * head),
        (heads * head, hidden),
        (hidden, ffn),
        (hidden, ffn),
        (ffn, hidden),
    ]


def parameter_count(config) -> int:
    """The base's weights: blocks, embeddings and head (norms and biases are left out)."""
    embeddings = config.vocab_size * config.hidden_size
    heads = 1 if getattr(config, "tie_word_embeddings", False) else 2
    block = sum(i * o for i, o in block_shapes(config))
    return block * config.num_hidden_layers + heads * embeddings


def qlora_memory(config, rank: int, pack_length: int) -> QloraMemory:
    """The estimate for LoRA of `rank` on every linear layer, on rows of `pack_length` tokens."""
    block, layers = block_shapes(config), config.num_hidden_layers
    linear = sum(i * o for i, o in block) * layers
    embeddings = parameter_count(config) - linear
    query_key_value = sum(outputs for _, outputs in block[:3])
    kept = pack_length * config.hidden_size * 2 * layers  # each layer's input, bf16
    widths = 4 * config.hidden_size + 3 * config.intermediate_size + query_key_value
    one_layer = pack_length * widths * 2 * 2  # bf16, with gradients
    return QloraMemory(
        base=(linear * NF4_BYTES + embeddings * 2) / GB,
        lora=sum(rank * (i + o) for i, o in block) * layers * LORA_BYTES / GB,
        activations=(kept + one_layer) / GB,
        logits=pack_length * config.vocab_size * LOGIT_BYTES / GB,
    )
