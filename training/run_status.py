"""`longwrite train status DIR`: where a run stands, read from its metrics.jsonl alone (no
torch), so it can be run beside a training job or on a copy of its output folder."""

import json
from dataclasses import dataclass
from pathlib import Path

from engine.errors import UserError

RECENT = 10  # logged steps the loss, speed and ETA are averaged over


@dataclass
class RunStatus:
    step: int
    max_steps: int | None
    epoch: float | None
    loss: float | None  # the last logged training loss
    recent_loss: float | None  # mean of the last RECENT logged training losses
    eval_loss: float | None
    eval_step: int | None
    tokens_per_second: float | None
    seconds_per_step: float | None

    @property
    def eta_seconds(self) -> float | None:
        if not self.max_steps or self.seconds_per_step is None:
            return None
        return max(0, self.max_steps - self.step) * self.seconds_per_step

    def summary(self) -> str:
        of = f" / {self.max_steps:,}" if self.max_steps else ""
        lines = [f"step {self.step:,}{of}" + (f", epoch {self.epoch:.2f}" if self.epoch else "")]
        if self.loss is not None:
            lines.append(
                f"train loss {self.loss:.4f} (mean of the last {RECENT}: {self.recent_loss:.4f})"
            )
        if self.eval_loss is not None:
            lines.append(f"eval loss {self.eval_loss:.4f} at step {self.eval_step:,}")
        if self.tokens_per_second is not None:
            lines.append(f"tokens/s {self.tokens_per_second:,.0f}")
        if self.seconds_per_step is not None:
            lines.append(f"{self.seconds_per_step:.2f} s/step")
        if self.eta_seconds is not None:
            lines.append(f"ETA {format_duration(self.eta_seconds)}")
        return "\n".join(lines)


def format_duration(seconds: float) -> str:
    minutes, _ = divmod(int(seconds + 30), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def read_rows(folder: Path) -> list[dict]:
    path = folder / "metrics.jsonl"
    if not path.is_file():
        raise UserError(key="error.no_metrics", path=folder)
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:  # a line cut short by a crash
            continue
    return rows


def current_session(rows: list[dict]) -> list[dict]:
    """The rows logged since the run last (re)started: a resumed run logs steps again from its
    checkpoint, and the time between the crash and the restart is no training time."""
    start = 0
    for i in range(1, len(rows)):
        if rows[i].get("step", 0) < rows[i - 1].get("step", 0):
            start = i
    return rows[start:]


def read_status(folder: str | Path) -> RunStatus:
    rows = read_rows(Path(folder))
    train = [row for row in current_session(rows) if "loss" in row]
    evals = [row for row in rows if "eval_loss" in row]
    if not train and not evals:
        raise UserError(key="error.no_metrics", path=folder)
    last = (train or evals)[-1]
    recent = train[-(RECENT + 1) :]
    seconds_per_step = tokens_per_second = None
    if len(recent) >= 2 and all("time" in row for row in (recent[0], recent[-1])):
        elapsed = recent[-1]["time"] - recent[0]["time"]
        steps = recent[-1]["step"] - recent[0]["step"]
        if elapsed > 0 and steps > 0:
            seconds_per_step = elapsed / steps
            tokens = recent[-1].get("num_input_tokens_seen", 0) - recent[0].get(
                "num_input_tokens_seen", 0
            )
            tokens_per_second = tokens / elapsed if tokens > 0 else None
    losses = [row["loss"] for row in train[-RECENT:]]
    return RunStatus(
        step=max(row.get("step", 0) for row in rows),
        max_steps=last.get("max_steps"),
        epoch=last.get("epoch"),
        loss=losses[-1] if losses else None,
        recent_loss=sum(losses) / len(losses) if losses else None,
        eval_loss=evals[-1]["eval_loss"] if evals else None,
        eval_step=evals[-1]["step"] if evals else None,
        tokens_per_second=tokens_per_second,
        seconds_per_step=seconds_per_step,
    )
