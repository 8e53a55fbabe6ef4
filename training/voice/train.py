"""Training a voice: LoRA SFT on the voice data with the recipe machinery (training.sft), an
optional DPO step on the same LoRA from the writer's own choices, and the held-out loss of the
base and of the voice.

On a GPU, `qlora` trains the LoRA on the base loaded in 4 bits (NF4) with bf16 compute and
activation checkpointing, and the held-out losses are measured on that same 4-bit base, with
and without the adapter (training/recipes/gpu/voice_qlora.sh; training/voice/memory.py estimates
the memory).

The output folder holds what `run_sft` writes (checkpoints, `adapter/`, the merged `final/`,
metrics.jsonl), the tokenized data, and voice.json: the base, the settings and the losses. A
rerun of the same command on a folder with checkpoints resumes from the last one.
"""

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from engine.errors import UserError
from engine.models.catalogue import entry_for_file
from training.prepare import IGNORE, assistant_spans
from training.records import Conversation
from training.voice.data import HELD_OUT_FILE, TRAIN_FILE, Example, read_examples

VOICE_FILE = "voice.json"
MIN_DPO_PAIRS = 20
# LoRA on all linear layers at a rank that a few thousand words can fill
CPU_LORA = {"r": 8, "alpha": 16, "dropout": 0.0, "target_modules": "all-linear"}
CPU_TRAINER = {
    "learning_rate": 3.0e-4,  # a LoRA learns at a far larger step than full fine-tuning
    "lr_scheduler_type": "constant_with_warmup",
    "warmup_steps": 2,
    "weight_decay": 0.0,
    "bf16": False,  # plain fp32 on CPU
    "activation_checkpointing": False,
    "per_device_train_batch_size": 1,
    "gradient_accumulation_steps": 1,
    "save_strategy": "steps",
    "save_total_limit": 2,
    "use_cpu": True,
    "dataloader_num_workers": 0,
}
# QLoRA on one GPU: the 4-bit base computes in bf16, layers rebuilt in the backward pass
QLORA_TRAINER = {"bf16": True, "activation_checkpointing": True, "use_cpu": False}


@dataclass
class VoiceSettings:
    base: str = "embedded"
    steps: int = 60
    rank: int = 8
    learning_rate: float = 3.0e-4
    save_steps: int = 10
    seed: int = 0
    use_cpu: bool = True
    qlora: bool = False  # on a GPU: the base in 4 bits (bitsandbytes), bf16


@dataclass
class VoiceReport:
    base: str
    steps: int
    held_out_loss_before: float
    held_out_loss_after: float
    held_out_tokens: int
    dpo_pairs: int = 0

    def summary(self) -> str:
        dpo = f"; DPO on {self.dpo_pairs} pairs" if self.dpo_pairs else ""
        return (
            f"Held-out loss {self.held_out_loss_before:.3f} before, "
            f"{self.held_out_loss_after:.3f} after {self.steps} steps "
            f"({self.held_out_tokens:,} held-out tokens){dpo}."
        )


def tokenize_example(tokenizer, example: Example) -> tuple[list[int], list[int]]:
    """Token ids of the templated conversation, labelled on its last `targets` replies only."""
    text, spans = assistant_spans(tokenizer, Conversation.model_validate(example.__dict__))
    targets = spans[len(spans) - example.targets :]
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    labels = []
    for token, (start, end) in zip(encoded["input_ids"], encoded["offset_mapping"], strict=True):
        inside = end > start and any(a <= start and end <= b for a, b in targets)
        labels.append(token if inside else IGNORE)
    return encoded["input_ids"], labels


def save_dataset(tokenizer, examples: list[Example], folder: Path) -> int:
    """Write examples as a prepared dataset (folder/data); returns the longest row's length."""
    from datasets import Dataset

    rows = [tokenize_example(tokenizer, example) for example in examples]
    ids, labels = [row[0] for row in rows], [row[1] for row in rows]
    Dataset.from_dict({"input_ids": ids, "labels": labels}).save_to_disk(str(folder / "data"))
    return max(map(len, ids))


def held_out_loss(model, dataset) -> tuple[float, int]:
    """Mean next-token loss over the held-out target tokens, and how many there are."""
    import torch

    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for row in dataset:
            ids = torch.tensor([row["input_ids"]], device=model.device)
            logits = model(input_ids=ids).logits[0, :-1].float()
            target = torch.tensor(row["labels"][1:], device=model.device)
            mask = target != IGNORE
            loss = torch.nn.functional.cross_entropy(logits[mask], target[mask], reduction="sum")
            total, count = total + float(loss), count + int(mask.sum())
    return total / max(count, 1), count


