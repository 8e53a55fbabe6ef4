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
) -> Backend:
    """A server backend when base_url is given, else a local GGUF (the embedded one by default)
    decoded on n_threads CPU threads (default: engine.models.backends.llama_cpp.default_threads).
    A base_url "ollama+http://…" is Ollama's native API (see backends.ollama)."""
    if base_url and base_url.startswith("ollama+"):
        from engine.models.backends.ollama import OllamaBackend

        return OllamaBackend.from_base_url(base_url, model_name, n_ctx)
    if base_url:
        from engine.models.backends.openai_compat import OpenAICompatBackend

        if not model_name:
            raise UserError(key="error.base_url_needs_name")
        return OpenAICompatBackend(base_url, model_name, n_ctx=n_ctx)
    from engine.models.backends.llama_cpp import LlamaCppBackend

    path = Path(model_path).expanduser() if model_path else embedded_model_path()
    return LlamaCppBackend(path, n_ctx=n_ctx, n_threads=n_threads)


def open_spec(spec: ModelSpec, n_threads: int | None = None) -> Backend:
    """open_backend for a saved ModelSpec."""
    return open_backend(spec.model_path, spec.base_url, spec.model_name, spec.n_ctx, n_threads)
