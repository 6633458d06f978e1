"""Per-request output folders under the system temp dir (which Gradio may serve), cleaned up by age.

Gradio copies returned files into its own cache, so ours only need to live until the response is sent; old ones
are removed whenever a new folder is made.  FLAP_OUTPUT_DIR moves them, FLAP_KEEP_OUTPUTS_HOURS sets the age.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path

from flap.settings import settings



def output_root() -> Path:
    root = settings().output_dir
    return Path(root).expanduser() if root else Path(tempfile.gettempdir()) / "flap-app"


def new_job_dir(kind: str = "job") -> Path:
    """A fresh folder for one request's files."""
    root = output_root()
    root.mkdir(parents=True, exist_ok=True)
    remove_old(root)
    folder = root / f"{time.strftime('%Y%m%d-%H%M%S')}-{kind}-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    return folder


def remove_old(root: Path, max_age_hours: float | None = None) -> int:
    """Delete job folders older than the limit; returns how many went.  Never fails a request."""
    if max_age_hours is None:
        max_age_hours = settings().keep_outputs_hours
    cutoff = time.time() - max_age_hours * 3600
    removed = 0
    try:
        entries = list(root.iterdir())
    except OSError:
        return 0
    for entry in entries:
        try:
            if entry.is_dir() and entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
        except OSError:
            continue
    return removed
