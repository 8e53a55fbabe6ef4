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


def load_chatglm_model(folder: Path, chatglm: dict):
    """The checkpoint's safetensors in a float32 transformers GlmForCausalLM on the CPU."""
    import torch
    from safetensors import safe_open
    from transformers import GlmForCausalLM

    config = glm_config(chatglm)
    with torch.device("meta"):  # no memory for weights that are about to be replaced
        model = GlmForCausalLM(config)
    state = {}
    try:
        for shard in _shards(folder):
            with safe_open(shard, framework="pt") as tensors:
                for name in tensors.keys():
                    state.update(_renamed(name, tensors.get_tensor(name).float(), config))
        missing = sorted(set(model.state_dict()) - set(state))
        if missing:
            raise UserError(key="error.chatglm_missing_tensor", tensor=missing[0], path=folder)
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as error:  # a tensor of the wrong shape, an unreadable file
        first_line = str(error).strip().splitlines()[0]
        raise UserError(key="error.checkpoint_load", path=folder, problem=first_line) from None
    # the rotary frequencies are computed, not stored: make them on the CPU
    model.model.rotary_emb = type(model.model.rotary_emb)(config=config)
    return model


def _shards(folder: Path) -> list[Path]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {})
        return [folder / name for name in sorted(set(weight_map.values()))]
    shards = sorted(folder.glob("*.safetensors"))
    if not shards:
        raise UserError(key="error.chatglm_weights", path=folder)
    return shards


def _renamed(name: str, tensor, config) -> dict:
    """The GLM tensors one remote-code tensor becomes (none for the stored rope frequencies)."""
    if name.endswith("rotary_pos_emb.inv_freq"):
        return {}
    for pattern, replacement in RENAMES.items():
        if re.fullmatch(pattern, name):
            glm_name = re.sub(pattern, replacement, name)
            break
    else:
        raise UserError(key="error.stray_tensor", tensor=name, arch="chatglm")
    if ".qkv_proj." not in glm_name:
        return {glm_name: tensor}
    q_rows = config.num_attention_heads * config.head_dim
    kv_rows = config.num_key_value_heads * config.head_dim
    q, k, v = tensor.split([q_rows, kv_rows, kv_rows])
    return {
        glm_name.replace("qkv_proj", part): t
        for part, t in zip(("q_proj", "k_proj", "v_proj"), (q, k, v), strict=True)
    }