def model_section(settings: VoiceSettings):
    from training.recipe import ModelSection

    return ModelSection(name=settings.base, dtype="bfloat16" if settings.qlora else "float32")


def lora_section(settings: VoiceSettings):
    from training.recipe import LoraSection

    rank = {"r": settings.rank, "alpha": 2 * settings.rank, "quantize_4bit": settings.qlora}
    return LoraSection(**{**CPU_LORA, **rank})


def sft_recipe(settings: VoiceSettings, data: Path, out: Path, longest: int):
    from training.recipe import SFTRecipe

    trainer = {
        **CPU_TRAINER,
        "learning_rate": settings.learning_rate,
        "max_steps": settings.steps,
        "save_steps": settings.save_steps,
        "logging_steps": 1,
        "seed": settings.seed,
        "use_cpu": settings.use_cpu,
        **(QLORA_TRAINER if settings.qlora else {}),
    }
    return SFTRecipe(
        model=model_section(settings),
        data=str(data),
        output_dir=str(out),
        pack_length=max(longest, 16),
        packing=True,
        lora=lora_section(settings),
        trainer=trainer,
    )


def check_qlora(dpo: bool) -> None:
    """Refuse QLoRA, before any weights load, where it cannot run: without a CUDA GPU and
    bitsandbytes, or with a DPO step (its float reference does not fit beside the 4-bit base)."""
    import importlib.util

    import torch

    if not torch.cuda.is_available():
        raise UserError(key="error.qlora_no_gpu")
    if not importlib.util.find_spec("bitsandbytes"):
        raise UserError(key="error.qlora_needs")
    if dpo:
        raise UserError(key="error.voice_qlora_dpo")


def qlora_base(base: str, say=lambda _line: None) -> str:
    """What a QLoRA voice trains on: a checkpoint (folder or hub id) as given; for a GGUF file
    from the catalogue, the checkpoint it was made from (the file's weights are quantized
    already, and 4-bit training needs them in 16 bits)."""
    if base != "embedded" and Path(base).suffix != ".gguf":
        return base
    entry = entry_for_file(Path(base)) if base != "embedded" else None
    if entry is None or entry.checkpoint is None:
        raise UserError(key="error.voice_qlora_gguf", base=base)
    say(f"QLoRA trains on the checkpoint {Path(base).name} was made from: {entry.checkpoint}.")
    return entry.checkpoint


def loss_model(settings: VoiceSettings, tokenizer, voice: Path | None = None):
    """What a held-out loss is measured on: the base, or the voice trained in `voice`. Under
    QLoRA both are the 4-bit base as it trains, the voice's adapter on top."""
    from training.models import build_model, load_model

    if not settings.qlora:
        return load_model(str(voice / "final") if voice else settings.base)
    base = build_model(model_section(settings), tokenizer, lora_section(settings), settings.seed)
    if voice is None:
        return base
    from peft import PeftModel

    return PeftModel.from_pretrained(base, str(voice / "adapter"))


def train_voice(
    data_dir: Path,
    out: Path,
    settings: VoiceSettings,
    preferences: Path | None = None,
    say=lambda _line: None,
) -> VoiceReport:
    """SFT the LoRA (resuming from out's checkpoints), then DPO it on `preferences` when there
    are at least MIN_DPO_PAIRS; reports the held-out loss before and after. `say` gets a line
    for the writer before the weights load (under QLoRA: the memory it will need)."""
    from datasets import load_from_disk

    from training.models import load_tokenizer
    from training.sft import run_sft

    if settings.qlora:
        check_qlora(preferences is not None)
        settings = replace(settings, base=qlora_base(settings.base, say))

    train_rows = read_examples(data_dir / TRAIN_FILE)
    held_rows = read_examples(data_dir / HELD_OUT_FILE)
    if not train_rows or not held_rows:
        raise UserError(key="error.voice_data_missing", path=data_dir)
    _check_same_run(out, settings)
    tokenizer = load_tokenizer(settings.base)
    prepared = out / "prepared"
    longest = save_dataset(tokenizer, train_rows, prepared / "train")
    save_dataset(tokenizer, held_rows, prepared / "heldout")
    held = load_from_disk(str(prepared / "heldout" / "data"))
    if settings.qlora:
        from training.gguf.lora_adapter import base_config
        from training.voice.memory import qlora_memory

        memory = qlora_memory(base_config(settings.base), settings.rank, max(longest, 16))
        say(f"QLoRA on {settings.base} at {longest:,} tokens a row: {memory.summary()}.")
    before = _cached_loss(
        out, settings, lambda: held_out_loss(loss_model(settings, tokenizer), held)
    )
    # a rerun into the same folder goes on from its newest checkpoint
    resume = "auto" if any(out.glob("checkpoint-*")) else None
    run_sft(sft_recipe(settings, prepared / "train", out, longest), resume)
    pairs = 0
    if preferences is not None:
        pairs = run_voice_dpo(preferences, out, settings)
    after, count = held_out_loss(loss_model(settings, tokenizer, out), held)
    report = VoiceReport(settings.base, settings.steps, before[0], after, count, pairs)
    _write_voice(out, settings, report)
    return report


