"""How Gradio runs the studio's handlers, and how their errors reach the writer.

Generating events (plan drafts, writing, revisions) share one concurrency group of size one: a
single model instance serves them in turn and Gradio shows the queue position. Every other
event is queued too, without a limit, because only queued events can show Info and Error
messages in the page; a handler's UserError becomes a one-line error box, never a traceback,
in the language of the browser that asked.
"""

import functools
from collections.abc import Callable

import gradio as gr

from app.studio.language import current
from engine.errors import UserError

GENERATING = {"concurrency_id": "model", "concurrency_limit": 1}
INSTANT = {"show_progress": "hidden", "concurrency_limit": None}


def user_errors(handler: Callable) -> Callable:
    """Show a UserError as a one-line error box instead of a traceback."""

    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except UserError as error:
            raise gr.Error(error.text(current()), print_exception=False) from None

    return wrapper


def user_errors_stream(handler: Callable) -> Callable:
    """user_errors for generator handlers."""

    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        try:
            yield from handler(*args, **kwargs)
        except UserError as error:
            raise gr.Error(error.text(current()), print_exception=False) from None

    return wrapper
