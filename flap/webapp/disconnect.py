"""Whether the client that asked for the running job is still there, so an abandoned job stops and frees its slot.

Gradio notices a closed page or a dropped API connection (its SSE stream ends) and marks the session's events
``alive = False``; ``/cancel`` removes the event from the running jobs.  Neither can stop a function that runs in a
worker thread, so the job asks, through its progress reports (flap.webapp.progress), and stops itself.  This
reads Gradio's queue (``Queue.active_jobs``, ``Event.alive``): Gradio has no public call for it.
"""

from __future__ import annotations

from flap.errors import FlapError


class ClientGone(FlapError):
    """The client disconnected or cancelled: the job was stopped."""


class EventWatch:
    """Call it to learn whether the Gradio event that was current when it was made is still wanted.  Always True
    outside an event (handlers called from plain Python) and after pickling (a ZeroGPU worker cannot see the
    queue; the job still stops at its next report in the server process)."""

    def __init__(self) -> None:
        self._queue, self._event_id = None, None
        try:
            from gradio.context import LocalContext
        except ImportError:
            return
        blocks = LocalContext.blocks.get(None)
        self._queue = getattr(blocks, "_queue", None)
        self._event_id = LocalContext.event_id.get(None)

    def __call__(self) -> bool:
        if self._queue is None or not self._event_id:
            return True
        for job in list(getattr(self._queue, "active_jobs", None) or ()):
            for event in job or ():
                if getattr(event, "_id", None) == self._event_id:
                    return bool(getattr(event, "alive", True))
        return False  # no longer among the running jobs: cancelled

    def __getstate__(self) -> dict:
        return {"_queue": None, "_event_id": None}
