"""GLM-4 in THUDM's remote-code layout (model type 'chatglm', as LongWriter-glm4-9b is published)
read as transformers' own GLM model: the same network, its fused query/key/value split in three.

No code from the checkpoint runs: config.json is translated key by key, the safetensors are
renamed tensor by tensor, and the tiktoken tokenizer is rebuilt by `tiktoken_bpe`.
"""

import json
import re
from pathlib import Path

from engine.errors import UserError

REQUIRED_KEYS = (
    "num_layers",
    "hidden_size",
    "ffn_hidden_size",
    "num_attention_heads",
    "kv_channels",
    "seq_length",
    "layernorm_epsilon",
    "padded_vocab_size",
)
# Settings earlier ChatGLM generations may change; GLM-4's values are the only ones read
GLM4_SETTINGS = {
    "rmsnorm": True,
    "post_layer_norm": True,
    "add_bias_linear": False,
    "apply_residual_connection_post_layernorm": False,
}
# remote-code tensor name → transformers GLM name (\1 is the block number)
RENAMES = {
    r"transformer\.embedding\.word_embeddings\.weight": "model.embed_tokens.weight",
    r"transformer\.encoder\.final_layernorm\.weight": "model.norm.weight",
    r"transformer\.output_layer\.weight": "lm_head.weight",
    r"transformer\.encoder\.layers\.(\d+)\.input_layernorm\.weight": (
        r"model.layers.\1.input_layernorm.weight"
    ),
    r"transformer\.encoder\.layers\.(\d+)\.post_attention_layernorm\.weight": (
        r"model.layers.\1.post_attention_layernorm.weight"
    ),
    r"transformer\.encoder\.layers\.(\d+)\.self_attention\.query_key_value\.(weight|bias)": (
        r"model.layers.\1.self_attn.qkv_proj.\2"
    ),
    r"transformer\.encoder\.layers\.(\d+)\.self_attention\.dense\.weight": (
        r"model.layers.\1.self_attn.o_proj.weight"
    ),
    r"transformer\.encoder\.layers\.(\d+)\.mlp\.dense_h_to_4h\.weight": (
        r"model.layers.\1.mlp.gate_up_proj.weight"
    ),
    r"transformer\.encoder\.layers\.(\d+)\.mlp\.dense_4h_to_h\.weight": (
        r"model.layers.\1.mlp.down_proj.weight"
    ),
}


def glm_config(chatglm: dict):
    """The transformers GlmConfig of a remote-code config.json, or a one-line UserError."""
    from transformers import GlmConfig

    grouped = bool(chatglm.get("multi_query_attention"))
    required = (*REQUIRED_KEYS, "multi_query_group_num") if grouped else REQUIRED_KEYS
    missing = [key for key in required if key not in chatglm]
    if missing:
        raise UserError(key="error.chatglm_config", keys=", ".join(missing))
    for key, value in GLM4_SETTINGS.items():
        if chatglm.get(key, value) != value:
            raise UserError(key="error.chatglm_setting", setting=key, value=chatglm[key])
    heads = chatglm["num_attention_heads"]
    return GlmConfig(
        vocab_size=chatglm["padded_vocab_size"],
        hidden_size=chatglm["hidden_size"],
        intermediate_size=chatglm["ffn_hidden_size"],
        num_hidden_layers=chatglm["num_layers"],
        num_attention_heads=heads,
        num_key_value_heads=chatglm["multi_query_group_num"] if grouped else heads,
        head_dim=chatglm["kv_channels"],
        max_position_embeddings=chatglm["seq_length"],
        rms_norm_eps=chatglm["layernorm_epsilon"],
        attention_bias=bool(chatglm.get("add_qkv_bias", False)),
        # ChatGLM rotates pairs in the first half of each head at base 10,000 × rope_ratio
        rope_parameters={
            "rope_type": "default",
            "rope_theta": 10_000.0 * float(chatglm.get("rope_ratio", 1)),
            "partial_rotary_factor": 0.5,
        },
        tie_word_embeddings=False,
        pad_token_id=chatglm.get("pad_token_id"),
        eos_token_id=chatglm.get("eos_token_id"),
    )


class ChatglmSource:
    """The remote-code shards read as transformers GLM tensors, one at a time: renamed, and
    the fused query/key/value split (the fused tensor is read for each of its three parts)."""

    def __init__(self, folder: Path, config):
        from training.gguf.streamed import SafetensorsSource

        _shards(folder)  # a UserError when there are none
        self.raw = SafetensorsSource(folder)
        self.config = config
        self.origin: dict[str, tuple[str, int]] = {}  # GLM name → (remote name, part or -1)
        self.shapes: dict[str, tuple[int, ...]] = {}
        for name, shape in self.raw.shapes.items():
            for glm_name, (part, rows) in _renamed_shapes(name, shape, config).items():
                self.origin[glm_name] = (name, part)
                self.shapes[glm_name] = (rows, *shape[1:]) if part >= 0 else shape

    def get(self, name: str):
        source, part = self.origin[name]
        tensor = self.raw.get(source)
        if part < 0:
            return tensor
        return tensor.split(_qkv_rows(self.config))[part].clone()

    def rows(self, name: str, start: int, stop: int):
        source, part = self.origin[name]
        offset = sum(_qkv_rows(self.config)[:part]) if part > 0 else 0
        return self.raw.rows(source, offset + start, offset + stop)


def load_chatglm_model(folder: Path, chatglm: dict):
    """The checkpoint as a streamed float32 transformers GlmForCausalLM (no code of it runs)."""
    from transformers import GlmForCausalLM

    from training.gguf.streamed import StreamedModel

    config = glm_config(chatglm)
    model = StreamedModel(GlmForCausalLM, config, ChatglmSource(folder, config))
    wanted = {name for name, _ in model.module.named_parameters()}
    missing = sorted(wanted - set(model.source.shapes))
    if missing:
        raise UserError(key="error.chatglm_missing_tensor", tensor=missing[0], path=folder)
    for name in wanted:
        expected = tuple(model.module.get_parameter(name).shape)
        if model.source.shapes[name] != expected:
            raise UserError(
                key="error.checkpoint_load",
                path=folder,
                problem=f"{name} has shape {model.source.shapes[name]}, expected {expected}",
            )
    return model


def _qkv_rows(config) -> list[int]:
    q_rows = config.num_attention_heads * config.head_dim
    kv_rows = config.num_key_value_heads * config.head_dim
    return [q_rows, kv_rows, kv_rows]


def _renamed_shapes(name: str, shape: tuple, config) -> dict[str, tuple[int, int]]:
    """GLM name → (qkv part or -1, rows) of the tensors one remote-code tensor becomes."""
    if name.endswith("rotary_pos_emb.inv_freq"):
        return {}
    for pattern, replacement in RENAMES.items():
        if re.fullmatch(pattern, name):
            glm_name = re.sub(pattern, replacement, name)
            break
    else:
        raise UserError(key="error.stray_tensor", tensor=name, arch="chatglm")
    if ".qkv_proj." not in glm_name:
        return {glm_name: (-1, shape[0])}
    return {
        glm_name.replace("qkv_proj", part): (i, rows)
        for i, (part, rows) in enumerate(
            zip(("q_proj", "k_proj", "v_proj"), _qkv_rows(config), strict=True)
        )
    }


def _shards(folder: Path) -> list[Path]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {})
        return [folder / name for name in sorted(set(weight_map.values()))]
    shards = sorted(folder.glob("*.safetensors"))
    if not shards:
        raise UserError(key="error.chatglm_weights", path=folder)
    return shards
