"""Opening the models a run uses (the answering model and a judge), with a thread count.

`threads` matters on a shared machine: llama.cpp's worker threads wait on one another after
every step, so more threads than the cores that are actually free slows decoding down sharply.
"""

from pathlib import Path

from engine.backends import Backend, open_backend
from engine.models import embedded_model_path


def open_model(
    model_path: str | None = None,
    base_url: str | None = None,
    model_name: str | None = None,
    n_ctx: int | None = None,
    threads: int | None = None,
) -> Backend:
    """open_backend, plus a llama.cpp thread count for local GGUF files."""
    if base_url or not threads:
        return open_backend(model_path, base_url, model_name, n_ctx)
    from engine.backends.llama_cpp import LlamaCppBackend

    path = Path(model_path).expanduser() if model_path else embedded_model_path()
    return LlamaCppBackend(path, n_ctx=n_ctx, n_threads=threads)
