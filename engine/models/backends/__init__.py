"""Model backends behind one protocol (see base.Backend)."""

from pathlib import Path

from engine.errors import UserError
from engine.models.backends.base import Backend, ChatRequest, Usage
from engine.models.discovery import embedded_model_path
from engine.schema import ModelSpec

__all__ = ["Backend", "ChatRequest", "Usage", "open_backend"]


def open_backend(
    model_path: str | None = None,
    base_url: str | None = None,
    model_name: str | None = None,
    n_ctx: int | None = None,
    n_threads: int | None = None,
    use_voice: bool = True,
) -> Backend:
    """A server backend when base_url is given, else a local GGUF (the embedded one by default)
    decoded on n_threads CPU threads (default: engine.models.backends.llama_cpp.default_threads),
    with the voice chosen on the command line unless use_voice is False (a judge)."""
    from engine.models import voice

    chosen = voice.chosen() if use_voice else None
    if base_url:
        if chosen is not None:
            raise UserError(key="error.voice_needs_gguf")
        from engine.models.backends.openai_compat import OpenAICompatBackend

        if not model_name:
            raise UserError(key="error.base_url_needs_name")
        return OpenAICompatBackend(base_url, model_name, n_ctx=n_ctx)
    from engine.models.backends.llama_cpp import LlamaCppBackend

    path = Path(model_path).expanduser() if model_path else embedded_model_path()
    return LlamaCppBackend(path, n_ctx=n_ctx, n_threads=n_threads, voice=chosen)


def open_spec(spec: ModelSpec, n_threads: int | None = None) -> Backend:
    """open_backend for a saved ModelSpec."""
    return open_backend(spec.model_path, spec.base_url, spec.model_name, spec.n_ctx, n_threads)
