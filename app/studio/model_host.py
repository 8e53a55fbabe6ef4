"""The studio's model: chosen in the model panel, loaded on first use, lent to generations.

Each running generation borrows a backend of its own (a backend's last_usage is per request)
and gives it back when it ends; a backend given back is kept for the next generation while its
model is still the chosen one, and closed otherwise. A server model lends as many as the gate
(app/studio/gate.py) lets run at once; a model in this process is only ever lent to one
generation, because the gate lets one run at a time there, and only once those of the model
before it have ended: so a switch never closes a backend that is in use, and never loads a
second model into memory beside one still writing.
"""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.studio.language import t
from engine.errors import UserError
from engine.models.backends import Backend, open_backend
from engine.models.discovery import (
    ModelInfo,
    check_gguf_file,
    default_models_dir,
    embedded_model_path,
    read_model_info,
)
from engine.models.load_plan import Placement
from engine.models.local_stores import FoundModel, found_models
from engine.models.parallel import settings_slots
from engine.models.recommend import Machine
from engine.models.settings import LoadSettings

EMBEDDED = "embedded"
CUSTOM_PATH = "custom-gguf"
SERVER = "server"


@dataclass(frozen=True)
class ModelChoice:
    """One entry of the model menu: its label and the spec it stands for."""

    label: str
    key: str
    spec: LoadSettings | None  # None: the user gives a path or a server URL
    source: str = ""  # for a GGUF found on disk: "ollama", "lm studio", "hf cache" or "folder"


def found_on_disk(models_dir: Path | None) -> list[FoundModel]:
    """GGUFs of Ollama, LM Studio, the HF cache and the models folder, where they lie."""
    return found_models([models_dir or default_models_dir()])


def model_choices(models_dir: Path | None) -> list[ModelChoice]:
    """The embedded model, GGUFs found on disk (the models folder among them), a path, a
    server."""
    choices = [ModelChoice("Embedded: SmolLM2-135M-Instruct (Q4_1)", EMBEDDED, LoadSettings())]
    for model in found_on_disk(models_dir):
        spec = LoadSettings(model_path=model.path)
        choices.append(ModelChoice(model.name, model.path, spec, model.source))
    choices.append(ModelChoice("A GGUF file path…", CUSTOM_PATH, None))
    choices.append(ModelChoice("An OpenAI-compatible server…", SERVER, None))
    return choices


def same_model(one: LoadSettings, other: LoadSettings) -> bool:
    """Whether two settings open the same model (the same file, or server and name)."""
    return _identity(one) == _identity(other)


def _identity(spec: LoadSettings) -> tuple:
    if spec.base_url:
        return ("server", spec.base_url.rstrip("/"), spec.model_name)
    path = Path(spec.model_path).expanduser() if spec.model_path else None
    if path is None or (path.is_file() and path.resolve() == _embedded_or_none()):
        return ("embedded",)
    return ("gguf", str(path))


def _embedded_or_none() -> Path | None:
    try:
        return embedded_model_path().resolve()
    except UserError:
        return None


def model_title(spec: LoadSettings, models_dir: Path | None) -> str:
    """How the writer knows the model: the embedded test model, a found model by its store's
    name and source, a file by its name, a server's model by name and host."""
    if spec.base_url:
        return t("model.title_server", name=spec.model_name or "?", url=spec.base_url)
    if _identity(spec) == ("embedded",):
        return t("model.title_embedded")
    path = str(Path(spec.model_path).expanduser())
    found = next((m for m in found_on_disk(models_dir) if m.path == path), None)
    if found is not None:
        return t("model.title_found", name=found.name, source=t(f"model.source.{found.source}"))
    return Path(path).name


def describe(info: ModelInfo, placement: Placement | None = None) -> str:
    """One line for the model panel; with a placement, where it runs, its context and KV cache."""
    model = {"name": info.name, "quant": info.quantization, "architecture": info.architecture}
    if placement is None:
        return t("model.described", **model, context=info.context_length)
    where = (
        t(
            "model.on_gpu",
            device=placement.device,
            layers=placement.gpu_layers,
            total=placement.n_layers,
        )
        if placement.gpu_layers
        else t("model.on_cpu")
    )
    return t(
        "model.placed",
        **model,
        where=where,
        context=placement.n_ctx,
        kv_cache=placement.kv_cache,
        kv_gb=placement.kv_bytes / 1e9,
    )


def plan_placement(
    info: ModelInfo, spec: LoadSettings, released: Placement | None = None
) -> Placement:
    """Where a local model would go on this machine; a UserError when it cannot fit. The memory
    of `released`, the model it replaces, counts as free: that one is closed first (unless
    LONGWRITE_MEMORY_LIMIT_MB caps what a model may take)."""
    return Machine.now(released).place(info, spec)


