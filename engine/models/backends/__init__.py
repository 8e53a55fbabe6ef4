"""Model backends behind one protocol (see base.Backend)."""

from pathlib import Path

from engine.errors import UserError
from engine.models.backends.base import Backend, ChatRequest, Usage
from engine.models.discovery import embedded_model_path
from engine.models.settings import LoadSettings

__all__ = ["Backend", "ChatRequest", "Usage", "open_backend"]


def open_backend(settings: LoadSettings | None = None) -> Backend:
    """A server backend when settings.base_url is given, else a local GGUF (the embedded one by
    default) loaded as the settings say. A base_url "ollama+http://…" is Ollama's native API
    (see backends.ollama)."""
    settings = settings or LoadSettings()
    if settings.voice_path and settings.backend == "server":
        raise UserError(key="error.voice_needs_gguf")
    if settings.base_url and settings.base_url.startswith("ollama+"):
        from engine.models.backends.ollama import OllamaBackend

        return OllamaBackend.from_base_url(settings.base_url, settings.model_name, settings.n_ctx)
    if settings.backend == "server":
        from engine.models.backends.openai_compat import OpenAICompatBackend

        if not settings.model_name:
            raise UserError(key="error.base_url_needs_name")
        return OpenAICompatBackend(settings.base_url, settings.model_name, n_ctx=settings.n_ctx)
    from engine.models.backends.llama_cpp import LlamaCppBackend

    path = Path(settings.model_path).expanduser() if settings.model_path else embedded_model_path()
    return LlamaCppBackend(path, settings)
