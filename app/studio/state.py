"""What every feature of the studio shares: the database, the model host and running jobs.

One Studio serves all browser sessions. Each thread gets its own database connection; each
project runs at most one generation (a plan draft, a writing run or a revision) at a time, as a
Job whose events the handlers follow.
"""

import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from app.studio.jobs import Job
from app.studio.language import status_word, t
from app.studio.model_host import ModelHost
from engine.errors import UserError
from engine.models.backends.base import Backend
from engine.store.database import Project, Store
from engine.writing.events import Ended

PROJECT_COLUMNS = ("name", "title", "words", "target", "status", "edited")


class Studio:
    """The studio's state shared by all browser sessions: database, model host, stop requests."""

    def __init__(self, db_path: Path, host: ModelHost, models_dir: Path | None = None):
        self.db_path = Path(db_path)
        self.host = host
        self.models_dir = models_dir
        self._exports_folder = tempfile.TemporaryDirectory(prefix="longwrite-export-")
        self.export_dir = Path(self._exports_folder.name)
        self._local = threading.local()
        self.jobs: dict[int, Job] = {}
        self.stop_requested: set[int] = set()
        self.download_cancel: threading.Event | None = None  # set while a model downloads
        Store(self.db_path).close()  # create and migrate once, up front

    @property
    def store(self) -> Store:
        """This thread's connection (sqlite3 connections stay in the thread that made them)."""
        if getattr(self._local, "store", None) is None:
            self._local.store = Store(self.db_path)
        return self._local.store

    def project(self, project_id: int | None) -> Project:
        if project_id is None:
            raise UserError(key="error.open_project")
        return self.store.project_by_id(int(project_id))

    def project_table(self) -> dict:
        """The projects list (name, book title, words, target, status, last edit), headed in the
        reader's language."""
        rows = [
            [
                p.name,
                p.title if p.title != p.name else "",  # a project without its own title
                p.words,
                p.target_words,
                status_word(p.status),
                p.updated_at.replace("T", " ")[:16],
            ]
            for p in self.store.list_projects()
        ]
        return {
            "headers": [t(f"projects.col.{column}") for column in PROJECT_COLUMNS],
            "data": rows,
        }

    def arm(self, project_id: int | None) -> None:
        """A fresh click on a generating button: forget an earlier stop request."""
        if project_id is not None:
            self.stop_requested.discard(int(project_id))

    def stop(self, project_id: int | None) -> None:
        if project_id is None:
            return
        self.stop_requested.add(int(project_id))
        job = self.jobs.get(int(project_id))
        if job is not None:
            job.stop()

    def busy(self, project: Project) -> bool:
        return project.id in self.jobs

    def follow(
        self, project: Project, start: Callable[[Store, Backend], Iterator]
    ) -> Iterator[list]:
        """Run a generation for the project in a Job and yield its events in batches."""
        if project.id in self.jobs:
            raise UserError(key="error.busy")
        if project.id in self.stop_requested:
            yield [Ended(stopped=True)]
            return
        host = self.host
        job = Job(self.db_path, lambda store: start(store, host.backend()))
        self.jobs[project.id] = job
        try:
            for batch in job.batches():
                if project.id in self.stop_requested:
                    job.stop()
                yield batch
        finally:
            job.stop()
            job.wait()
            self.jobs.pop(project.id, None)
