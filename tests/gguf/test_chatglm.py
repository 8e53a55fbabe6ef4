"""GLM-4 as THUDM publishes it (LongWriter-glm4-9b's layout: model type 'chatglm', fused
query/key/value, a tiktoken tokenizer.model) exports to a GGUF that tokenizes like tiktoken,
predicts like the model and writes in the engine. The checkpoint is a tiny random transformers
GLM saved under the remote-code tensor names with a small BPE trained here."""

import base64
import json

import gguf
import pytest

from engine.errors import UserError
from engine.models.settings import LoadSettings
from tests.gguf.conftest import GLM_TEMPLATE
from training.gguf.check import TOKENIZER_SAMPLE
from training.gguf.checkpoint import load_checkpoint
from training.gguf.export import export_gguf
from training.gguf.tiktoken_bpe import (
    GLM4_SPECIAL_TOKENS,
    GLM4_SPLIT,
    load_tiktoken_tokenizer,
    read_ranks,
    recover_merges,
)

pytestmark = pytest.mark.slow  # a tiny model is built, converted and run through llama.cpp

# GLM-4's special tokens in their order after the ranks (<|user|> ends a reply, as in GLM-4)
SPECIALS = [
    "<|endoftext|>",
    "[MASK]",
    "[gMASK]",
    "[sMASK]",
    "<sop>",
    "<eop>",
    "<|system|>",
    "<|user|>",
    "<|assistant|>",
    "<|observation|>",
]
CORPUS = [
    "The harbour was quiet in the early morning, and the fishing boats rocked at their moorings.",
    "She wrote three chapters before lunch; after that, the words came slowly, if at all.",
    "In 1999 the old mill closed, and 240 people lost their jobs within a single week.",
    "Don't you think we've waited long enough? I'm sure they'll call us back by Friday.",
    "    def tokenize(text):\n        return text.split()\n\n",
    "海边的小镇在清晨格外安静，渔船在码头边轻轻摇晃。",
    "她在午饭前写完了三章；之后，文字来得很慢，有时根本不来。",
    "一九九九年，老磨坊关闭了，两百四十人在一周之内失去了工作。",
    "长篇写作需要耐心：先列提纲，再逐段展开，最后通读全文并修改。",
    "北京和东京都是大城市，但它们的街道给人的感觉完全不同。",
]
ENGLISH = (
    "The fishing boats waited in the harbour until Friday; we've seen 1,234 of them since 1999."
)
CHINESE = "清晨的码头上，她写完了第三章。长篇写作需要耐心，也需要一份好的提纲。"
N_RANKS = 900
PADDED_VOCAB = 1024  # like GLM-4's 151,552: more embedding rows than tokens
ROPE_RATIO = 50.0


