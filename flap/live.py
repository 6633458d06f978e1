"""A portrait that talks as you speak: audio in pieces of any size (a microphone, a TTS engine, a voice agent),
frames out as soon as the causal generator's lookahead has been heard.

    session = LiveSession("me.jpg", controls=MotionControls(emotion="happy"), fps=25)
    for image, time_s in session.push(samples, 16000):   # float32 mono, 10-100 ms at a time
        show(image)                                       # RGB uint8, the speech at time_s
    session.close()                                       # the last frames

Controls can be changed while it runs (``session.controls = ...``); they apply from the next frame.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from flap.audio2motion.causal import CausalMotionConfig, CausalMotionGenerator
from flap.errors import InputError
from flap.motion.controls import MotionControls, apply_controls
from flap.motion.representation import MotionSequence


class LiveFrame(NamedTuple):
    """One rendered frame and the start of the speech interval it shows, [time_s, time_s + 1 / fps)."""

    image: np.ndarray
    time_s: float


class LiveSession:
    """Prepare the portrait once; then ``push`` audio and get frames, ``close`` to flush."""

    def __init__(self, portrait, controls: MotionControls | None = None, fps: float = 25, size: int = 512,
                 seed: int = 0, config: CausalMotionConfig = CausalMotionConfig(), prepared=None):
        """``prepared``: the embedded engine's prepared state of this portrait (its ``prepare``), when the caller
        keeps one (an app serving many sessions of the same photo); made here otherwise."""
        from flap.engines.registry import get_engine
        from flap.face.portrait import PortraitAnalysis, analyze_portrait

        self.portrait = portrait if isinstance(portrait, PortraitAnalysis) else analyze_portrait(portrait, size=size)
        self.renderer = get_engine("embedded")
        self.state = prepared if prepared is not None else self.renderer.prepare(self.portrait)
        self.fps = float(fps)
        self.seed = int(seed)
        self.generator = CausalMotionGenerator(self.fps, seed=seed, config=config)
        self.generator.warm_up()
        self._default_blink_rate = config.motion.blink_rate_per_min
        self._closed = False
        self.controls = controls or MotionControls()

    @property
    def controls(self) -> MotionControls:
        return self._controls

    @controls.setter
    def controls(self, controls: MotionControls) -> None:
        """Validated at once (a bad value raises here, not in the middle of the stream)."""
        controls = MotionControls(**controls.as_dict()).validated()
        self._controls = controls
        rate = controls.blink_rate
        self.generator.blink_rate = self._default_blink_rate if rate is None else float(rate)
        # Blinks come from the live generator at that rate; the clip-level regeneration does not apply here.
        self._frame_controls = MotionControls(**{**controls.as_dict(), "blink_rate": None})

    def push(self, samples, sample_rate: int, latest_only: bool = False) -> list[LiveFrame]:
        """Feed the next piece of audio (float32 mono, any length); returns the frames it completed, oldest first
        (``latest_only``: only the newest of them is rendered, for a display that shows one frame per piece)."""
        if self._closed:
            raise InputError("this live session is closed; start a new LiveSession")
        return self._render(self.generator.push(samples, sample_rate), latest_only)

    def close(self) -> list[LiveFrame]:
        """Flush the frames still waiting for their lookahead, as if silence followed; the session then ends."""
        if self._closed:
            return []
        self._closed = True
        return self._render(self.generator.flush())

    def preview(self, controls: MotionControls | None = None) -> np.ndarray:
        """One still frame of the portrait with ``controls`` (default: the session's), no audio needed."""
        controls = MotionControls(**(controls or self.controls).as_dict()).validated()
        still = apply_controls(MotionSequence.neutral(1, self.fps), controls, seed=self.seed, about_mean=False)
        return next(iter(self.renderer.render_frames(self.state, still)))

    def __enter__(self) -> "LiveSession":
        return self

    def __exit__(self, *exc) -> None:
        self._closed = True

    def _render(self, motion: MotionSequence | None, latest_only: bool = False) -> list[LiveFrame]:
        if motion is None:
            return []
        first = int(motion.meta.get("first_frame", 0))
        motion = apply_controls(motion, self._frame_controls, seed=self.seed, about_mean=False)
        if latest_only and motion.num_frames > 1:
            first += motion.num_frames - 1
            motion = motion.take([motion.num_frames - 1])
        frames = self.renderer.render_frames(self.state, motion)
        return [LiveFrame(image, (first + k) / self.fps) for k, image in enumerate(frames)]


__all__ = ["LiveSession", "LiveFrame"]
