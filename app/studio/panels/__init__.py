"""The studio's panels: one module per feature of the screen, each with its layout, its
handlers and its wiring together.

A panel module has a dataclass of the components it lays out (its Feature, see
app.studio.feature), a `layout()` that builds them and returns it, and handlers that take it as
`w`. A panel may import app.studio's helpers (service, state, events, language, render, the
table modules) and the engine, never another panel: what panels share reaches them as
`Shared` in `wire`. app.studio.ui builds the panels in order and holds the only list of them.
"""
