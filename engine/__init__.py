"""The core of longwrite studio, importable without gradio, click or torch.

Rooms (each package's docstring says what it holds and what it may import):
  models    GGUF discovery, catalogue, downloads, hardware, load plan, backends, LoadSettings
  store     the project database, migrations, backups, the project lock
  planning  drafting and rescaling plans
  writing   the AgentWrite loop, prompt layout, length control, bible, style, diffs
  projects  the project service, writing runs, revisions, manuscript import and format
  review    the editor's read-through

Shared by every room: errors, messages, schema, metrics, prompts, text_hygiene; export turns a
written project into files. Imports point one way: models → store → writing → planning →
projects → review, and nothing in the engine imports app or training.
"""
