"""What every feature of the studio shares: the database, the model host and running jobs.

One Studio serves all browser sessions. Each thread gets its own database connection; each
project runs at most one generation (a plan draft, a writing run or a revision) at a time, as a
Job whose events the handlers follow; as many projects' generations run at once as the current
model allows (the gate). A job belongs to the page (browser tab) that pressed for it: Stop
there stops it, and no other page's. Presses waiting for the model are counted in order, so a
page can say where its job stands in the queue.

Each page is based on the versions of the project it shows (`basis`): set when the page shows
the project, advanced by the page's own writes only, and handed to the engine with every write,
which refuses one based on a version another tab or window has since replaced.

With sign-in, each writer sees and changes only their own projects: every handler finds a
project through `Studio.project` (or lists them with `projects`), which asks the store for
those of the writer signed in to the request being handled; another writer's project reads as
missing. Without sign-in there is no owner, and every project is everyone's.
"""

import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from gradio.context import LocalContext

from app.studio.gate import Gate
from app.studio.jobs import Job
from app.studio.language import status_word, t
from app.studio.model_host import ModelHost, same_model
from engine.errors import UserError
from engine.models.backends.base import Backend
from engine.store.database import Project, ProjectSummary, Store, Versions
from engine.writing.events import Ended

PROJECT_COLUMNS = ("name", "title", "words", "target", "status", "edited")


