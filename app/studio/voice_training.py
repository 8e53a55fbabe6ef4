"""A voice trained from the studio: `longwrite voice data`, `voice train` and `export gguf-lora`
run one after another as child processes, watched from a background thread.

Child processes, not threads: Cancel kills the running one's process group, which really stops
a training step, and the studio's own model stays free for writing meanwhile. Everything is made
in a temporary folder; only a finished, checked adapter is copied into the models folder, under
a hidden name first and renamed in one step, so a cancelled or failed training leaves no file
there.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from engine.models.settings import LoadSettings

REPO = Path(__file__).resolve().parents[2]
STAGES = ("data", "train", "export")
_COUNT = re.compile(r"(\d+)/(\d+)")


@dataclass
class TrainingState:
    """Where a training stands: its stage (one of STAGES, then done, cancelled or failed), the
    stage's count of steps, and at the end the adapter or the last line of the failure."""

    stage: str = "data"
    done: int = 0
    total: int = 0
    adapter: Path | None = None
    problem: str = ""
    failed_in: str = ""  # the stage that failed

    @property
    def finished(self) -> bool:
        return self.stage not in STAGES


class VoiceTraining:
    """One voice trained from projects of the database on the studio's base model."""

    def __init__(
        self,
        db_path: Path,
        projects: list[str],
        base: LoadSettings,
        models_dir: Path,
        name: str,
        steps: int,
    ):
        self.state = TrainingState()
        self._work = tempfile.TemporaryDirectory(prefix="longwrite-voice-")
        self._folder = Path(self._work.name)
        self._models_dir, self._name, self._steps = models_dir, name, steps
        model = ["--model", base.model_path] if base.model_path else []
        sources = [arg for project in projects for arg in ("--from", project)]
        data, voice = self._folder / "data", self._folder / "voice"
        self._commands = {
            "data": ["voice", "data", *sources, "--db", str(db_path), *model, "-o", str(data)],
            "train": ["voice", "train", str(data), "--base", base.model_path or "embedded"]
            + ["-o", str(voice), "--steps", str(steps), "--save-steps", str(steps)],
            "export": ["export", "gguf-lora", str(voice), "-o", str(self._folder / "voice.gguf")],
        }
        self.process: subprocess.Popen | None = None
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        self.ended = threading.Event()
        self._thread = threading.Thread(target=self._run, name="longwrite-voice", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        """Stop the training now: the running stage's process group is killed."""
        with self._lock:
            self._cancelled.set()
            if self.process is not None and self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)

    def wait(self, timeout: float = 60) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            for stage in STAGES:
                self.state = TrainingState(stage, 0, self._steps if stage == "train" else 0)
                if not self._stage(stage):
                    return
            with self._lock:
                if self._cancelled.is_set():
                    self.state = TrainingState("cancelled")
                    return
                self.state = TrainingState("done", adapter=self._install())
        finally:
            self._work.cleanup()
            self.ended.set()

    def _stage(self, stage: str) -> bool:
        """Run one stage's command, following its progress; False when it did not succeed."""
        log = self._folder / f"{stage}.log"
        with self._lock:
            if self._cancelled.is_set():
                self.state = TrainingState("cancelled")
                return False
            with log.open("wb") as stderr:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "app", *self._commands[stage]],
                    cwd=REPO,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    start_new_session=True,  # its own process group, killed whole by Cancel
                )
        while True:
            try:
                code = self.process.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                self._follow(stage, log)
        if self._cancelled.is_set():
            self.state = TrainingState("cancelled")
            return False
        if code != 0:
            self.state = TrainingState("failed", problem=_last_line(log, stage), failed_in=stage)
            return False
        return True

    def _follow(self, stage: str, log: Path) -> None:
        """The stage's count: sections back-translated (its progress bar), training steps
        logged (metrics.jsonl)."""
        if stage == "data":
            counts = _COUNT.findall(log.read_text(encoding="utf-8", errors="replace")[-400:])
            if counts:
                self.state.done, self.state.total = map(int, counts[-1])
        elif stage == "train":
            metrics = self._folder / "voice" / "metrics.jsonl"
            if metrics.is_file():
                steps = [json.loads(line).get("step") or 0 for line in _lines(metrics)]
                self.state.done = max(steps, default=0)

    def _install(self) -> Path:
        """The adapter into the models folder under a free name, whole or not at all."""
        self._models_dir.mkdir(parents=True, exist_ok=True)
        target = self._models_dir / f"{self._name}.gguf"
        number = 2
        while target.exists():
            target = self._models_dir / f"{self._name}-{number}.gguf"
            number += 1
        hidden = target.with_name(f".{target.name}.partial")
        shutil.copyfile(self._folder / "voice.gguf", hidden)
        os.replace(hidden, target)
        return target


def _lines(path: Path) -> list[str]:
    """The complete lines of a file another process is still writing."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return [line for line in text.split("\n")[:-1] if line.strip()]


def _last_line(log: Path, stage: str) -> str:
    """The stage's one-line error (the command line prints a refusal as `Error: …`)."""
    lines = [line.strip() for line in re.split(r"[\r\n]", log.read_text(errors="replace"))]
    errors = [line for line in lines if line.startswith("Error:")]
    found = errors or [line for line in lines if line]
    return found[-1].removeprefix("Error:").strip() if found else f"{stage} stopped"


def voice_name(projects: list[str]) -> str:
    """A file name for the voice of these projects: voice-<first project's name>."""
    slug = re.sub(r"[^\w-]+", "-", projects[0].lower(), flags=re.UNICODE).strip("-")
    return f"voice-{slug or 'projects'}"
