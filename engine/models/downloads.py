"""Opt-in GGUF downloads from the Hugging Face Hub into the models folder.

huggingface_hub does the transfer: it honours HF_ENDPOINT, HF_TOKEN and proxy settings and
resumes a connection dropped mid-file. The file is staged in a hidden folder inside the models
folder (same disk, so the final move is atomic), its GGUF header checked, then moved in place;
on any failure or cancel the staging folder is removed, so the models folder never holds a
partial file. Nothing here runs unless the user asks for a download.
"""

import errno
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from engine.errors import UserError
from engine.models.discovery import check_gguf_file

STAGING_PREFIX = ".downloading-"
SPARE_BYTES = 256 * 1024**2  # left free on the disk after a download

Progress = Callable[[int, int], None]  # bytes done, bytes in all (0 when unknown)


class DownloadCancelled(UserError):
    """The user stopped a download; nothing of it was kept."""


def hub_endpoint() -> str:
    """HF_ENDPOINT read now (huggingface_hub reads it once, at import)."""
    return os.environ.get("HF_ENDPOINT", "").strip().rstrip("/") or "https://huggingface.co"


def choose_file(repo_id: str, quant: str) -> str:
    """The repo's single-file GGUF whose name carries the quantization, e.g. Q4_K_M."""
    files = [name for name in _repo_files(repo_id) if name.lower().endswith(".gguf")]
    wanted = quant.lower()
    matches = [name for name in files if wanted in Path(name).name.lower() and "-of-" not in name]
    if len(matches) == 1:
        return matches[0]
    quants = sorted({_quant_of(name) for name in files})
    if not matches:
        offered = ", ".join(quants) if quants else "no GGUF files"
        raise UserError(key="error.no_quant", repo=repo_id, quant=quant, offered=offered)
    raise UserError(key="error.several_quant", repo=repo_id, quant=quant, files=", ".join(matches))


def pull(
    repo_id: str,
    filename: str,
    models_dir: Path,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> Path:
    """Download one file of a Hub repo into models_dir and return its path there."""
    target = models_dir / Path(filename).name
    if target.exists():
        check_gguf_file(target)
        return target
    _make_dir(models_dir)
    staging = models_dir / f"{STAGING_PREFIX}{target.name}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _check_room(repo_id, filename, models_dir)
        downloaded = _download(repo_id, filename, staging, progress, cancel)
        _check_downloaded(downloaded, repo_id, filename)
        os.replace(downloaded, target)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise _user_error(error, repo_id, filename, models_dir) from None
    shutil.rmtree(staging, ignore_errors=True)
    return target


def _download(
    repo_id: str,
    filename: str,
    staging: Path,
    progress: Progress | None,
    cancel: threading.Event | None,
) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.utils import logging as hub_logging

    # its retry warnings would bury the one line a failed download ends with
    hub_logging.set_verbosity_error()
    path = hf_hub_download(
        repo_id,
        filename,
        local_dir=staging,
        endpoint=hub_endpoint(),
        tqdm_class=_progress_class(progress, cancel),
    )
    return Path(path)


def _check_room(repo_id: str, filename: str, models_dir: Path) -> None:
    """Refuse before downloading when the file cannot fit on the models folder's disk."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    url = hf_hub_url(repo_id, filename, endpoint=hub_endpoint())
    size = get_hf_file_metadata(url, endpoint=hub_endpoint()).size or 0
    free = shutil.disk_usage(models_dir).free
    if size + SPARE_BYTES > free:
        raise UserError(
            key="error.disk_too_small",
            filename=filename,
            size=size / 1e9,
            folder=models_dir,
            free=free / 1e9,
        )


def _progress_class(progress: Progress | None, cancel: threading.Event | None):
    """A tqdm class that reports to `progress` and stops the transfer when `cancel` is set;
    None keeps huggingface_hub's own bar (the command line's)."""
    if progress is None and cancel is None:
        return None
    from tqdm.auto import tqdm

    class Reporting(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True  # report through the callback, not the terminal
            super().__init__(*args, **kwargs)

        def update(self, n=1):
            if cancel is not None and cancel.is_set():
                raise DownloadCancelled("Download cancelled; nothing was kept.")
            self.n += n or 0
            if progress is not None:
                progress(int(self.n), int(self.total or 0))

    return Reporting


def _check_downloaded(path: Path, repo_id: str, filename: str) -> None:
    try:
        check_gguf_file(path)
    except UserError:
        raise UserError(key="error.download_not_gguf", filename=filename, repo=repo_id) from None


def _repo_files(repo_id: str) -> list[str]:
    from huggingface_hub import HfApi

    try:
        info = HfApi(endpoint=hub_endpoint()).model_info(repo_id)
    except BaseException as error:
        raise _user_error(error, repo_id, None, None) from None
    return [sibling.rfilename for sibling in info.siblings or []]


def _quant_of(filename: str) -> str:
    stem = Path(filename).name.removesuffix(".gguf")
    return stem.replace("-", ".").split(".")[-1].upper()


def _make_dir(models_dir: Path) -> None:
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(key="error.models_dir", folder=models_dir, problem=error.strerror) from None


def _user_error(
    error: BaseException, repo_id: str, filename: str | None, models_dir: Path | None
) -> BaseException:
    """The one line a user sees for a failed download (KeyboardInterrupt passes through)."""
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    if isinstance(error, UserError | KeyboardInterrupt):
        return error
    if isinstance(error, GatedRepoError):
        return UserError(key="error.repo_gated", repo=repo_id)
    if isinstance(error, RepositoryNotFoundError):
        return UserError(key="error.repo_missing", repo=repo_id, hub=hub_endpoint())
    if isinstance(error, EntryNotFoundError) and not isinstance(error, LocalEntryNotFoundError):
        return UserError(key="error.repo_no_file", repo=repo_id, filename=filename)
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return UserError(key="error.disk_full", folder=models_dir)
    if isinstance(error, LocalEntryNotFoundError):  # how huggingface_hub says "offline"
        reason = "no connection"
    else:
        lines = str(error).strip().splitlines()
        reason = lines[0][:160] if lines else type(error).__name__
    return UserError(key="error.download_failed", hub=hub_endpoint(), reason=reason)
