"""The model panel's downloads: catalogue entries not yet in the models folder, and a download
that reports progress as it goes and stops when the writer presses Cancel.

The handlers iterate `downloading` (a Gradio generator event) and set the cancel Event from
a Cancel button's event; nothing is downloaded unless the writer presses Download.
"""

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from app.studio.language import info, t
from app.studio.state import Studio
from engine.errors import UserError
from engine.models.catalogue import CatalogueEntry, catalogue, find_entry
from engine.models.discovery import default_models_dir
from engine.models.downloads import pull

POLL_S = 0.25  # how often a waiting download checks for news


@dataclass(frozen=True)
class DownloadProgress:
    """One update: share done (0..1, None while the size is unknown), a line to show, and the
    file's path once it is downloaded and checked."""

    fraction: float | None
    message: str
    path: Path | None = None


def downloadable(models_dir: Path | None) -> list[CatalogueEntry]:
    """Catalogue entries whose file is not in the models folder yet."""
    folder = models_dir or default_models_dir()
    return [entry for entry in catalogue() if not (folder / entry.filename).exists()]


def download_label(entry: CatalogueEntry) -> str:
    """How an entry reads in the Download menu."""
    size = t(
        "model.size" if entry.size_verified else "model.size_approx", gb=entry.size_bytes / 1e9
    )
    return f"{entry.name} {entry.quant} · {size} · {', '.join(entry.languages)} · {entry.license}"


def downloading(
    studio: Studio, key: str | None, progress: Callable[..., object]
) -> Iterator[DownloadProgress]:
    """The studio's one download at a time (the model panel's or the welcome's), which either
    panel's Cancel stops; its fraction goes to the page's `progress` bar, and its end is said."""
    if not key:
        raise UserError(key="error.choose_download")
    if studio.download_cancel is not None:
        raise UserError(key="error.download_running")
    studio.download_cancel = cancel = threading.Event()
    try:
        for update in download_entry(key, studio.models_dir, cancel):
            if update.fraction is not None:
                progress(update.fraction, desc=update.message)
            if update.path is not None:
                info("model.downloaded", file=update.path.name)
            yield update
    finally:
        studio.download_cancel = None


def cancel_download(studio: Studio) -> None:
    if studio.download_cancel is None:
        raise UserError(key="error.no_download")
    studio.download_cancel.set()
    info("model.cancelling")


def download_entry(
    key: str, models_dir: Path | None, cancel: threading.Event
) -> Iterator[DownloadProgress]:
    """Download a catalogue entry into the models folder, yielding progress; the last update
    carries the path. Raises UserError (one line) on failure or when cancel is set."""
    entry = find_entry(key)
    if entry is None:
        raise UserError(key="error.no_catalogue_entry", entry=key)
    folder = models_dir or default_models_dir()
    updates: queue.Queue[tuple[int, int]] = queue.Queue()
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            outcome["path"] = pull(
                entry.repo_id,
                entry.filename,
                folder,
                progress=lambda done, total: updates.put((done, total)),
                cancel=cancel,
            )
        except BaseException as error:  # handed to the waiting generator below
            outcome["error"] = error

    worker = threading.Thread(target=work, name=f"download-{key}", daemon=True)
    worker.start()
    yield DownloadProgress(0.0, t("model.downloading", file=entry.filename, repo=entry.repo_id))
    while worker.is_alive():
        worker.join(POLL_S)
        latest = None
        while not updates.empty():
            latest = updates.get_nowait()
        if latest is not None:
            yield _progress(entry, *latest)
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    path = outcome["path"]
    yield DownloadProgress(
        1.0, t("model.download_done", name=entry.name, quant=entry.quant, path=path), path=path
    )


def _progress(entry: CatalogueEntry, done: int, total: int) -> DownloadProgress:
    total = total or entry.size_bytes
    return DownloadProgress(
        min(done / total, 1.0) if total else None,
        t(
            "model.download_progress",
            name=entry.name,
            quant=entry.quant,
            done=done / 1e9,
            total=total / 1e9,
        ),
    )
