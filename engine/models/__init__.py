"""Models: GGUF discovery and metadata, the catalogue, downloads, the machine's hardware, the
load-memory plan, and the backends that generate text (llama.cpp, OpenAI-compatible servers).

May import: engine's shared modules only.
"""
