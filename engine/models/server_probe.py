"""What an OpenAI-compatible server says about itself beyond the OpenAI API: the context each
request gets and how many requests it runs at once. Each server has its own route:

- llama.cpp's server: GET /props -> default_generation_settings.n_ctx (per slot), total_slots
- KoboldCpp: GET /api/v1/config/max_context_length -> {"value": N}
- vLLM: GET /v1/models -> data[].max_model_len

A server that answers none of them (LM Studio, most proxies) tells nothing; the caller keeps its
default. Every probe is a short GET that may fail quietly.
"""

import httpx

PROBE_TIMEOUT_S = 2.0


def server_root(base_url: str) -> str:
    """The server's address without the OpenAI route: http://h:8080/v1 -> http://h:8080."""
    root = base_url.rstrip("/")
    return root.removesuffix("/v1")


def _get_json(url: str) -> dict | None:
    try:
        response = httpx.get(url, timeout=PROBE_TIMEOUT_S)
        return response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None


def _positive(value) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


def server_context(base_url: str, model_name: str | None = None) -> int | None:
    """The context length a request gets on this server, where the server says."""
    root = server_root(base_url)
    kobold = _get_json(root + "/api/v1/config/max_context_length")
    if kobold and _positive(kobold.get("value")):
        return kobold["value"]
    props = _get_json(root + "/props")
    if props:
        settings = props.get("default_generation_settings") or {}
        n_ctx = _positive(settings.get("n_ctx")) or _positive(props.get("n_ctx"))
        if n_ctx:
            return n_ctx
    listed = _get_json(base_url.rstrip("/") + "/models") or {}
    for model in listed.get("data") or []:
        if isinstance(model, dict) and model.get("id") in (model_name, None):
            if _positive(model.get("max_model_len")):
                return model["max_model_len"]
    return None


def server_slots(base_url: str) -> int | None:
    """How many requests the server decodes at once, where it says (llama.cpp's slots)."""
    props = _get_json(server_root(base_url) + "/props")
    return _positive(props.get("total_slots")) if props else None
