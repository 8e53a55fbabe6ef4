"""Storage: the project database (sqlite-utils, WAL) and its migrations, backups, the
one-writer-per-project lock and file names made from project names.

May import: engine's shared modules, and engine.models.settings (the LoadSettings a project
saves as its model settings); nothing else of engine.models.
"""
