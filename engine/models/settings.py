"""The load settings: which model to open and how, as one object.

Built once where the user chooses (the command line's options in app/options.py, the studio's
model panel), passed down to `engine.models.backends.open_backend`, and saved with a project as
its model settings, so a resumed project loads the way it was written. Nothing else holds a
setting: there is no process-wide default to configure.

Shaped after llama-cpp-python's server `ModelSettings`, narrowed to what this tool offers.
"""

from typing import Literal

from pydantic import BaseModel, Field

from engine.errors import UserError

KvCache = Literal["f16", "q8_0"]
BackendKind = Literal["gguf", "server"]


class LoadSettings(BaseModel):
    """A local GGUF (model_path, or the embedded model when neither it nor base_url is set) or a
    model on an OpenAI-compatible server (base_url and model_name), with the llama.cpp options.

    gpu_layers None means auto: every layer when llama.cpp can offload, as many as fit in free
    VRAM, 0 on a CPU-only build. n_ctx None: the model's trained length capped by free memory.
    flash_attn None: on exactly when needed (a q8_0 cache) or when it helps (layers on a GPU).
    voice_path: a LoRA adapter GGUF made for this model, applied at voice_scale (1 = as trained);
    "" is no voice, chosen (a studio project that chose none writes without the studio's voice).
    n_threads belongs to the machine, not the project, so it is never saved (None: all cores
    but one, or LONGWRITE_THREADS).
    """

    model_path: str | None = None
    base_url: str | None = None
    model_name: str | None = None
    n_ctx: int | None = Field(None, ge=1)
    gpu_layers: int | None = Field(None, ge=0)
    kv_cache: KvCache = "f16"
    flash_attn: bool | None = None
    voice_path: str | None = None
    voice_scale: float = Field(1.0, ge=0.0, le=4.0)
    n_threads: int | None = Field(None, ge=1, exclude=True)

    @property
    def backend(self) -> BackendKind:
        """Which backend opens these settings: a server when a base_url is given."""
        return "server" if self.base_url else "gguf"

    def updated_by(self, given: "LoadSettings") -> "LoadSettings":
        """These (saved) settings with the fields set in `given` on top, as a resumed project
        loads. A model given anew (a path, a server or a context) replaces the saved model,
        server name and context together; threads always come from `given`."""
        fields = set(given.model_fields_set) | {"n_threads"}
        if fields & _NEW_MODEL:
            fields |= _MODEL_IDENTITY
        return self.model_copy(update={name: getattr(given, name) for name in fields})

    @property
    def chosen(self) -> bool:
        """Whether anything saved with a project was set explicitly (threads are not saved)."""
        return bool(self.model_fields_set - {"n_threads"})


_NEW_MODEL = {"model_path", "base_url", "n_ctx"}
# a voice is made for one base model: a new model drops the saved one unless given again
_MODEL_IDENTITY = {"model_path", "base_url", "model_name", "n_ctx", "voice_path", "voice_scale"}


def parse_gpu_layers(value: str | int | None) -> int | None:
    """'auto' (or nothing) -> None; a whole number >= 0 -> that number; else a UserError."""
    if value is None or str(value).strip().lower() in ("", "auto"):
        return None
    text = str(value).strip()
    if not text.isdigit():
        raise UserError(key="error.gpu_layers", value=value)
    return int(text)
