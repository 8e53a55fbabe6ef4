"""Storage: the project database (sqlite-utils, WAL) and its migrations, backups, the
one-writer-per-project lock and file names made from project names.

May import: engine's shared modules only.
"""
