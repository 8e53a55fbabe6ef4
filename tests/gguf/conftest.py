"""A fine-tuned SmolLM2 checkpoint made from the embedded GGUF, exported once per session."""

from pathlib import Path

import pytest

# The checkpoint's own template: SmolLM2's, with a system line of ours, so a GGUF that carried
# any other template (or none) is caught.
SYSTEM_LINE = "You are a careful writing assistant in longwrite studio."
EXAMPLES = [
    ("Write a short piece about the sea.", "The sea was grey and calm. A gull rode the wind home."),
    ("Write a short piece about a garden.", "Rain fell on the garden. By noon the roses opened."),
    ("Write a short piece about a train.", "The night train hummed north. Everyone slept but me."),
    ("Write a short piece about winter.", "Snow covered the road. We stayed in and read all day."),
]
EXPORTED_QUANTS = ["F16", "Q8_0", "Q4_K_M"]


def fine_tune(model, tokenizer, steps: int = 5, learning_rate: float = 5e-4) -> list[float]:
    """A few supervised steps on the chat examples (loss on the replies only); returns losses.

    Only the last blocks and the final norm learn, which keeps the backward pass short on CPU.
    """
    import torch

    batch = [_training_row(tokenizer, prompt, reply) for prompt, reply in EXAMPLES]
    width = max(len(ids) for ids, _ in batch)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in batch])
    labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in batch])
    attention = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in batch])
    model.requires_grad_(False)
    trained = [*model.model.layers[-4:], model.model.norm]
    for module in trained:
        module.requires_grad_(True)
    optimizer = torch.optim.AdamW([p for m in trained for p in m.parameters()], lr=learning_rate)
    model.train()
    losses = []
    for _ in range(steps):
        loss = model(input_ids=input_ids, attention_mask=attention, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    model.eval()
    return losses


def _training_row(tokenizer, prompt: str, reply: str) -> tuple[list[int], list[int]]:
    messages = [{"role": "user", "content": prompt}]
    prompt_text = tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True
    )
    full_text = tokenizer.apply_chat_template(
        [*messages, {"role": "assistant", "content": reply}], tokenize=False
    )
    prompt_ids = tokenizer(prompt_text).input_ids
    ids = tokenizer(full_text.rstrip("\n")).input_ids
    return ids, [-100] * len(prompt_ids) + ids[len(prompt_ids) :]


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory) -> Path:
    """Embedded GGUF → transformers → a few SFT steps → save_pretrained."""
    import torch

    from training.models import load_model, load_tokenizer

    torch.manual_seed(0)
    tokenizer = load_tokenizer("embedded")
    model = load_model("embedded", dtype="float32")
    original_line = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
    assert original_line in tokenizer.chat_template
    tokenizer.chat_template = tokenizer.chat_template.replace(original_line, SYSTEM_LINE)
    losses = fine_tune(model, tokenizer)
    assert losses[-1] < losses[0], losses
    folder = tmp_path_factory.mktemp("checkpoints") / "smollm2-sft-test"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def exported(trained_checkpoint, models_dir):
    """The checkpoint exported as F16, Q8_0 and Q4_K_M, each checked; by quantization."""
    from training.gguf.export import export_gguf

    results = export_gguf(trained_checkpoint, models_dir, EXPORTED_QUANTS, name="SmolLM2 SFT test")
    return {result.quant: result for result in results}


TINY = dict(
    vocab_size=49152,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=2048,
    initializer_range=0.5,  # peaked next-token distributions, so the check has decided positions
)


def save_tiny_model(folder: Path, tokenizer_folder: Path, model_type: str, **config) -> Path:
    """A randomly initialised two-block model of model_type, with random norms and biases."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(AutoConfig.for_model(model_type, **{**TINY, **config}))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.ndim == 1:
                parameter.copy_(torch.randn_like(parameter) * 0.5 + ("norm" in name))
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(tokenizer_folder).save_pretrained(folder)
    return folder


# GLM-4's chat layout (our wording of it): a [gMASK]<sop> prefix, then role tags; a reply ends
# where the next <|user|> tag would begin
GLM_TEMPLATE = (
    "[gMASK]<sop>{% for message in messages %}<|{{ message['role'] }}|>\n"
    "{{ message['content'] }}{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
GLM_SPECIAL_TOKENS = [
    "[gMASK]",
    "<sop>",
    "<|system|>",
    "<|user|>",
    "<|assistant|>",
    "<|observation|>",
]


@pytest.fixture(scope="session")
def glm_tokenizer(trained_checkpoint, tmp_path_factory) -> Path:
    """A GLM-4-style tokenizer: byte-level BPE split by GLM-4's (= Llama 3's) regex, GLM-4's
    special and role tokens, <|endoftext|> as EOS and its chat layout. The merges are SmolLM2's."""
    from tokenizers import Regex, Tokenizer, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from training.gguf.vocab import _LLAMA3_SPLIT

    backend = Tokenizer.from_file(str(trained_checkpoint / "tokenizer.json"))
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_LLAMA3_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=GLM_SPECIAL_TOKENS,
    )
    tokenizer.chat_template = GLM_TEMPLATE
    folder = tmp_path_factory.mktemp("glm-tokenizer")
    tokenizer.save_pretrained(folder)
    return folder
