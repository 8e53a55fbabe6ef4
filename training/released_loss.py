"""The loss of THUDM's released LongWriter training, as an option of the faithful recipe.

Their packing script gives each target token the weight 1 / (target tokens of its sequence),
but their data collator only sums a pack's weights (= the number of sequences with targets in
the pack) and divides by 30, and their patched model multiplies the pack's *mean token loss* by
that number. So a step's loss is, per pack, mean token loss × (sequences in the pack) / 30,
averaged over the packs of the step (their run: one 32k pack on each of 8 GPUs, no
accumulation). `loss: released` in an SFT recipe trains with exactly that.
"""

import torch
from trl import SFTTrainer

SEQUENCES_PER_UNIT = 30  # the constant in THUDM's DataCollatorForLMPackDataset


def released_loss(log_probs, label_mask, position_ids) -> torch.Tensor:
    """Mean over packs (rows; one pack per micro-batch, as THUDM's) of: the pack's mean
    target-token loss × its sequences with at least one target / 30. log_probs and label_mask
    are per predicting position (one shorter than position_ids); log_probs is zero off-mask."""
    starts = (position_ids == 0).long()
    segment = starts.cumsum(dim=1)[:, :-1]  # which sequence each predicting position is in
    per_pack = []
    for row in range(log_probs.shape[0]):
        mask = label_mask[row].bool()
        targets = mask.sum().clamp(min=1)
        mean_loss = -log_probs[row][mask].sum() / targets
        sequences = segment[row][mask].unique().numel()
        per_pack.append(mean_loss * sequences / SEQUENCES_PER_UNIT)
    return torch.stack(per_pack).mean()


class ReleasedLossSFTTrainer(SFTTrainer):
    """SFTTrainer with THUDM's released loss (see the module docstring)."""

    # The Trainer passes num_items_in_batch by name; this loss weights packs, not items.
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ARG002
        inputs["use_cache"] = False
        outputs = model(**inputs, fused_lm_head=True)
        loss = released_loss(outputs.log_probs, outputs.label_mask, inputs["position_ids"])
        if model.training:
            # the Trainer leaves accumulation to a loss that was given num_items_in_batch;
            # this one is a mean per pack, so average over the accumulated micro-batches too
            loss = loss / self.current_gradient_accumulation_steps
        return (loss, outputs) if return_outputs else loss
