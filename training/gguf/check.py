"""Prove a GGUF file right: llama.cpp must tokenize and predict like the Hugging Face model."""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import UserError
from training.gguf.reference_run import float32_logits, placement

PROBE_TOKENS = 256

# A position is "decided" when the fp32 model's top token leads its runner-up by this much
# probability. Elsewhere the top two are near-ties that llama.cpp's own arithmetic (it rounds
# activations to 8 bits in quantized matrix products) flips even for identical weights.
DECIDED_MARGIN = 0.05


@dataclass(frozen=True)
class Threshold:
    """What a quantization must reach: top-1 agreement on decided positions, and mean KL."""

    min_agreement: float
    max_kl: float


THRESHOLDS = {
    "F32": Threshold(0.99, 0.002),
    "F16": Threshold(0.99, 0.002),
    "BF16": Threshold(0.98, 0.01),
    "Q8_0": Threshold(0.98, 0.02),
    "Q6_K": Threshold(0.96, 0.05),
    "Q5_K_M": Threshold(0.94, 0.10),
    "Q4_K_M": Threshold(0.90, 0.15),
}

PROBE_REQUEST = "Write the opening of a story about a lighthouse keeper and a storm."
PROBE_TEXT = (
    "The lighthouse on Carrow Point had been automated in 1987, but nobody had told Edith "
    "Marsh, who went on climbing its one hundred and twelve steps every evening at dusk. She "
    "kept a logbook in pencil: wind from the south-west, force six; a trawler, the Margaret "
    "Anne, passing at 21:40; the lamp turning, as it always turned, once every nine seconds.\n\n"
    "On the night of the great storm the sea came over the wall before supper. Edith watched "
    "the water pour across the yard and thought, without much alarm, that she would have to "
    "move the potatoes. Then the telephone rang. It had not rung in three years.\n\n"
    '"Is that the keeper?" asked a man\'s voice, thin with distance. "We have a boat in '
    'trouble off the Skerries. Twelve aboard. Your light — is it working?"\n\n'
    'She looked up through the spiral of the stair to the glow above her. "It\'s working," '
    'she said. "It has always worked." But even as she spoke the glow stuttered, dimmed, '
    "and went out, and the whole tower filled with the roar of the wind.\n\n"
    "Edith found the torch on its hook by the door, checked the batteries by habit, and "
    "began to climb. Forty steps, fifty, sixty: her knees complained, and she told them to be "
    "quiet. At the top the great lens stood still, dark as a sleeping eye. The motor was "
    "silent; the breaker had tripped. She reset it with a thumb that shook only a little, "
    "and the machinery groaned, caught, and turned. Light swept out across the water: once, "
    "twice, three times. Somewhere in the black, twelve people saw it and steered for home. "
    "In the morning she wrote in the logbook: lamp failed 22:15, restored 22:31, storm easing."
)
# Digits, accents, CJK, emoji, whitespace runs and contractions: where pre-tokenizers differ.
TOKENIZER_SAMPLE = (
    "In 2024 it cost $1,234.56 (about 987654 yen) — café, naïve, Zürich; 東京と北京 😀👍\n\n"
    "\tIndented   three spaces; they'll say we've done it, I'm sure it's 3.14159...\r\n"
)


@dataclass(frozen=True)
class CheckResult:
    """How closely one GGUF file follows the Hugging Face model on the probe."""

    quant: str
    top1_agreement: float  # over all probe positions
    decided_agreement: float  # over positions where the fp32 model has a clear favourite
    decided_positions: int
    mean_kl: float
    tokenizer_matches: bool
    threshold: Threshold

    @property
    def passed(self) -> bool:
        return (
            self.tokenizer_matches
            and self.decided_agreement >= self.threshold.min_agreement
            and self.mean_kl <= self.threshold.max_kl
        )

    def summary(self) -> str:
        tokenizer = "" if self.tokenizer_matches else ", TOKENIZER DIFFERS"
        return (
            f"top-1 agreement {self.decided_agreement:.3f} on {self.decided_positions} decided "
            f"positions (needs {self.threshold.min_agreement:.2f}), {self.top1_agreement:.3f} on "
            f"all; mean KL {self.mean_kl:.4f} (at most {self.threshold.max_kl}){tokenizer}"
        )


