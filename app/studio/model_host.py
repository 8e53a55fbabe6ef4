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
from engine.models import hardware
from engine.models.backends import Backend, open_backend
from engine.models.discovery import (
    ModelInfo,
    check_gguf_file,
    default_models_dir,
    embedded_model_path,
    find_models,
    read_model_info,
)
from engine.models.load_plan import Placement, plan_load
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


def model_choices(models_dir: Path | None) -> list[ModelChoice]:
    """The embedded model, GGUF files in the models directory, a path, a server."""
    choices = [ModelChoice("Embedded: SmolLM2-135M-Instruct (Q4_1)", EMBEDDED, LoadSettings())]
    for path in find_models(models_dir or default_models_dir()):
        choices.append(
            ModelChoice(
                f"Models folder: {path.name}", str(path), LoadSettings(model_path=str(path))
            )
        )
    choices.append(ModelChoice("A GGUF file path…", CUSTOM_PATH, None))
    choices.append(ModelChoice("An OpenAI-compatible server…", SERVER, None))
    return choices


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
    of `released`, the model it replaces, counts as free: that one is closed first."""
    return plan_load(
        info,
        spec,
        hardware.free_ram_bytes() + (released.ram_bytes if released else 0),
        hardware.gpus(),
        hardware.free_vram_bytes() + (released.vram_bytes if released else 0),
    )


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

    @classmethod
    def serving(cls, backend: Backend, spec: LoadSettings | None = None) -> "ModelHost":
        """A host that always serves an already opened backend."""
        return cls(spec or LoadSettings(), opener=lambda _spec: backend)

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
        return info

    def with_voice(self, saved: LoadSettings | None) -> LoadSettings:
        """The selected spec with a project's voice (its saved settings' voice_path and scale);
        a project that never chose one writes with the studio's own (its --voice)."""
        if saved is None or saved.voice_path is None:
            return self.spec
        voice = {"voice_path": saved.voice_path or None, "voice_scale": saved.voice_scale}
        return self.spec.model_copy(update=voice)

    def backend(self, saved: LoadSettings | None = None) -> Backend:
        """The loaded backend for the selected spec with the voice of `saved` (a project's
        settings), (re)loading it when the choice or the voice changed."""
        spec = self.with_voice(saved)
        with self._lock:
            if self._loaded is None or self._loaded[0] != spec:
                if self._loaded is not None:
                    self._loaded[1].close()
                    self._loaded = None
                self._loaded = (spec, self._opener(spec))
                self.placement = getattr(self._loaded[1], "placement", self.placement)
            return self._loaded[1]

    def close(self) -> None:
        with self._lock:
            if self._loaded is not None:
                self._loaded[1].close()
                self._loaded = None