def train_ranks() -> tuple[dict[bytes, int], list[tuple[bytes, bytes]]]:
    """A byte-level BPE trained on CORPUS with GLM-4's split, as tiktoken ranks (rank = id:
    the 256 bytes, then each merge's token in the order it was learnt), and its merges."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(GLM4_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=N_RANKS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), min_frequency=2
    )
    tokenizer.train_from_iterator(CORPUS * 3, trainer)
    byte_of = {text: byte for byte, text in bytes_to_unicode().items()}

    def raw(text: str) -> bytes:
        return bytes(byte_of[char] for char in text)

    spec = json.loads(tokenizer.to_str())["model"]
    ranks = {raw(text): token_id for text, token_id in spec["vocab"].items()}
    merges = [tuple(raw(part) for part in merge) for merge in spec["merges"]]
    return ranks, merges


def save_chatglm_checkpoint(folder, ranks: dict[bytes, int]) -> object:
    """A tiny random GLM saved as THUDM's remote-code checkpoint; returns the GLM model."""
    import torch
    from safetensors.torch import save_file
    from transformers import GlmConfig, GlmForCausalLM

    folder.mkdir()
    torch.manual_seed(0)
    n_ranks = len(ranks)
    config = GlmConfig(
        vocab_size=PADDED_VOCAB,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=8192,
        rms_norm_eps=1.5625e-07,
        attention_bias=True,
        rope_parameters={
            "rope_type": "default",
            "rope_theta": 10_000.0 * ROPE_RATIO,
            "partial_rotary_factor": 0.5,
        },
        initializer_range=0.5,  # peaked next-token distributions: the check has decided positions
        tie_word_embeddings=False,
        pad_token_id=n_ranks,
    )
    model = GlmForCausalLM(config).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.ndim == 1:
                parameter.copy_(torch.randn_like(parameter) * 0.5 + ("norm" in name))
    state = {name: tensor.contiguous() for name, tensor in remote_code_state(model).items()}
    names = sorted(state)
    shards = {
        "model-00001-of-00002.safetensors": names[::2],
        "model-00002-of-00002.safetensors": names[1::2],
    }
    for shard, shard_names in shards.items():
        save_file({name: state[name] for name in shard_names}, folder / shard)
    index = {"weight_map": {name: shard for shard, ns in shards.items() for name in ns}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    chatglm = {
        "_name_or_path": "THUDM/LongWriter-glm4-9b",
        "model_type": "chatglm",
        "architectures": ["ChatGLMModel"],
        "auto_map": {"AutoModelForCausalLM": "modeling_chatglm.ChatGLMForConditionalGeneration"},
        "add_bias_linear": False,
        "add_qkv_bias": True,
        "apply_query_key_layer_scaling": True,
        "apply_residual_connection_post_layernorm": False,
        "attention_dropout": 0.0,
        "attention_softmax_in_fp32": True,
        "bias_dropout_fusion": True,
        "eos_token_id": [n_ranks, n_ranks + 7, n_ranks + 9],
        "ffn_hidden_size": 128,
        "fp32_residual_connection": False,
        "hidden_dropout": 0.0,
        "hidden_size": 64,
        "kv_channels": 16,
        "layernorm_epsilon": 1.5625e-07,
        "multi_query_attention": True,
        "multi_query_group_num": 2,
        "num_attention_heads": 4,
        "num_layers": 2,
        "original_rope": True,
        "pad_token_id": n_ranks,
        "padded_vocab_size": PADDED_VOCAB,
        "post_layer_norm": True,
        "rmsnorm": True,
        "rope_ratio": ROPE_RATIO,
        "seq_length": 8192,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "use_cache": True,
    }
    (folder / "config.json").write_text(json.dumps(chatglm))
    (folder / "tokenizer.model").write_bytes(
        b"".join(base64.b64encode(token) + b" %d\n" % rank for token, rank in ranks.items())
    )
    special = {"normalized": False, "lstrip": False, "rstrip": False, "single_word": False}
    settings = {
        "added_tokens_decoder": {
            str(n_ranks + i): {"content": content, "special": True, **special}
            for i, content in enumerate(SPECIALS)
        },
        "additional_special_tokens": SPECIALS[1:],
        "auto_map": {"AutoTokenizer": ["tokenization_chatglm.ChatGLM4Tokenizer", None]},
        "chat_template": GLM_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
        "padding_side": "left",
        "tokenizer_class": "ChatGLM4Tokenizer",
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(settings))
    return model


def remote_code_state(model) -> dict:
    """The GLM's tensors under THUDM's names: query/key/value fused, the rope frequencies kept."""
    import torch

    state = {
        "transformer.embedding.word_embeddings.weight": model.model.embed_tokens.weight,
        "transformer.encoder.final_layernorm.weight": model.model.norm.weight,
        "transformer.output_layer.weight": model.lm_head.weight,
        "transformer.rotary_pos_emb.inv_freq": model.model.rotary_emb.inv_freq,
    }
    for number, layer in enumerate(model.model.layers):
        prefix = f"transformer.encoder.layers.{number}."
        attention = layer.self_attn
        for kind in ("weight", "bias"):
            state[f"{prefix}self_attention.query_key_value.{kind}"] = torch.cat(
                [getattr(getattr(attention, f"{p}_proj"), kind) for p in "qkv"]
            )
        state[f"{prefix}self_attention.dense.weight"] = attention.o_proj.weight
        state[f"{prefix}mlp.dense_h_to_4h.weight"] = layer.mlp.gate_up_proj.weight
        state[f"{prefix}mlp.dense_4h_to_h.weight"] = layer.mlp.down_proj.weight
        state[f"{prefix}input_layernorm.weight"] = layer.input_layernorm.weight
        state[f"{prefix}post_attention_layernorm.weight"] = layer.post_attention_layernorm.weight
    return {name: tensor.detach().clone() for name, tensor in state.items()}


@pytest.fixture(scope="module")
def trained():
    return train_ranks()


@pytest.fixture(scope="module")
def saved(trained, tmp_path_factory):
    """The checkpoint's folder and the transformers GLM it was saved from."""
    folder = tmp_path_factory.mktemp("chatglm") / "LongWriter-glm4-9b-tiny"
    return folder, save_chatglm_checkpoint(folder, trained[0])


@pytest.fixture(scope="module")
def checkpoint(saved):
    return saved[0]


def test_the_checkpoint_reads_back_as_the_model_it_was_saved_from(saved):
    """The config translation (rope ratio, query groups, head size, eps) and the tensor split
    are checked against the original model, not only against llama.cpp."""
    import torch

    folder, original = saved
    loaded = load_checkpoint(folder)
    assert loaded.architecture.model_type == "glm" and loaded.saved_dtype == "float32"
    ids = torch.randint(0, PADDED_VOCAB, (1, 300), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = original(ids).logits[0]
    actual = torch.from_numpy(loaded.model.run_float32(ids[0].tolist()))  # streamed from shards
    assert torch.allclose(expected, actual, atol=1e-5), (expected - actual).abs().max()


# LongWriter-glm4-9b's published template, "sop" without its angle brackets included
LONGWRITER_TEMPLATE = (
    "{% for message in messages %}{% if loop.first %}[gMASK]sop<|{{ message['role'] }}|>\n "
    "{{ message['content'] }}{% else %}<|{{ message['role'] }}|>\n {{ message['content'] }}"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def test_special_tokens_unlisted_in_the_config_take_glm4_ids(checkpoint, trained, tmp_path):
    """A tokenizer_config.json without added_tokens_decoder leaves GLM-4's special tokens to the
    remote code, which numbers them from the first id after the ranks."""
    import shutil

    shutil.copy(checkpoint / "tokenizer.model", tmp_path / "tokenizer.model")
    settings = {"eos_token": "<|endoftext|>", "chat_template": LONGWRITER_TEMPLATE}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(settings))
    tokenizer = load_tiktoken_tokenizer(tmp_path)
    n_ranks = len(trained[0])
    assert tokenizer.convert_tokens_to_ids(GLM4_SPECIAL_TOKENS) == [
        n_ranks + i for i in range(len(GLM4_SPECIAL_TOKENS))
    ]
    assert tokenizer.eos_token_id == n_ranks and tokenizer.chat_template == LONGWRITER_TEMPLATE
    text = tokenizer.apply_chat_template([{"role": "user", "content": "海"}], tokenize=False)
    assert text == "[gMASK]sop<|user|>\n 海"
    ids = tokenizer(text).input_ids
    assert ids[0] == n_ranks + 2 and n_ranks + 7 in ids  # [gMASK] and <|user|>, each one token


def test_a_tokenizer_model_that_is_not_tiktoken_is_one_line(tmp_path):
    """ChatGLM3's tokenizer.model is a SentencePiece protobuf, not base64 and rank lines."""
    path = tmp_path / "tokenizer.model"
    path.write_bytes(b"\n\x0e\n\x05<unk>\x15\x00\x00\x00\x00\x18\x02\n\x07\n\x03<s>")
    with pytest.raises(UserError) as raised:
        read_ranks(path)
    assert "line 2 is not" in str(raised.value) and "\n" not in str(raised.value)


def test_merges_recovered_from_the_ranks_are_the_trained_ones(trained, checkpoint):
    ranks, merges = trained
    assert read_ranks(checkpoint / "tokenizer.model") == ranks
    assert len(merges) > 400
    assert recover_merges(ranks) == merges


def test_chatglm_checkpoint_exports_exactly_and_writes(checkpoint, trained, tmp_path):
    import tiktoken
    from llama_cpp import Llama

    from engine.models.backends.base import ChatRequest
    from engine.models.backends.llama_cpp import LlamaCppBackend
    from engine.schema import SamplingSettings

    ranks = trained[0]
    [result] = export_gguf(
        checkpoint, tmp_path / "models", ["F16"], check_long=True, long_length=4160
    )
    print(result.check.summary(), "|", result.long_check.summary())
    assert result.check.tokenizer_matches
    assert result.check.passed, result.check.summary()
    assert result.check.decided_positions >= 64
    assert result.check.top1_agreement >= 0.97
    assert result.long_check.passed, result.long_check.summary()

    fields = gguf.GGUFReader(result.path).fields

    def value(key):
        return fields[key].contents()

    n_ranks = len(ranks)
    assert value("general.architecture") == "chatglm"
    assert value("tokenizer.ggml.model") == "gpt2"
    assert value("tokenizer.ggml.pre") == "chatglm-bpe"
    assert value("chatglm.rope.freq_base") == 10_000.0 * ROPE_RATIO
    assert value("chatglm.rope.dimension_count") == 8
    assert value("chatglm.context_length") == 8192
    assert len(value("tokenizer.ggml.tokens")) == PADDED_VOCAB
    assert value("tokenizer.ggml.eos_token_id") == n_ranks  # <|endoftext|>
    assert value("tokenizer.ggml.eot_token_id") == n_ranks + SPECIALS.index("<|user|>")
    assert value("tokenizer.ggml.add_bos_token") is False
    assert value("tokenizer.chat_template") == GLM_TEMPLATE

    # llama.cpp splits and merges as GLM-4's own tokenizer, tiktoken, does
    encoding = tiktoken.Encoding(
        "glm4-tiny",
        pat_str=GLM4_SPLIT,
        mergeable_ranks=ranks,
        special_tokens={content: n_ranks + i for i, content in enumerate(SPECIALS)},
    )
    chat = f"[gMASK]<sop><|user|>\n{CHINESE}<|assistant|>\n{ENGLISH}<|user|>"
    llm = Llama(model_path=str(result.path), vocab_only=True, verbose=False)
    try:
        for text in (ENGLISH, CHINESE, chat, TOKENIZER_SAMPLE, *CORPUS):
            expected = encoding.encode(text, allowed_special="all")
            assert llm.tokenize(text.encode(), add_bos=False, special=True) == expected, text
        assert len(encoding.encode(CHINESE)) < len(CHINESE.encode()) / 2  # merges, not bytes
    finally:
        llm.close()

    backend = LlamaCppBackend(result.path, LoadSettings(n_ctx=512))
    try:
        messages = [{"role": "user", "content": "写一段关于大海的话。"}]
        request = ChatRequest(
            messages=messages, max_tokens=12, sampling=SamplingSettings(temperature=0.0, seed=0)
        )
        text = "".join(backend.stream(request))
        prompt = backend.render(messages)
        usage = backend.last_usage
    finally:
        backend.close()
    assert prompt == "[gMASK]<sop><|user|>\n写一段关于大海的话。<|assistant|>\n"
    assert usage.output_tokens > 0 and isinstance(text, str)
