"""Projects: what is done to a saved project — the service the command line and the studio
share (create, check, plan edits, export, progress), a writing run with its autosave, revisions,
and importing a manuscript.

May import: every other engine room; nothing else in the engine imports it.
"""
