"""Writing: the AgentWrite loop and everything a section's prompt and stopping depend on —
prompt layout, length control, loop detection, the story bible, style and word diffs. It knows
nothing of saved projects.

May import: engine's shared modules and engine.models. Never engine.store, engine.planning or
engine.projects.
"""
