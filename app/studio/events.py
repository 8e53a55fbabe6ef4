"""How Gradio runs the studio's handlers, and how their errors reach the writer.

Generating events (plan drafts, writing, revisions) share one concurrency group of size one: a
single model instance serves them in turn and Gradio shows the queue position. Every other
event is queued too, without a limit, because only queued events can show Info and Warning
messages in the page; a handler's UserError becomes a one-line message box, never a
traceback, in the language of the browser that asked. The handler then answers "no change"
rather than raising: an event that raises leaves Gradio's red "Error" label on its output
components, where it covers their text until the next answer.

A handler that has nothing to change (no project open, say) returns `{}`; the wrappers answer
Gradio `gr.skip()` for it, which it takes for any number of outputs (an empty dict for several
outputs is an error in the log and a bare "Error" on the page).
"""

import functools
import inspect
import logging
from collections.abc import Callable

import gradio as gr

from app.studio.language import current, t
from engine.errors import UserError

GENERATING = {"concurrency_id": "model", "concurrency_limit": 1}
INSTANT = {"show_progress": "hidden", "concurrency_limit": None}

log = logging.getLogger("longwrite.studio")


def refused(error: UserError, handler: Callable) -> None:
    """The message box for a refusal, also one line in the studio's log (never a traceback)."""
    name = getattr(handler, "__name__", None) or getattr(
        getattr(handler, "func", None), "__name__", ""
    )
    log.warning("refused (%s): %s", name, error.text("en"))
    gr.Warning(error.text(current()), title=t("toast.warning"))


def _annotated(wrapper: Callable, handler: Callable) -> Callable:
    """Give the wrapper the handler's parameter annotations. Gradio passes a gr.Request to a
    parameter annotated so, found by typing.get_type_hints, which does not see through
    functools.partial (a partial has no __annotations__ for functools.wraps to copy)."""
    wrapper.__annotations__ = {
        name: parameter.annotation
        for name, parameter in inspect.signature(handler).parameters.items()
        if parameter.annotation is not inspect.Parameter.empty
    }
    return wrapper


def user_errors(handler: Callable) -> Callable:
    """Show a UserError as a one-line message box, changing nothing, instead of a traceback."""

    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        try:
            result = handler(*args, **kwargs)
        except UserError as error:
            refused(error, handler)
            return gr.skip()
        return gr.skip() if _nothing(result) else result

    return _annotated(wrapper, handler)


def _nothing(result) -> bool:
    return isinstance(result, dict) and not result


def user_errors_stream(handler: Callable) -> Callable:
    """user_errors for generator handlers."""

    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        try:
            for update in handler(*args, **kwargs):
                yield gr.skip() if _nothing(update) else update
        except UserError as error:
            refused(error, handler)
            yield gr.skip()

    return _annotated(wrapper, handler)