def _check_same_run(out: Path, settings: VoiceSettings) -> None:
    """Refuse to resume checkpoints made with other settings (another base, rank or length)."""
    path = out / "voice-settings.json"
    if path.is_file() and any(out.glob("checkpoint-*")):
        # settings added since a run started take their defaults
        saved = {**asdict(VoiceSettings()), **json.loads(path.read_text(encoding="utf-8"))}
        if saved != asdict(settings):
            raise UserError(key="error.voice_other_run", path=out)
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(settings), indent=2) + "\n", encoding="utf-8")


def _cached_loss(out: Path, settings: VoiceSettings, measure) -> tuple[float, int]:
    """The base's held-out loss, measured once per output folder (a resumed run keeps it)."""
    path = out / "base-loss.json"
    if path.is_file():
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved.get("base") == settings.base:
            return saved["loss"], saved["tokens"]
    loss, tokens = measure()
    path.write_text(json.dumps({"base": settings.base, "loss": loss, "tokens": tokens}) + "\n")
    return loss, tokens


def _write_voice(out: Path, settings: VoiceSettings, report: VoiceReport) -> None:
    record = {"base": settings.base, "settings": asdict(settings), "report": asdict(report)}
    (out / VOICE_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def read_voice(folder: Path) -> dict:
    """voice.json of a trained voice folder."""
    path = folder / VOICE_FILE
    if not path.is_file():
        raise UserError(key="error.voice_not_trained", path=folder)
    return json.loads(path.read_text(encoding="utf-8"))


def run_voice_dpo(preferences: Path, out: Path, settings: VoiceSettings) -> int:
    """Go on training the SFT LoRA with DPO on the writer's pairs (the SFT voice, adapter off
    being the base, is not the reference: the merged SFT model is). Returns the pairs used, 0
    when there are fewer than MIN_DPO_PAIRS (then nothing changes)."""
    from training.records import PreferencePair, read_jsonl

    pairs = [pair.model_dump() for pair in read_jsonl(preferences, PreferencePair)]
    if len(pairs) < MIN_DPO_PAIRS:
        return 0  # before torch and TRL are imported: a skip costs nothing
    from datasets import Dataset
    from peft import PeftModel
    from trl import DPOTrainer

    from training.dpo import dpo_config
    from training.models import load_model, load_tokenizer
    from training.recipe import DPORecipe, ModelSection
    from training.saving import merge_adapter

    dpo_dir = out / "dpo"
    recipe = DPORecipe(
        model=ModelSection(name=settings.base, dtype="float32"),
        data=str(preferences),
        output_dir=str(dpo_dir),
        trainer={
            **CPU_TRAINER,
            "learning_rate": settings.learning_rate / 3,
            "max_steps": max(1, min(settings.steps, math.ceil(len(pairs) / 2))),
            "save_steps": settings.save_steps,
            "seed": settings.seed,
            "use_cpu": settings.use_cpu,
            "precompute_ref_log_probs": False,
        },
    )
    tokenizer = load_tokenizer(settings.base)
    model = PeftModel.from_pretrained(
        load_model(settings.base, "float32"), str(out / "adapter"), is_trainable=True
    )
    reference = load_model(str(out / "final"), "float32")
    trainer = DPOTrainer(
        model=model,
        ref_model=reference,
        args=dpo_config(recipe),
        train_dataset=Dataset.from_list(pairs),
        processing_class=tokenizer,
    )
    trainer.train(resume_from_checkpoint=any(dpo_dir.glob("checkpoint-*")) or None)
    trainer.save_model(str(out / "adapter"))
    merge_adapter(recipe.model, out / "adapter", out / "final", tokenizer, settings.seed)
    return len(pairs)
