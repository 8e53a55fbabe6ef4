"""How many generations the studio runs at once: as many as the current model allows.

A model server batches requests, so several writers' generations run together there (up to
`longwrite studio --parallel N`, else the server's slots); a llama.cpp context in the studio's
own process decodes one at a time. The limit is asked of the model host at every admission, so
it follows the model the writer chose: after a switch to the embedded model, a waiting
generation starts only once every running one has ended (the server's generations finish on the
backends they started with).

This gate, rather than a Gradio concurrency limit, holds generations back because Gradio fixes
its limit when the page is built and its waiting events cannot show anything; a handler waiting
here yields now and then, so its page keeps saying where it stands in the queue. Waiters are
let in first come, first served.
"""

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

WAIT_STEP_S = 0.5  # how often a waiting handler comes back to say its place

log = logging.getLogger("longwrite.studio.gate")


class Gate:
    """Admits up to `limit()` holders at once; the others wait in the order they came."""

    def __init__(self, limit: Callable[[], int]):
        self._limit = limit
        self._changed = threading.Condition()
        self._waiting: list[object] = []
        self.running = 0

    def _may_enter(self, token: object) -> bool:
        return self._waiting.index(token) < self._limit() - self.running

    def enter(self, token: object, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a place; True once `token` holds one (it must
        `leave` then), False while it still waits (call again, or `give_up`)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            if token not in self._waiting:
                self._waiting.append(token)
            while not self._may_enter(token):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            self._waiting.remove(token)
            self.running += 1
            log.info("a generation starts: %d at once (up to %d)", self.running, self._limit())
            return True

    def give_up(self, token: object) -> None:
        """`token` stops waiting (its handler ended before its turn)."""
        with self._changed:
            if token in self._waiting:
                self._waiting.remove(token)
            self._changed.notify_all()

    def leave(self) -> None:
        with self._changed:
            self.running -= 1
            log.info("a generation ends: %d at once", self.running)
            self._changed.notify_all()

    def changed(self) -> None:
        """The limit may have changed (another model was chosen): waiters look again."""
        with self._changed:
            self._changed.notify_all()

    @contextmanager
    def turn(self, token: object) -> Iterator[Iterator[None]]:
        """`with gate.turn(token) as waiting: for _ in waiting: ...` — the loop body runs
        every WAIT_STEP_S while `token` waits; after the loop it holds a place, which the end of
        the block gives back (or, left before its turn, its place in the line)."""
        entered = False

        def waiting() -> Iterator[None]:
            nonlocal entered
            while not self.enter(token, WAIT_STEP_S):
                yield
            entered = True

        try:
            yield waiting()
        finally:
            if entered:
                self.leave()
            else:
                self.give_up(token)