@dataclass
class Reference:
    """The probe as token ids, the fp32 model's logits on it, and texts to compare tokenizing."""

    tokens: list[int]
    logits: np.ndarray
    tokenized: dict[str, list[int]]


def probe_text(tokenizer) -> str:
    """The probe rendered with the checkpoint's chat template, so its special tokens are seen."""
    if not tokenizer.chat_template:
        return PROBE_TEXT
    messages = [
        {"role": "user", "content": PROBE_REQUEST},
        {"role": "assistant", "content": PROBE_TEXT},
    ]
    return tokenizer.apply_chat_template(messages, tokenize=False)


def reference(model, tokenizer) -> Reference:
    """Run the Hugging Face model in float32 on the first PROBE_TOKENS tokens of the probe."""
    text = probe_text(tokenizer)
    tokens = tokenizer(text).input_ids[:PROBE_TOKENS]
    logits = float32_logits(model, tokens, None, "cpu")
    tokenized = {
        text: tokenizer(text).input_ids,
        TOKENIZER_SAMPLE: tokenizer(TOKENIZER_SAMPLE, add_special_tokens=False).input_ids,
    }
    return Reference(tokens=tokens, logits=logits.astype(np.float32), tokenized=tokenized)


def check_gguf(
    path: Path, quant: str, ref: Reference, threshold: Threshold | None = None
) -> CheckResult:
    """Load path in llama.cpp and compare its tokenizer and next-token predictions with ref."""
    from llama_cpp import Llama

    try:
        llm = Llama(
            model_path=str(path),
            n_ctx=len(ref.tokens) + 16,
            n_batch=len(ref.tokens),
            n_ubatch=len(ref.tokens),
            logits_all=True,
            n_gpu_layers=placement().gpu_layers,
            n_threads=os.cpu_count(),
            verbose=False,
        )
    except (ValueError, RuntimeError) as error:
        raise UserError(key="error.exported_broken", quant=quant, problem=error) from None
    try:
        tokenizer_matches = all(
            llm.tokenize(text.encode(), add_bos=text != TOKENIZER_SAMPLE, special=True) == ids
            for text, ids in ref.tokenized.items()
        )
        llm.eval(ref.tokens)
        logits = np.array(llm.scores[: len(ref.tokens)], dtype=np.float32)
    finally:
        llm.close()
    return compared(quant, logits, ref, tokenizer_matches, threshold or THRESHOLDS[quant])


def compared(
    quant: str, logits: np.ndarray, ref: Reference, tokenizer_matches: bool, threshold: Threshold
) -> CheckResult:
    """llama.cpp's logits on the probe against the reference's: top-1 agreement (on all and on
    decided positions) and mean KL."""
    agrees = logits.argmax(-1) == ref.logits.argmax(-1)
    decided = decided_positions(ref.logits)
    return CheckResult(
        quant=quant,
        top1_agreement=float(np.mean(agrees)),
        decided_agreement=float(np.mean(agrees[decided] if decided.any() else agrees)),
        decided_positions=int(decided.sum()),
        mean_kl=mean_kl(ref.logits, logits),
        tokenizer_matches=tokenizer_matches,
        threshold=threshold,
    )


def decided_positions(reference_logits: np.ndarray) -> np.ndarray:
    """Mask of positions whose top token leads the runner-up by DECIDED_MARGIN probability."""
    probabilities = np.exp(_log_softmax(reference_logits.astype(np.float64)))
    second, first = np.partition(probabilities, -2, axis=-1)[:, -2:].T
    return first - second >= DECIDED_MARGIN


def mean_kl(reference_logits: np.ndarray, logits: np.ndarray) -> float:
    """Mean over positions of KL(reference ‖ candidate) between next-token distributions."""
    per_position = []
    for start in range(0, len(logits), 32):  # in slices: a 150k vocabulary is large in float64
        p_log = _log_softmax(reference_logits[start : start + 32].astype(np.float64))
        q_log = _log_softmax(logits[start : start + 32].astype(np.float64))
        per_position.append(np.sum(np.exp(p_log) * (p_log - q_log), axis=-1))
    return float(np.mean(np.concatenate(per_position)))


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
