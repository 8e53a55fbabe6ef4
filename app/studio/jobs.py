"""A generation running in its own thread, followed by the UI through a queue.

The worker thread owns its database connection and iterates an engine generator (a writing
run, a plan draft, a section rewrite); the Gradio handler drains the queue and sends the browser
a snapshot at most every `REFRESH_S`. Stopping closes the engine generator in the worker, which
is how the engine saves a partial section.
"""

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from engine.errors import UserError
from engine.store.backup import database_error
from engine.store.database import Store
from engine.writing.events import Ended, Failed

log = logging.getLogger(__name__)

REFRESH_S = 0.1


class Job:
    """Runs `start(store)` (an iterator of engine events) in a thread; `stop()` ends it early."""

    def __init__(self, db_path: Path, start: Callable[[Store], Iterator]):
        self.events: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._db_path, self._start = db_path, start
        self._thread = threading.Thread(target=self._run, name="longwrite-job", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        stopped = False
        store = None
        try:
            store = Store(self._db_path)
            iterator = self._start(store)
            try:
                for event in iterator:
                    self.events.put(event)
                    if self._stop.is_set():
                        stopped = True
                        break
            finally:
                close = getattr(iterator, "close", None)
                if close:
                    close()
        except UserError as error:
            self.events.put(Failed(error))
        except sqlite3.DatabaseError as error:  # a damaged page: say how to restore
            self.events.put(Failed(database_error(self._db_path, error)))
        except Exception as error:  # a bug or a backend failure: keep the UI one line
            log.exception("generation failed")
            failed = UserError(
                key="error.generation_failed", kind=type(error).__name__, problem=error
            )
            self.events.put(Failed(failed))
        finally:
            if store is not None:
                store.close()
            self.events.put(Ended(stopped))

    def stop(self) -> None:
        self._stop.set()

    def wait(self, timeout: float = 60) -> None:
        self._thread.join(timeout)

    def batches(self) -> Iterator[list]:
        """The events that arrived in each `REFRESH_S` window, as lists, until the job ends."""
        ended = False
        while not ended:
            batch: list = []
            deadline = time.monotonic() + REFRESH_S
            while not ended and (left := deadline - time.monotonic()) > 0:
                try:
                    event = self.events.get(timeout=left)
                except queue.Empty:
                    break
                batch.append(event)
                ended = isinstance(event, Ended)
            yield batch
