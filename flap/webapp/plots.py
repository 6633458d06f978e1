"""A picture of a motion over time (head yaw/pitch/roll, jaw opening, blinks), so people see what the controls did.

matplotlib is imported on first use (it costs about a second) and drawn with the Agg canvas on a bare Figure, so
nothing touches pyplot's global state from the server's worker threads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flap.motion.representation import MotionSequence

BLINK_THRESHOLD = 0.5  # eyelid closure above which a frame counts as part of a blink


@dataclass(frozen=True)
class MotionStats:
    frames: int
    fps: float
    duration_s: float
    yaw_range: tuple[float, float]
    pitch_range: tuple[float, float]
    roll_range: tuple[float, float]
    max_jaw_deg: float
    blinks: int

    @property
    def blinks_per_minute(self) -> float:
        return self.blinks * 60.0 / self.duration_s if self.duration_s > 0 else 0.0

    def describe(self) -> str:
        def span(r: tuple[float, float]) -> str:
            return f"{r[0]:+.0f}..{r[1]:+.0f}°"

        return (f"{self.frames} frames at {self.fps:g} fps ({self.duration_s:.2f} s); head yaw {span(self.yaw_range)}, "
                f"pitch {span(self.pitch_range)}, roll {span(self.roll_range)}; jaw opens up to {self.max_jaw_deg:.0f}°; "
                f"{self.blinks} blink{'' if self.blinks == 1 else 's'} ({self.blinks_per_minute:.0f} per minute).")


def count_blinks(closure: np.ndarray, threshold: float = BLINK_THRESHOLD) -> int:
    """Number of times the lids close past ``threshold`` (rising edges)."""
    closed = np.asarray(closure) > threshold
    return int(np.count_nonzero(closed[1:] & ~closed[:-1]) + (1 if closed.size and closed[0] else 0))


def motion_stats(motion: MotionSequence) -> MotionStats:
    euler = motion.head_euler_degrees()
    closure = motion.eyelids.mean(axis=1)

    def rng(column: np.ndarray) -> tuple[float, float]:
        return (float(column.min()), float(column.max())) if column.size else (0.0, 0.0)

    return MotionStats(frames=motion.num_frames, fps=motion.fps, duration_s=motion.duration,
                       yaw_range=rng(euler[:, 0]), pitch_range=rng(euler[:, 1]), roll_range=rng(euler[:, 2]),
                       max_jaw_deg=float(np.degrees(motion.jaw_opening().max(initial=0.0))),
                       blinks=count_blinks(closure))


def motion_figure(motion: MotionSequence, title: str | None = None):
    """A matplotlib Figure with three rows sharing the time axis: head angles, jaw opening, eyelid closure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    t = np.arange(motion.num_frames) / motion.fps
    euler = motion.head_euler_degrees()
    jaw = np.degrees(motion.jaw_opening())
    closure = motion.eyelids.mean(axis=1)
    stats = motion_stats(motion)

    fig = Figure(figsize=(8.0, 5.0), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    head, mouth, lids = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [2.0, 1.0, 1.0]})
    for column, name, color in ((0, "yaw", "#1f77b4"), (1, "pitch", "#d62728"), (2, "roll", "#2ca02c")):
        head.plot(t, euler[:, column], label=name, color=color, linewidth=1.4)
    head.axhline(0.0, color="#999999", linewidth=0.6)
    head.set_ylabel("head (degrees)")
    head.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    mouth.fill_between(t, 0.0, jaw, color="#9467bd", alpha=0.35, linewidth=0)
    mouth.plot(t, jaw, color="#9467bd", linewidth=1.0)
    mouth.set_ylabel("jaw (deg)")
    lids.fill_between(t, 0.0, closure, color="#ff7f0e", alpha=0.35, linewidth=0)
    lids.plot(t, closure, color="#ff7f0e", linewidth=1.0)
    lids.axhline(BLINK_THRESHOLD, color="#999999", linewidth=0.6, linestyle=":")
    lids.set_ylim(-0.02, 1.02)
    lids.set_ylabel("eyelids")
    lids.set_xlabel("time (s)")
    lids.text(0.995, 0.92, f"{stats.blinks} blink{'' if stats.blinks == 1 else 's'}", transform=lids.transAxes, ha="right", va="top", fontsize=8)
    for ax in (head, mouth, lids):
        ax.grid(True, alpha=0.25)
        ax.set_xlim(0.0, max(float(t[-1]) if t.size else 0.0, 1.0 / motion.fps))
    fig.suptitle(title or f"Motion over time: {stats.frames} frames at {stats.fps:g} fps", fontsize=10)
    return fig


def save_motion_plot(motion: MotionSequence, path, title: str | None = None):
    """Write the figure as a PNG (for scripts and reports)."""
    fig = motion_figure(motion, title)
    fig.savefig(path, format="png")
    return path