class Studio:
    """The studio's state shared by all browser sessions: database, model host, stop requests."""

    def __init__(
        self,
        db_path: Path,
        host: ModelHost,
        models_dir: Path | None = None,
        first_writer: str | None = None,
    ):
        """`first_writer`: with sign-in, the writer who gets the projects that belong to no one
        (made before sign-in, or on the command line); None for a studio without sign-in."""
        self.db_path = Path(db_path)
        self.signs_in = first_writer is not None
        self.host = host
        self.models_dir = models_dir
        self._exports_folder = tempfile.TemporaryDirectory(prefix="longwrite-export-")
        self.export_dir = Path(self._exports_folder.name)
        self._local = threading.local()
        self.jobs: dict[int, Job] = {}  # by project
        self.job_pages: dict[int, str] = {}  # project -> the page whose press started its job
        self.stop_requested: set[str] = set()  # pages whose Stop was pressed
        self.waiting: list[tuple[str, str]] = []  # (ticket, page) of presses not yet started
        self.shown: dict[str, int | None] = {}  # page -> the project it shows
        self.bases: dict[str, Versions] = {}  # page -> the versions of the project it shows
        # (page, project) -> the version each part ("brief", "plan", "section:<id>") got from
        # the page's own last write there: a queued job may build on its own page's later work
        self.own: dict[tuple[str, int], dict[str, int | None]] = {}
        self._page_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self.download_cancel: threading.Event | None = None  # set while a model downloads
        self.voice_training = None  # the voice being trained (app.studio.voice_training), if any
        self.gate = Gate(host.slots)
        store = Store(self.db_path)  # create and migrate once, up front
        if first_writer is not None:
            store.claim_unowned(first_writer)
        store.close()

    @property
    def store(self) -> Store:
        """This thread's connection (sqlite3 connections stay in the thread that made them)."""
        if getattr(self._local, "store", None) is None:
            self._local.store = Store(self.db_path)
        return self._local.store

    def writer(self) -> str | None:
        """The writer signed in to the request being handled; None without sign-in (every
        project is everyone's). With sign-in, a call without a signed-in writer (which Gradio
        does not let through) is nobody, who owns nothing."""
        if not self.signs_in:
            return None
        request = LocalContext.request.get(None)
        return (getattr(request, "username", None) or "") if request is not None else ""

    def project(self, project_id: int | None) -> Project:
        """The project with this id, if it is the writer's (else it reads as deleted)."""
        if project_id is None:
            raise UserError(key="error.open_project")
        return self.store.project_by_id(int(project_id), self.writer())

    def project_named(self, name: str) -> Project:
        """The writer's project with this name (another writer's reads as missing)."""
        return self.store.project(name, self.writer())

    def projects(self) -> list[ProjectSummary]:
        """The writer's projects, last edited first."""
        return self.store.list_projects(self.writer())

    def claim(self, project: Project) -> Project:
        """A project just made in the studio belongs to the writer who made it."""
        writer = self.writer()
        return self.store.give(project, writer) if writer is not None else project

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
            for p in self.projects()
        ]
        return {
            "headers": [t(f"projects.col.{column}") for column in PROJECT_COLUMNS],
            "data": rows,
        }

    def press(self, page: str) -> str:
        """A fresh press on a generating button in `page`: forget the page's earlier stop
        request and take a place in the queue; the ticket names that place."""
        ticket = uuid.uuid4().hex
        with self._lock:
            self.stop_requested.discard(page)
            self.waiting.append((ticket, page))
        return ticket

    def place(self, ticket: str) -> int:
        """1 for the next job to run (at once while the model has a free slot); the running
        generations that leave no slot free count as places ahead (one slot: the running job)."""
        with self._lock:
            tickets = [waiting for waiting, _ in self.waiting]
            ahead = tickets.index(ticket) if ticket in tickets else 0
        busy = self.gate.running - self.host.slots() + 1
        return ahead + 1 + max(busy, 0)

    @contextmanager
    def turn(self, ticket: str) -> Iterator[Iterator[None]]:
        """Wait for the model's turn (see Gate.turn); the ticket keeps its place in the queue
        until its turn comes or its handler ends."""
        self.host.slots()  # a server is asked its slots here, not while the gate is locked
        try:
            with self.gate.turn(ticket) as waiting:
                yield self._queued(ticket, waiting)
        finally:
            self.leave_queue(ticket)

    def _queued(self, ticket: str, waiting: Iterator[None]) -> Iterator[None]:
        yield from waiting
        self.leave_queue(ticket)

    def leave_queue(self, ticket: str) -> None:
        with self._lock:
            self.waiting = [(waiting, page) for waiting, page in self.waiting if waiting != ticket]

    def stop(self, page: str, project_id: int | None = None) -> None:
        """Stop the job of `page` (running, or waiting: it then ends as soon as it starts).
        A page with no job of its own may stop its open project's job if the page that
        started it is gone (closed or reloaded)."""
        with self._lock:
            self.stop_requested.add(page)
            jobs = [self.jobs[p] for p, owner in self.job_pages.items() if owner == page]
            if not jobs and project_id is not None and self.job_pages.get(project_id) == "":
                jobs = [self.jobs[project_id]]
        for job in jobs:
            job.stop()

    def leave(self, page: str) -> None:
        """The page was closed or reloaded: its jobs have no page now, its presses no place."""
        with self._lock:
            self.waiting = [(ticket, owner) for ticket, owner in self.waiting if owner != page]
            for project_id, owner in list(self.job_pages.items()):
                if owner == page:
                    self.job_pages[project_id] = ""
            self.shown.pop(page, None)
            self.bases.pop(page, None)
            self._page_locks.pop(page, None)
            for key in [key for key in self.own if key[0] == page]:
                self.own.pop(key, None)
            self.stop_requested.discard(page)

    def show(self, page: str, project_id: int | None) -> None:
        """Record which project `page` shows (its open project changed)."""
        self.shown[page] = project_id

    def page_lock(self, page: str) -> threading.Lock:
        """One page's writes, one at a time: each reads the basis the one before advanced."""
        with self._lock:
            return self._page_locks.setdefault(page, threading.Lock())

    def basis(self, page: str, project_id: int | None) -> Versions | None:
        """What `page` was based on for the project (None when it shows another or is
        unknown: a caller without a page, a test or the CLI, writes unchecked)."""
        based_on = self.bases.get(page) if page else None
        return based_on if based_on is not None and based_on.project_id == project_id else None

    def set_basis(self, page: str, versions: Versions | None) -> None:
        if not page:
            return
        if versions is None:
            self.bases.pop(page, None)
        else:
            self.bases[page] = versions

    def own_write(self, page: str, project_id: int, parts: dict[str, int | None]) -> None:
        """`page` wrote these parts of the project, which are at these versions now."""
        if page:
            with self._lock:
                self.own.setdefault((page, project_id), {}).update(parts)

    def shows(self, page: str, project_id: int) -> bool:
        """Whether `page` still shows the project (a page never recorded: assume it does)."""
        return not page or self.shown.get(page, project_id) == project_id

    def page_busy(self, page: str) -> bool:
        """Whether `page` has a job running or a press waiting for one."""
        with self._lock:
            return page in self.job_pages.values() or any(p == page for _, p in self.waiting)

    def busy(self, project: Project) -> bool:
        return project.id in self.jobs

    def remember_model(self, project: Project) -> None:
        """Save the model in use with the project it generates for, so that reopening the
        project can offer it again."""
        if not same_model(project.model, self.host.spec):
            self.store.update_project(project, model=self.host.spec)

    def follow(
        self, project: Project, start: Callable[[Store, Backend], Iterator], page: str = ""
    ) -> Iterator[list]:
        """Run a generation for the project in a Job of `page` and yield its events in
        batches."""
        if page and page in self.stop_requested:
            yield [Ended(stopped=True)]
            return
        host = self.host
        with self._lock:  # two pages' presses on one project may start together
            if project.id in self.jobs:
                raise UserError(key="error.busy")
            self.remember_model(project)

            def run(store: Store) -> Iterator:
                # the project's voice as saved when the job starts (the Voice menu may change it)
                saved = store.project_by_id(project.id).model
                return host.lent(lambda backend: start(store, backend), saved)

            job = Job(self.db_path, run)
            self.jobs[project.id] = job
            self.job_pages[project.id] = page
        try:
            for batch in job.batches():
                if page and page in self.stop_requested:
                    job.stop()
                yield batch
        finally:
            job.stop()
            job.wait()
            with self._lock:
                self.jobs.pop(project.id, None)
                self.job_pages.pop(project.id, None)
