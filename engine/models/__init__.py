"""Models: GGUF discovery and metadata, the catalogue, downloads, the machine's hardware, the
load-memory plan, the backends that generate text (llama.cpp, OpenAI-compatible servers), and
the LoadSettings that say how to open one (settings.py: built once by app, saved with a project).

May import: engine's shared modules only.
"""
