"""A trainer callback that appends every logged metric to metrics.jsonl and, at the end of
training, draws the loss curve into loss.png."""

import json
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
        row = {"step": state.global_step, "epoch": state.epoch, **logs}
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")

    def on_train_end(self, _args, state, _control, **kwargs):
        if state.is_world_process_zero:
            plot_loss(self.path, self.folder / "loss.png")


def read_losses(path: Path) -> list[tuple[int, float]]:
    """(step, training loss) pairs from a metrics.jsonl."""
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [(row["step"], row["loss"]) for row in rows if "loss" in row]


def plot_loss(metrics: Path, image: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    losses = read_losses(metrics)
    if not losses:
        return
    figure, axis = plt.subplots(figsize=(6, 3.5))
    axis.plot([step for step, _ in losses], [loss for _, loss in losses], color="#4a7ab5")
    axis.set(xlabel="optimizer step", ylabel="training loss", title=image.parent.name)
    figure.tight_layout()
    figure.savefig(image, dpi=100)
    plt.close(figure)
