"""Progress reporting shared by the CLI (tqdm bars) and the app (Gradio's progress): one callable per job."""

from __future__ import annotations

from typing import Callable, Protocol


class ProgressReporter(Protocol):
    def __call__(self, stage: str, done: int, total: int) -> None: ...


def silent(stage: str, done: int, total: int) -> None:
    """A reporter that says nothing."""


class TqdmProgress:
    """One tqdm bar per stage, closed when the next stage starts or the job ends."""

    def __init__(self, disable: bool = False):
        self.disable = disable
        self._bar = None
        self._stage = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        from tqdm.auto import tqdm

        if stage != self._stage:
            self.close()
            self._stage = stage
            self._bar = tqdm(total=total, desc=stage, unit="step" if total < 10 else "frame", disable=self.disable, leave=True)
        if self._bar.total != total:
            self._bar.total = total
            self._bar.refresh()
        self._bar.update(done - self._bar.n)  # tqdm itself limits how often it redraws

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "TqdmProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def stage_callback(reporter: ProgressReporter, stage: str) -> Callable[[int, int], None]:
    """Adapt a reporter to the (done, total) callbacks that engines take."""
    return lambda done, total: reporter(stage, done, total)
