"""A trainer callback that appends every logged metric to metrics.jsonl (with the wall-clock
time and the run's total steps, for `longwrite train status`) and, at the end of training,
draws the loss curves (training and, with an eval split, eval) into loss.png."""

import json
import time
from pathlib import Path

from transformers import TrainerCallback


class MetricsLog(TrainerCallback):
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.path = self.folder / "metrics.jsonl"

    def on_log(self, _args, state, _control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        row = {
            "step": state.global_step,
            "epoch": state.epoch,
            "max_steps": state.max_steps,
            "time": round(time.time(), 3),
            **logs,
        }
        peak = gpu_peak_gib()
        if peak is not None:
            row["gpu_peak_gib"] = peak
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")

    def on_train_end(self, _args, state, _control, **kwargs):
        if state.is_world_process_zero:
            plot_loss(self.path, self.folder / "loss.png")


def gpu_peak_gib() -> float | None:
    """The most GPU memory this process's tensors have held so far, or None without CUDA."""
    import torch

    if not torch.cuda.is_available():
        return None
    return round(torch.cuda.max_memory_allocated() / 2**30, 2)


def read_losses(path: Path, key: str = "loss") -> list[tuple[int, float]]:
    """(step, loss) pairs from a metrics.jsonl: the training loss, or key="eval_loss"."""
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [(row["step"], row[key]) for row in rows if key in row]


def plot_loss(metrics: Path, image: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    losses = read_losses(metrics)
    if not losses:
        return
    figure, axis = plt.subplots(figsize=(6, 3.5))
    axis.plot([step for step, _ in losses], [loss for _, loss in losses], color="#4a7ab5")
    held_out = read_losses(metrics, "eval_loss")
    if held_out:
        steps, values = zip(*held_out, strict=True)
        axis.plot(steps, values, color="#b5774a", marker="o", label="eval")
        axis.plot([], [], color="#4a7ab5", label="train")
        axis.legend()
    axis.set(xlabel="optimizer step", ylabel="training loss", title=image.parent.name)
    figure.tight_layout()
    figure.savefig(image, dpi=100)
    plt.close(figure)
