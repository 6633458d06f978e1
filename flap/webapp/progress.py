"""Gradio's progress bar as a flap.progress.ProgressReporter (stage, done, total); each report also checks that the
client is still there (flap.webapp.disconnect) and stops the job when it is not."""

from __future__ import annotations

import time
from typing import Any, Callable

from flap.webapp.disconnect import ClientGone, EventWatch


class GradioProgress:
    """One bar per stage.  Updates are rate-limited because each one is a message to the browser, and engines
    report every frame."""

    def __init__(self, progress: Any, min_interval_s: float = 0.15, clock: Callable[[], float] = time.monotonic,
                 wanted: Callable[[], bool] | None = None):
        self._progress = progress
        self._wanted = wanted or EventWatch()  # made here, in the event's own context
        self._min_interval = min_interval_s
        self._clock = clock
        self._stage: str | None = None
        self._last = float("-inf")

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self._wanted():
            raise ClientGone("the client disconnected, so the job was stopped")
        now = self._clock()
        new_stage = stage != self._stage
        finished = total > 0 and done >= total
        if not (new_stage or finished or now - self._last >= self._min_interval):
            return
        self._stage, self._last = stage, now
        unit = "frames" if total >= 10 else "steps"
        try:
            self._progress((int(done), int(total) if total else None), desc=stage, unit=unit)
        except Exception:  # a closed browser tab must not fail the job
            pass

    def note(self, stage: str) -> None:
        """A stage without a count (e.g. 'speaking the text')."""
        self(stage, 0, 1)
