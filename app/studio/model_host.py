"""The studio's one model instance: chosen in the model panel, loaded on first use.

One llama.cpp context serves one generation at a time; the Gradio queue runs generating events
one by one (see wiring.GENERATING), so swapping the model between two generations is safe.
"""

import threading
from collections.abc import Callable
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
    """Holds the selected load settings (the spec) and the one loaded backend."""

    def __init__(
        self, spec: LoadSettings, opener: Callable[[LoadSettings], Backend] = open_backend
    ):
        self.spec = spec
        self._opener = opener
        self._loaded: tuple[LoadSettings, Backend] | None = None
        self._lock = threading.Lock()
        self.placement: Placement | None = None  # of the chosen local model, once checked
        self.changes = 0  # how many times the choice changed: pages compare it to their header

    @classmethod
    def serving(cls, backend: Backend, spec: LoadSettings | None = None) -> "ModelHost":
        """A host that always serves an already opened backend."""
        return cls(spec or LoadSettings(), opener=lambda _spec: backend)

    def machine(self) -> Machine:
        """This machine as the next model would find it: the loaded one's memory given back."""
        loaded = self._loaded[1] if self._loaded is not None else None
        return Machine.now(getattr(loaded, "placement", None))

    def choose(self, spec: LoadSettings) -> ModelInfo:
        """Check the model, and that it fits in memory, and make it the one the next generation
        uses; a model that cannot fit is refused here, before anything is loaded."""
        if spec.base_url and not spec.model_name:
            raise UserError(key="error.server_model_name")
        info = inspect_spec(spec)
        loaded = self._loaded[1] if self._loaded is not None else None
        released = getattr(loaded, "placement", None)
        placement = None if spec.base_url else plan_placement(info, spec, released)
        self.spec, self.placement = spec, placement
        self.changes += 1
        return info

    def backend(self) -> Backend:
        """The loaded backend for the selected spec, (re)loading it when the choice changed."""
        with self._lock:
            if self._loaded is None or self._loaded[0] != self.spec:
                if self._loaded is not None:
                    self._loaded[1].close()
                    self._loaded = None
                self._loaded = (self.spec, self._opener(self.spec))
                self.placement = getattr(self._loaded[1], "placement", self.placement)
            return self._loaded[1]

    def close(self) -> None:
        with self._lock:
            if self._loaded is not None:
                self._loaded[1].close()
                self._loaded = None
