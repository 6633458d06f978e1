"""Partial files: the name a file has while it is being written, and removing those a dead writer left.

A file is written as ``NAME.part.<pid>.EXT`` and renamed to ``NAME.EXT`` only when complete.  The writer's process
id in the name lets any later process tell a file still being written (its writer is alive) from one that a
SIGKILL, a power cut or an out-of-memory kill left behind (its writer is gone): ``sweep`` removes only the latter.
Writers in this process register their encoder, so a signal handler can stop them and remove their files
(``abort_all``) before the process exits.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from pathlib import Path

_PARTIAL = re.compile(r"^(?P<stem>.+)\.part(?:\.(?P<pid>\d+))?(?P<suffix>\.[^.]+)$")
_lock = threading.Lock()
_active: dict[Path, subprocess.Popen | None] = {}


def part_path(path: Path) -> Path:
    """Where ``path`` is written until it is complete (in the same folder, so the final rename is atomic)."""
    return path.with_name(f"{path.stem}.part.{os.getpid()}{path.suffix}")


def is_partial(path: Path) -> bool:
    return _PARTIAL.match(path.name) is not None


def writer_alive(path: Path) -> bool:
    """Whether the process that is writing ``path`` (a partial file's name) still runs."""
    match = _PARTIAL.match(path.name)
    if match is None or match.group("pid") is None:  # not ours, or from a version without the pid: nobody writes it
        return False
    pid = int(match.group("pid"))
    if pid == os.getpid():
        with _lock:
            return path in _active
    return process_alive(pid)


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs (signal 0 checks without sending anything)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a live process of another user
        return True
    return True


def sweep(folder: Path, stem: str | None = None, recursive: bool = False) -> list[Path]:
    """Remove the partial files in ``folder`` whose writer is gone (only those of ``stem`` when given); returns
    them.  Never raises: a file that cannot be removed is left for the next sweep."""
    removed: list[Path] = []
    try:
        candidates = folder.rglob("*.part*") if recursive else folder.glob("*.part*")
        for path in list(candidates):
            match = _PARTIAL.match(path.name)
            if match is None or (stem is not None and match.group("stem") != stem) or not path.is_file():
                continue
            if not writer_alive(path):
                try:
                    path.unlink()
                    removed.append(path)
                except OSError:
                    pass
    except OSError:
        pass
    return removed


def register(path: Path, process: subprocess.Popen | None = None) -> None:
    """``path`` is being written (by ``process``, when a child process writes it)."""
    with _lock:
        _active[path] = process


def unregister(path: Path) -> None:
    with _lock:
        _active.pop(path, None)


def abort_all() -> list[Path]:
    """Stop every registered writer and remove its partial file (for signal handlers); returns the files."""
    with _lock:
        active = list(_active.items())
        _active.clear()
    for path, process in active:
        if process is not None and process.poll() is None:
            try:
                process.kill()
                process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass
    return [path for path, _ in active]
