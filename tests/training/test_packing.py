"""Packed, padding-free training computes the same loss and gradients as unpacked training on
the same tokens, with the loss normalised over every target token of the global batch."""

import torch
from datasets import Dataset
from trl import SFTConfig, SFTTrainer

from training.models import tiny_model

LENGTHS = [7, 19, 33, 12, 26, 5]
PACK_LENGTH = 40


def rows(tokenizer):
    generator = torch.Generator().manual_seed(0)
    out = []
    for length in LENGTHS:
        ids = torch.randint(10, len(tokenizer), (length,), generator=generator).tolist()
        prompt = length // 3  # the first third plays the prompt: no loss there
        out.append({"input_ids": ids, "labels": [-100] * prompt + ids[prompt:]})
    return out


def gradients(model):
    return {name: p.grad.detach().clone() for name, p in model.named_parameters()}


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


def packed_trainer(tokenizer, model, data, tmp_path):
    args = SFTConfig(
        output_dir=str(tmp_path),
        max_length=PACK_LENGTH,
        packing=True,
        packing_strategy="bfd",
        bf16=False,
        activation_checkpointing=False,
        use_cpu=True,
        report_to="none",
    )
    return SFTTrainer(
        model=model, args=args, train_dataset=Dataset.from_list(data), processing_class=tokenizer
    )


def test_packed_equals_unpacked(tokenizer, tmp_path):
    data = rows(tokenizer)
    model = tiny_model(tokenizer, hidden_size=32, layers=2, heads=4, seed=1).train()

    # Reference: each sequence alone, unpadded; per-token losses summed, divided by all targets
    targets = sum(sum(1 for x in row["labels"][1:] if x != -100) for row in data)
    model.zero_grad()
    reference_loss = 0.0
    for row in data:
        output = model(
            input_ids=torch.tensor([row["input_ids"]]),
            labels=torch.tensor([row["labels"]]),
            num_items_in_batch=targets,
        )
        output.loss.backward()
        reference_loss += output.loss.item()
    reference = gradients(model)

    # Packed: TRL's best-fit packing and padding-free collator, one pack per micro-batch
    # (gradient accumulation), each normalised by the targets of the whole global batch
    trainer = packed_trainer(tokenizer, model, data, tmp_path)
    packs = [trainer.data_collator([pack]) for pack in trainer.train_dataset]
    assert 1 < len(packs) < len(data)  # several packs, each holding several sequences
    assert all(pack["input_ids"].shape[1] <= PACK_LENGTH for pack in packs)
    assert "attention_mask" not in packs[0] and "position_ids" in packs[0]
    global_targets = trainer._get_num_items_in_batch(packs, torch.device("cpu"))
    assert int(global_targets) == targets
    model.zero_grad()
    packed_loss = 0.0
    for pack in packs:
        loss = trainer.compute_loss(model, dict(pack), num_items_in_batch=global_targets)
        loss.backward()
        packed_loss += loss.item()
    packed = gradients(model)

    assert abs(packed_loss - reference_loss) / reference_loss < 1e-5
    for name, grad in reference.items():
        assert relative(packed[name], grad) < 1e-5, name

    # Without position_ids the packs attend across sequence borders: the check above can fail
    model.zero_grad()
    leaky = sum(
        trainer.compute_loss(
            model,
            {
                "input_ids": pack["input_ids"],
                "labels": pack["labels"],
                "attention_mask": torch.ones_like(pack["input_ids"]),
            },
            num_items_in_batch=global_targets,
        ).item()
        for pack in packs
    )
    assert abs(leaky - reference_loss) / reference_loss > 1e-4
