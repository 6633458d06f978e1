"""Per-request output folders, capped by age and by total size, never removed while their job runs.

The folders live inside Gradio's own file cache (GRADIO_TEMP_DIR), so Gradio serves a job's files where they are
instead of copying them: each output is stored once.  FLAP_OUTPUT_DIR moves them elsewhere (Gradio then keeps its
own copy).  A folder is *running* while it holds a marker with the live process id of its job's server; clean-up
(on every new folder) skips those, removes finished folders older than FLAP_KEEP_OUTPUTS_HOURS, then the oldest
finished ones until the total is under FLAP_MAX_OUTPUT_MB, sparing folders finished in the last
``RECENT_S`` seconds so that a client can still fetch what it was just sent.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from flap.io import partial
from flap.settings import settings

log = logging.getLogger("flap.webapp")

RECENT_S = 300.0  # a finished folder younger than this survives the size cap (its files are being fetched)
RUNNING_MARKER = ".flap-running"
_lock = threading.Lock()
_scopes = threading.local()  # per thread: the lists of folders of the open job_scopes


def output_root() -> Path:
    root = settings().output_dir
    if root:
        return Path(root).expanduser()
    cache = os.environ.get("GRADIO_TEMP_DIR", "").strip() or str(Path(tempfile.gettempdir()) / "gradio")
    return Path(cache).resolve() / "flap-jobs"  # inside Gradio's cache (as gradio.utils.get_upload_folder says)


def keep_hours() -> float:
    return settings().keep_outputs_hours


def max_output_bytes() -> float:
    """The size cap in bytes; 0 or 'none' lifts it."""
    mb = settings().max_output_mb
    return float("inf") if mb is None else mb * 1024 * 1024


def new_job_dir(kind: str = "job") -> Path:
    """A fresh folder for one request's files, marked running until ``finish_job``, the end of the enclosing
    ``job_scope``, or the end of its process."""
    root = output_root()
    root.mkdir(parents=True, exist_ok=True)
    clean_up(root)
    folder = root / f"{time.strftime('%Y%m%d-%H%M%S')}-{kind}-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    (folder / RUNNING_MARKER).write_text(str(os.getpid()))
    stack = getattr(_scopes, "stack", None)
    if stack:
        stack[-1].append(folder)
    return folder


def finish_job(folder: Path) -> None:
    """The job is over: its folder may now be cleaned up like any other."""
    try:
        (Path(folder) / RUNNING_MARKER).unlink(missing_ok=True)
        os.utime(folder)  # its age counts from the end of the job
    except OSError:
        pass


@contextmanager
def job_scope() -> Iterator[list[Path]]:
    """Every folder that ``new_job_dir`` makes in this thread inside the scope is finished when it ends."""
    made: list[Path] = []
    _scopes.stack = getattr(_scopes, "stack", []) + [made]
    try:
        yield made
    finally:
        _scopes.stack = _scopes.stack[:-1]
        for folder in made:
            finish_job(folder)


def is_running(folder: Path) -> bool:
    """Whether the folder's job is still running (its marker names a live process)."""
    try:
        return partial.process_alive(int((folder / RUNNING_MARKER).read_text().strip() or 0))
    except (OSError, ValueError):
        return False


def _folder_size(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file():
                total += path.stat().st_size
        except OSError:
            continue
    return total


def clean_up(root: Path, max_age_hours: float | None = None, max_bytes: float | None = None,
             now: float | None = None) -> list[Path]:
    """Remove finished job folders past the age limit, then the oldest finished ones while the total is over the
    size cap; running folders are never touched.  Returns the removed folders; never fails a request."""
    max_age_hours = keep_hours() if max_age_hours is None else max_age_hours
    max_bytes = max_output_bytes() if max_bytes is None else max_bytes
    now = time.time() if now is None else now
    removed: list[Path] = []
    with _lock:
        try:
            folders = [entry for entry in root.iterdir() if entry.is_dir()]
        except OSError:
            return removed
        entries = []
        for folder in folders:
            try:
                entries.append((folder.stat().st_mtime, folder, _folder_size(folder), is_running(folder)))
            except OSError:
                continue
        entries.sort(key=lambda e: e[0])
        total = sum(size for _, _, size, _ in entries)
        for mtime, folder, size, running in entries:
            if running:
                continue
            too_old = now - mtime > max_age_hours * 3600
            over_cap = total > max_bytes and now - mtime > RECENT_S
            if too_old or over_cap:
                shutil.rmtree(folder, ignore_errors=True)
                if not folder.exists():
                    removed.append(folder)
                    total -= size
    return removed


def remove_old(root: Path, max_age_hours: float | None = None) -> int:
    """Delete finished job folders older than the limit (no size cap); returns how many went."""
    return len(clean_up(root, max_age_hours=max_age_hours, max_bytes=float("inf")))


def sweep_at_start(root: Path | None = None) -> list[Path]:
    """At server start-up: remove the partial files and the running markers that a killed server left, so its
    half-made videos go at once and its folders are cleaned up like finished ones."""
    root = output_root() if root is None else root
    removed = partial.sweep(root, recursive=True)
    try:
        for marker in root.glob(f"*/{RUNNING_MARKER}"):
            if not is_running(marker.parent):
                marker.unlink(missing_ok=True)
    except OSError:
        pass
    if removed:
        log.info("removed %d partial file(s) a stopped server left in %s", len(removed), root)
    return removed
