"""Stopping on a signal without leaving anything half-written.

SIGTERM (``kill``, a container stop) is turned into the same KeyboardInterrupt that Ctrl-C raises, so every
``with`` block unwinds and removes its partial files (flap.io.partial) either way; the caller then prints one line,
not a traceback.  A process that a SIGKILL stops cannot clean up: flap.io.partial.sweep removes what it left.
"""

from __future__ import annotations

import signal
import threading

#: Exit status after an interrupt (128 + SIGINT, as shells report it).
INTERRUPTED_EXIT = 130
INTERRUPTED_MESSAGE = "stopped: nothing was written (the partial output was removed)"


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def terminate_as_interrupt() -> None:
    """Make SIGTERM, and SIGINT even where the shell started us ignoring it (``cmd &``), raise KeyboardInterrupt
    in the main thread (a no-op elsewhere: only it can set handlers)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def abort_writers_on_signals() -> None:
    """For a server whose jobs run in worker threads: on SIGINT or SIGTERM stop every file being written and remove
    it (flap.io.partial.abort_all), then interrupt the main thread so the server closes."""
    from flap.io import partial

    def handler(signum, frame) -> None:
        partial.abort_all()
        raise KeyboardInterrupt(signal.Signals(signum).name)

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, handler)
