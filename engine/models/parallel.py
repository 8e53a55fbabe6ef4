"""How many generations may run at once on a backend.

A llama.cpp context in this process decodes one sequence at a time, so it stays at one. A server
(vLLM, llama.cpp's server with slots, Ollama with OLLAMA_NUM_PARALLEL) batches requests that
arrive together, so several writers (or the data builder) gain from sending them at once: as
many as the server has slots where it says, else DEFAULT_SERVER_SLOTS. Each concurrent
generation needs its own backend instance (a backend's last_usage is per request).
"""

import os

from engine.models.backends.base import Backend
from engine.models.settings import LoadSettings

DEFAULT_SERVER_SLOTS = 4


def is_server(backend: Backend) -> bool:
    """True for a backend whose model runs in another process that batches requests."""
    from engine.models.backends.ollama import OllamaBackend
    from engine.models.backends.openai_compat import OpenAICompatBackend

    return isinstance(backend, OpenAICompatBackend | OllamaBackend)


def generation_slots(backend: Backend, requested: int | None = None) -> int:
    """Generations to run at once: 1 in process; on a server the number asked for, else the
    server's slots where it reports them, else DEFAULT_SERVER_SLOTS."""
    if not is_server(backend):
        return 1
    from engine.models.backends.ollama import SCHEME_PREFIX, OllamaBackend

    if isinstance(backend, OllamaBackend):
        return _server_slots(SCHEME_PREFIX + backend.host, requested)
    return _server_slots(str(backend.client.base_url), requested)


def settings_slots(settings: LoadSettings, requested: int | None = None) -> int:
    """generation_slots for the model these settings choose, without opening it (the server,
    if asked, answers one short GET or none)."""
    if not settings.base_url:
        return 1
    return _server_slots(settings.base_url, requested)


def _server_slots(base_url: str, requested: int | None) -> int:
    if requested:
        return requested
    return _reported_slots(base_url) or DEFAULT_SERVER_SLOTS


def _reported_slots(base_url: str) -> int | None:
    from engine.models.backends.ollama import SCHEME_PREFIX
    from engine.models.server_probe import server_slots

    if base_url.startswith(SCHEME_PREFIX):
        # Ollama does not report it; OLLAMA_NUM_PARALLEL here is the server's setting when the
        # server was started from the same environment.
        configured = os.environ.get("OLLAMA_NUM_PARALLEL", "").strip()
        return int(configured) if configured.isdigit() and int(configured) > 0 else None
    return server_slots(base_url)
