"""`loss: released`: THUDM's released LongWriter loss, each pack's mean target-token loss
times (sequences with targets in the pack) / 30, checked against a hand computation from the
full logits of a real packed batch."""

import pytest
import torch

from engine.errors import UserError
from training.recipe import ModelSection, SFTRecipe
from training.released_loss import SEQUENCES_PER_UNIT

pytestmark = pytest.mark.slow  # two trainers over the tiny model
TRAINER = {"bf16": False, "use_cpu": True, "report_to": "none", "seed": 0,
           "per_device_train_batch_size": 1, "activation_checkpointing": False}  # fmt: skip


def test_released_loss_matches_a_hand_computation(prepared_chat, tmp_path):
    from training.sft import sft_trainer

    recipe = SFTRecipe(
        model=ModelSection(name="embedded", tiny={"hidden_size": 32, "layers": 1, "heads": 2}),
        data=str(prepared_chat),
        output_dir=str(tmp_path / "sft"),
        pack_length=256,
        loss="released",
        trainer=TRAINER,
    )
    trainer = sft_trainer(recipe)
    batch = next(iter(trainer.get_train_dataloader()))
    model = trainer.model.eval()
    with torch.no_grad():
        loss = trainer.compute_loss(model, dict(batch))
        logits = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits
    labels, positions = batch["labels"], batch["position_ids"]
    per_pack = []
    for row in range(labels.shape[0]):  # one pack per micro-batch, as THUDM's
        shifted = labels[row, 1:]
        mask = shifted != -100
        token_losses = torch.nn.functional.cross_entropy(
            logits[row, :-1][mask].float(), shifted[mask], reduction="none"
        )
        segments = (positions[row] == 0).long().cumsum(0)[:-1][mask]
        per_pack.append(token_losses.mean() * segments.unique().numel() / SEQUENCES_PER_UNIT)
    expected = torch.stack(per_pack).mean()
    sequences = int((positions == 0).sum())
    print(f"loss {loss.item():.6f}, expected {expected.item():.6f}, {sequences} sequences")
    assert sequences > 1  # a real pack of several conversations
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)
    # ours, the same tokens weighed per token: a different number on this pack
    shifted, mask = labels[0, 1:], labels[0, 1:] != -100
    ours = torch.nn.functional.cross_entropy(logits[0, :-1][mask], shifted[mask])
    assert not torch.isclose(ours, loss)
    with pytest.raises(UserError, match="one pack"):
        sft_trainer(
            recipe.model_copy(update={"trainer": {**TRAINER, "per_device_train_batch_size": 2}})
        )
