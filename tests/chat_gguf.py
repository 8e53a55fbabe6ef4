"""Copies of the embedded GGUF that speak another model family's chat format.

The embedded SmolLM2 was trained on ChatML: it ends a reply with <|im_end|> (id 2) after
<|im_start|> (id 1) opened the turn. Renaming those control tokens to another family's markers,
and storing that family's chat template (from its public tokenizer config), gives a real model
whose prompts render, tokenize and stop exactly as that family's GGUF would, in a few seconds.
"""

import json
from pathlib import Path

import gguf

from engine.models.discovery import embedded_model_path

TEMPLATES = json.loads((Path(__file__).parent / "data" / "chat_templates.json").read_text())

# family -> (token renames by id, special token ids, add_bos)
FAMILIES = {
    # <|start_header_id|> takes <|im_start|>'s place and <|eot_id|> that of <|im_end|>.
    "llama-3.1": (
        {
            0: "<|end_of_text|>",
            1: "<|start_header_id|>",
            2: "<|eot_id|>",
            3: "<|end_header_id|>",
            4: "<|begin_of_text|>",
        },
        {"bos_token_id": 4, "eos_token_id": 0},
        True,
    ),
    # As llama.cpp's converter writes GLM-4: eos <|endoftext|>, eot <|user|>, no BOS added.
    # <|observation|> takes <|im_end|>'s place, so the model ends its turns with it.
    "glm-4": (
        {
            1: "<|assistant|>",
            2: "<|observation|>",
            3: "[gMASK]",
            4: "<sop>",
            5: "<|system|>",
            6: "<|user|>",
        },
        {"bos_token_id": 3, "eos_token_id": 0, "eot_token_id": 6},
        False,
    ),
}


def write_family_gguf(family: str, path: Path) -> Path:
    """Write the embedded model with `family`'s special tokens and chat template to path."""
    renames, special_ids, add_bos = FAMILIES[family]
    reader = gguf.GGUFReader(embedded_model_path())
    arch = reader.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(path, arch)
    replaced = {
        "general.name": f"embedded-as-{family}",
        "tokenizer.chat_template": TEMPLATES[family],
        "tokenizer.ggml.add_bos_token": add_bos,
    }
    for key, value in special_ids.items():
        replaced[f"tokenizer.ggml.{key}"] = value
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name == "general.architecture":
            continue
        kind = field.types[0]
        sub_type = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        value = field.contents()
        if field.name == "tokenizer.ggml.tokens":
            value = [renames.get(i, token) for i, token in enumerate(value)]
        value = replaced.pop(field.name, value)
        writer.add_key_value(field.name, value, kind, sub_type=sub_type)
    for key, value in replaced.items():  # ids the original did not have, e.g. eot
        writer.add_key_value(key, value, gguf.GGUFValueType.UINT32)
    for tensor in reader.tensors:
        data = tensor.data
        writer.add_tensor_info(tensor.name, data.shape, data.dtype, data.nbytes, tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for tensor in reader.tensors:
        writer.write_tensor_data(tensor.data)
    writer.close()
    return path