def inspect_spec(spec: LoadSettings) -> ModelInfo:
    """The model's metadata without loading its weights (a server is asked for its models)."""
    if spec.base_url:
        backend = open_backend(spec)
        info = backend.info
        backend.close()
        return info
    path = Path(spec.model_path).expanduser() if spec.model_path else embedded_model_path()
    check_gguf_file(path)
    return read_model_info(path)


class ModelHost:
    """Holds the selected load settings (the spec) and the backends opened for it; `parallel`
    is --parallel, the generations a server model runs at once (None: what the server says)."""

    def __init__(
        self,
        spec: LoadSettings,
        opener: Callable[[LoadSettings], Backend] = open_backend,
        parallel: int | None = None,
    ):
        self.spec = spec
        self.parallel = parallel
        self._opener = opener
        self._idle: list[tuple[LoadSettings, Backend]] = []
        self._lent: list[tuple[LoadSettings, Backend]] = []
        self._slots: tuple[LoadSettings, int] | None = None
        self._lock = threading.Lock()
        self.placement: Placement | None = None  # of the chosen local model, once checked
        self.changes = 0  # how many times the choice changed: pages compare it to their header

    @classmethod
    def serving(cls, backend: Backend, spec: LoadSettings | None = None) -> "ModelHost":
        """A host that always serves an already opened backend."""
        return cls(spec or LoadSettings(), opener=lambda _spec: backend)

    def machine(self) -> Machine:
        """This machine as the next model would find it: the loaded one's memory given back."""
        return Machine.now(self._released())

    def _released(self) -> Placement | None:
        """Where the model opened now sits: a new choice closes it first."""
        opened = [getattr(backend, "placement", None) for _, backend in [*self._idle, *self._lent]]
        return next((placement for placement in opened if placement is not None), None)

    def choose(self, spec: LoadSettings) -> ModelInfo:
        """Check the model, and that it fits in memory, and make it the one the next generation
        uses; a model that cannot fit is refused here, before anything is loaded."""
        if spec.base_url and not spec.model_name:
            raise UserError(key="error.server_model_name")
        info = inspect_spec(spec)
        placement = None if spec.base_url else plan_placement(info, spec, self._released())
        self._slots = (spec, settings_slots(spec, self.parallel))
        self.spec, self.placement = spec, placement
        self.changes += 1
        return info

    def slots(self) -> int:
        """Generations the chosen model runs at once (a server is asked once per choice)."""
        spec = self.spec
        known = self._slots
        if known is None or known[0] != spec:
            known = self._slots = (spec, settings_slots(spec, self.parallel))
        return known[1]

    def with_voice(self, saved: LoadSettings | None) -> LoadSettings:
        """The selected spec with a project's voice (its saved settings' voice_path and scale);
        a project that never chose one writes with the studio's own (its --voice)."""
        if saved is None or saved.voice_path is None:
            return self.spec
        voice = {"voice_path": saved.voice_path or None, "voice_scale": saved.voice_scale}
        return self.spec.model_copy(update=voice)

    def _chosen(self, spec: LoadSettings) -> bool:
        """Whether `spec` is the selected model, with any voice."""
        voice = {"voice_path": self.spec.voice_path, "voice_scale": self.spec.voice_scale}
        return spec.model_copy(update=voice) == self.spec

    @contextmanager
    def lease(self, saved: LoadSettings | None = None) -> Iterator[Backend]:
        """A backend of the chosen model with the voice of `saved` (a project's settings) for
        one generation, (re)loaded when the choice or the voice changed; given back at the end
        of the block, and kept while its model stays chosen."""
        with self._lock:
            spec = self.with_voice(saved)
            for entry in [entry for entry in self._idle if entry[0] != spec]:
                self._idle.remove(entry)
                entry[1].close()  # the model before: free its memory before loading this one
            if self._idle:
                entry = self._idle.pop()
            else:
                entry = (spec, self._opener(spec))
                self.placement = getattr(entry[1], "placement", self.placement)
            self._lent.append(entry)
        try:
            yield entry[1]
        finally:
            with self._lock:
                self._lent.remove(entry)
                if self._chosen(entry[0]):
                    self._idle.append(entry)
                else:
                    entry[1].close()

    def lent(
        self, start: Callable[[Backend], Iterator], saved: LoadSettings | None = None
    ) -> Iterator:
        """The events of `start(backend)` on a backend lent (with the voice of `saved`) for as
        long as they last."""
        with self.lease(saved) as backend:
            yield from start(backend)

    def close(self) -> None:
        with self._lock:
            for _, backend in self._idle + self._lent:
                backend.close()
            self._idle, self._lent = [], []
