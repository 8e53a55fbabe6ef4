"""The checkpoint's byte-level BPE tokenizer as GGUF metadata: tokens, merges, specials."""

import json
from dataclasses import dataclass, field

import gguf

from engine.errors import UserError
from training.gguf.architectures import Architecture

# Pre-tokenizer regexes of the tokenizer.json files llama.cpp knows, by its `tokenizer.ggml.pre` id.
_LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
PRE_TOKENIZERS = {
    ("byte_level",): "gpt-2",
    ("digits", "byte_level"): "smollm",
    ("split:" + _LLAMA3_SPLIT, "byte_level_no_regex"): "llama-bpe",
    ("split:" + _QWEN2_SPLIT, "byte_level_no_regex"): "qwen2",
}


@dataclass
class Vocab:
    """Everything llama.cpp needs to tokenize exactly like the checkpoint's tokenizer."""

    tokens: list[str]
    token_types: list[int]
    merges: list[str]
    pre: str
    special_ids: dict[str, int] = field(default_factory=dict)
    add_bos: bool = False
    add_eos: bool = False
    chat_template: str | None = None

    def add_to(self, writer: gguf.GGUFWriter) -> None:
        writer.add_tokenizer_model("gpt2")
        writer.add_tokenizer_pre(self.pre)
        writer.add_token_list(self.tokens)
        writer.add_token_types(self.token_types)
        writer.add_token_merges(self.merges)
        for kind, token_id in self.special_ids.items():
            getattr(writer, f"add_{kind}_token_id")(token_id)
        writer.add_add_bos_token(self.add_bos)
        writer.add_add_eos_token(self.add_eos)
        if self.chat_template:
            writer.add_chat_template(self.chat_template)


def read_vocab(tokenizer, n_vocab: int, arch: Architecture | None = None) -> Vocab:
    """Build the Vocab of a transformers fast tokenizer for an embedding of n_vocab rows, with
    the pre-tokenizer name and special tokens llama.cpp's own conversion gives `arch`."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise UserError(key="error.no_fast_tokenizer")
    spec = json.loads(backend.to_str())
    model = spec.get("model") or {}
    if model.get("type") != "BPE" or not _is_byte_level(spec):
        raise UserError(key="error.tokenizer_kind", kind=model.get("type"))
    by_id = {token_id: text for text, token_id in tokenizer.get_vocab().items()}
    if max(by_id) >= n_vocab:
        raise UserError(key="error.vocab_size", ids=max(by_id), embeddings=n_vocab)
    added = tokenizer.added_tokens_decoder
    tokens, types = [], []
    for token_id in range(n_vocab):
        if token_id not in by_id:
            tokens.append(f"[PAD{token_id}]")
            types.append(gguf.TokenType.UNUSED)
        elif token_id in added:
            tokens.append(added[token_id].content)
            special = added[token_id].special
            types.append(gguf.TokenType.CONTROL if special else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(by_id[token_id])
            types.append(gguf.TokenType.NORMAL)
    probe = tokenizer("a").input_ids
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    special_ids = {
        kind: token_id
        for kind, token_id in (
            ("bos", bos),
            ("eos", eos),
            ("unk", tokenizer.unk_token_id),
            ("pad", tokenizer.pad_token_id),
        )
        if token_id is not None
    }
    vocab = tokenizer.get_vocab()
    for kind, text in arch.special_tokens if arch else ():
        if text in vocab:
            special_ids[kind] = vocab[text]
    pre = pre_tokenizer_id(spec.get("pre_tokenizer"))
    if arch and arch.pre_tokenizer and pre == "llama-bpe":
        pre = arch.pre_tokenizer
    return Vocab(
        tokens=tokens,
        token_types=[int(t) for t in types],
        merges=[_merge_text(merge) for merge in model.get("merges", [])],
        pre=pre,
        special_ids=special_ids,
        add_bos=bos is not None and probe[:1] == [bos],
        add_eos=eos is not None and probe[-1:] == [eos],
        chat_template=_chat_template(tokenizer),
    )


def pre_tokenizer_id(pre_tokenizer: dict | None) -> str:
    """llama.cpp's name for a tokenizer.json pre-tokenizer, or a UserError."""
    steps = pre_tokenizer.get("pretokenizers", []) if pre_tokenizer else []
    if pre_tokenizer and pre_tokenizer.get("type") != "Sequence":
        steps = [pre_tokenizer]
    shape = tuple(_step_name(step) for step in steps)
    if shape not in PRE_TOKENIZERS:
        raise UserError(key="error.pre_tokenizer", shape=shape)
    return PRE_TOKENIZERS[shape]


def _step_name(step: dict) -> str:
    kind = step.get("type")
    if kind == "ByteLevel":
        return "byte_level" if step.get("use_regex", True) else "byte_level_no_regex"
    if kind == "Digits" and step.get("individual_digits"):
        return "digits"
    if kind == "Split":
        pattern = step.get("pattern", {})
        return "split:" + (pattern.get("Regex") or pattern.get("String") or "")
    return str(kind)


def _is_byte_level(spec: dict) -> bool:
    return "ByteLevel" in json.dumps(spec.get("pre_tokenizer")) + json.dumps(spec.get("decoder"))


def _merge_text(merge) -> str:
    """A merge as llama.cpp stores it: 'left right', with spaces inside a part shifted to U+0120."""
    if isinstance(merge, str):
        return merge
    return " ".join(part.replace(" ", chr(ord(" ") + 256)) for part in merge)


def _chat_template(tokenizer) -> str | None:
    template = tokenizer.chat_template
    if isinstance(template, dict):
        template = template.get("default")
    return template or None
