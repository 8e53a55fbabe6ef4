"""Planning: drafting a plan (flat, or chapters of scenes) under a JSON-schema grammar, parsing
text plans, and rescaling word counts to a total. Book plans start like scene prompts, so
planning reuses engine.writing's prompt layout.

May import: engine's shared modules, engine.models and engine.writing. Never engine.store or
engine.projects.
"""
