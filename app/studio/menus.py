"""Menus that follow other tabs: the section menu, history, chapter picker and plan versions
get new choices on the page's timer while the writer may be choosing. A choice in flight may
then name an entry the menu no longer lists, so these menus take any value (Gradio would
refuse it before a handler runs, with a traceback in the log) and the handlers check it."""

import gradio as gr

from engine.errors import UserError

FOLLOWING = {"allow_custom_value": True}  # the Dropdown arguments of such a menu


def menu_now(choices: list[tuple[str, object]], sent, value) -> tuple[dict, list]:
    """A menu's choices as they are now, or gr.skip() when the page has them already (`sent`:
    a redraw would close a menu the writer holds open). The writer's choice stays unless it
    is gone. Returns the update and what was sent."""
    if sent == choices:
        return gr.skip(), sent
    kept = value is None or str(value) in {str(v) for _, v in choices}
    return (gr.update(choices=choices) if kept else gr.update(choices=choices, value=None)), choices


def chosen_number(value, key: str) -> int:
    """A version menu's value as its number, or a UserError(`key`) asking to choose one."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise UserError(key=key) from None
