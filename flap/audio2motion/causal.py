"""The live (causal) motion generator: audio in pieces of any size, motion frames out as soon as a fixed lookahead
of audio past them has arrived.

The mouth is the offline generator's own (flap.audio2motion.mouth) run on a short sliding window of the latest
audio, so it anticipates onsets and closes in silence exactly as offline, within the lookahead.  The head, eyes and
blinks cannot look at the whole clip, so they are the same gestures as offline (flap.audio2motion.head's nods,
posture shifts, loudness sway, drift and breathing; gaze fixations, glances and the vestibulo-ocular reflex; blinks
that prefer pauses) driven by events as they are heard, with causal filters and noise that carry their state
across pushes.  Frame i shows the sound of [i / fps, (i + 1) / fps) and is emitted once audio up to
(i + 1) / fps + lookahead has arrived.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from flap.audio.analysis import AudioAnalysis, AudioAnalysisConfig, analyze_audio
from flap.audio.features import ANALYSIS_RATE
from flap.audio.loading import AudioClip
from flap.audio2motion.embedded import GENERATOR_VERSION, EmbeddedMotionConfig
from flap.audio2motion.gaze import eyes_6d
from flap.audio2motion.head import _lean_shape, _nod_shape
from flap.audio2motion.mouth import jaw_opening, lip_controls, speech_gate
from flap.audio2motion.signals import min_jerk, soft_limit
from flap.motion.blinks import BlinkConfig, blink_profile
from flap.motion.representation import CONTROL_INDEX, NUM_FLAME_EXPRESSION, MotionSequence
from flap.motion.rotations import euler_to_axis_angle

GENERATOR_NAME = "causal-generator"


@dataclass(frozen=True)
class CausalMotionConfig:
    """lookahead_s: audio heard past a frame before it is made (latency = lookahead + half a frame + compute).
    context_s: the window of recent audio the mouth analysis sees (loudness is relative to it)."""

    lookahead_s: float = 0.08
    context_s: float = 2.0
    motion: EmbeddedMotionConfig = field(default_factory=EmbeddedMotionConfig)
    analysis: AudioAnalysisConfig = field(default_factory=AudioAnalysisConfig)
    blinks: BlinkConfig = field(default_factory=BlinkConfig)

    def validated(self) -> "CausalMotionConfig":
        if not 0.0 <= self.lookahead_s <= 0.1:
            raise ValueError(f"lookahead_s must be within 0-0.1 s; got {self.lookahead_s}")
        if not 0.5 <= self.context_s <= 10.0:
            raise ValueError(f"context_s must be within 0.5-10 s; got {self.context_s}")
        self.motion.validated()
        return self


class CausalNoise:
    """Unit-variance Gaussian noise low-passed at about ``cutoff_hz`` by two one-pole stages, one sample per call:
    the causal counterpart of signals.coloured_noise."""

    def __init__(self, fps: float, cutoff_hz: float, rng: np.random.Generator):
        self.a = float(np.exp(-2.0 * np.pi * cutoff_hz / fps / 0.64))  # 0.64: the cascade's -3 dB point
        a = self.a
        self.gain = float(np.sqrt((1 - a * a) ** 3 / ((1 - a) ** 4 * (1 + a * a))))  # 1 / std of the cascade
        self.rng = rng
        self.y1 = self.y2 = 0.0
        for _ in range(int(4 / max(1 - a, 1e-3))):  # start in the stationary state, not at rest
            self.step()

    def step(self) -> float:
        a = self.a
        self.y1 = a * self.y1 + (1 - a) * float(self.rng.standard_normal())
        self.y2 = a * self.y2 + (1 - a) * self.y1
        return self.y2 * self.gain


class CriticalFilter:
    """Critically damped second-order low-pass (no overshoot), the causal stand-in for zero-phase smoothing."""

    def __init__(self, fps: float, time_constant_s: float):
        self.k = 1.0 - float(np.exp(-1.0 / max(time_constant_s * fps, 1e-6)))
        self.s1 = self.s2 = None

    def step(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self.s1 is None:
            self.s1, self.s2 = x.copy(), x.copy()
        self.s1 = self.s1 + self.k * (x - self.s1)
        self.s2 = self.s2 + self.k * (self.s1 - self.s2)
        return self.s2


class CausalMotionGenerator:
    """``push(samples, sample_rate)`` -> the MotionSequence of the frames that became ready (or None);
    ``flush()`` -> the last frames, as if silence followed.  Raw motion: apply controls with
    ``apply_controls(motion, controls, about_mean=False)``; the blink rate is set here (``blink_rate``)."""

    def __init__(self, fps: float = 25.0, seed: int = 0, config: CausalMotionConfig = CausalMotionConfig()):
        fps = float(fps)
        if not np.isfinite(fps) or not 10 <= fps <= 60:
            raise ValueError(f"fps must be between 10 and 60; got {fps}")
        self.fps, self.config = fps, config.validated()
        self.blink_rate = self.config.motion.blink_rate_per_min
        streams = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, GENERATOR_VERSION, 7]).spawn(4)
        self._rng_head, self._rng_gaze, self._rng_blink, self._rng_face = (np.random.default_rng(s) for s in streams)
        self._audio = np.zeros(0, np.float32)  # 16 kHz, from sample self._audio_start on
        self._audio_start = 0
        self._received = 0  # 16 kHz samples received so far
        self._resampler = None
        self._rate = None
        self._next = 0  # index of the next frame to emit
        self._head = _HeadState(self)
        self._gaze = _GazeState(self)
        self._blink = _BlinkState(self)
        self._stresses: list[float] = []  # absolute times of the accents already turned into gestures

    # ------------------------------------------------------------------ input
    def push(self, samples, sample_rate: int) -> MotionSequence | None:
        return self._advance(self._to_16k(samples, sample_rate, last=False), final=False)

    def flush(self) -> MotionSequence | None:
        tail = self._to_16k(np.zeros(0, np.float32), self._rate or ANALYSIS_RATE, last=True)
        return self._advance(tail, final=True)

    def warm_up(self) -> None:
        """Load what the first analysis would (the voice detector's model), so the first spoken frame is not late."""
        noise = np.random.default_rng(0).normal(0.0, 0.05, ANALYSIS_RATE // 2).astype(np.float32)
        analyze_audio(AudioClip(noise, ANALYSIS_RATE, "warm-up"), fps=self.fps, config=self.config.analysis)

    @property
    def heard_s(self) -> float:
        return self._received / ANALYSIS_RATE

    @property
    def frames_emitted(self) -> int:
        return self._next

    def _to_16k(self, samples, sample_rate: int, last: bool) -> np.ndarray:
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim == 2:  # channels last
            x = x.mean(axis=1)
        if x.ndim != 1:
            raise ValueError(f"samples must be mono (N,) or (N, channels); got shape {x.shape}")
        x = np.clip(np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)
        sample_rate = int(sample_rate)
        if not 8000 <= sample_rate <= 192000:
            raise ValueError(f"sample_rate must be between 8000 and 192000 Hz; got {sample_rate}")
        if self._rate is None:
            self._rate = sample_rate
        elif sample_rate != self._rate:
            raise ValueError(f"the sample rate changed from {self._rate} to {sample_rate} Hz within a session")
        if sample_rate == ANALYSIS_RATE:
            return x
        if self._resampler is None:
            import soxr

            self._resampler = soxr.ResampleStream(sample_rate, ANALYSIS_RATE, 1, dtype="float32", quality="LQ")
        return self._resampler.resample_chunk(x, last=last)

    # ------------------------------------------------------------------ frames
    def _advance(self, new: np.ndarray, final: bool) -> MotionSequence | None:
        self._audio = np.concatenate([self._audio, new.astype(np.float32, copy=False)])
        self._received += len(new)
        heard = self._received / ANALYSIS_RATE
        if final:
            ready = int(round(heard * self.fps)) if heard > 0 else 0
        else:
            ready = int(np.floor((heard - self.config.lookahead_s) * self.fps + 1e-9))
        if ready <= self._next:
            return None
        if final:  # the lookahead past the end is silence
            pad = int(np.ceil(self.config.lookahead_s * ANALYSIS_RATE)) + ANALYSIS_RATE // int(self.fps)
            self._audio = np.concatenate([self._audio, np.zeros(pad, np.float32)])
        frames = np.arange(self._next, ready)
        motion = self._frames(frames)
        self._next = ready
        self._trim()
        return motion

    def _trim(self) -> None:
        """Keep only the context window (memory stays flat however long the session runs)."""
        keep_from = self._sample_of(max(0, self._next - int(np.ceil(self.config.context_s * self.fps))))
        drop = keep_from - self._audio_start
        if drop > 0:
            self._audio = self._audio[drop:]
            self._audio_start = keep_from

    def _sample_of(self, frame: int) -> int:
        return int(round(frame * ANALYSIS_RATE / self.fps))

    def _window(self, frames: np.ndarray) -> tuple[AudioAnalysis, int]:
        """The offline analysis of the recent audio, starting on a frame boundary; returns it and its first frame."""
        context = int(np.ceil(self.config.context_s * self.fps))
        first = max(0, int(frames[-1]) + 1 - context)
        first = max(first, int(np.ceil(self._audio_start * self.fps / ANALYSIS_RATE - 1e-9)))
        start = self._sample_of(first) - self._audio_start
        clip = AudioClip(self._audio[start:], ANALYSIS_RATE, "live")
        return analyze_audio(clip, fps=self.fps, config=self.config.analysis), first

    def _frames(self, frames: np.ndarray) -> MotionSequence:
        cfg = self.config.motion
        analysis, first = self._window(frames)
        rows = np.clip(frames - first, 0, analysis.num_frames - 1)
        gate = speech_gate(analysis, cfg.lead_time_s)
        jaw_open = jaw_opening(analysis, gate, cfg.lead_time_s, cfg.jaw_max_rad, cfg.mouth_smoothing_s, cfg.jaw_curve)
        lips = lip_controls(analysis, gate, jaw_open / cfg.jaw_max_rad, cfg.lead_time_s, cfg.lip_gain, 0.0, self._rng_face)
        self._hear_events(analysis, first)

        n = len(frames)
        euler = np.zeros((n, 3), np.float32)
        translation = np.zeros((n, 3), np.float32)
        scale = np.ones(n, np.float32)
        gaze = np.zeros((n, 2), np.float32)
        lids = np.zeros(n, np.float32)
        brows = np.zeros(n, np.float32)
        for k, frame in enumerate(frames):
            t = frame / self.fps
            row = rows[k]
            speaking = bool(analysis.speech[row])
            loud = float(analysis.loudness[row]) if speaking else 0.0
            euler[k], translation[k], scale[k], brows[k] = self._head.step(t, speaking, loud)
            pause_started = self._head.pause_started
            gaze[k], lids[k] = self._gaze.step(t, euler[k], pause_started)
            blink = self._blink.step(t, pause_started)
            lids[k] = np.clip(blink + lids[k] * (1.0 - blink), 0.0, 1.0)
        controls = lips[rows].astype(np.float32)
        controls[:, CONTROL_INDEX["brow_raise"]] = np.clip(brows, 0.0, 1.0)
        jaw = np.zeros((n, 3), np.float32)
        jaw[:, 0] = jaw_open[rows]
        return MotionSequence(
            fps=self.fps,
            global_rotation=euler_to_axis_angle(euler[:, 0], euler[:, 1], euler[:, 2]),
            eyes=eyes_6d(gaze),
            jaw=jaw,
            eyelids=np.repeat(lids[:, None], 2, axis=1),
            expression=np.zeros((n, NUM_FLAME_EXPRESSION), np.float32),
            translation=translation,
            scale=scale,
            controls=controls,
            meta={"source": GENERATOR_NAME, "generator_version": GENERATOR_VERSION, "first_frame": int(frames[0]),
                  "lookahead_s": self.config.lookahead_s, "vad": analysis.vad_method},
        )

    def _hear_events(self, analysis: AudioAnalysis, first: int) -> None:
        """New accents (absolute times) become nods, leans and brow raises once they are far enough from the end of
        the window that the prosody will not move them."""
        offset = first / self.fps
        settled = offset + analysis.duration - 0.06
        for when, strength in zip(np.asarray(analysis.stress_times_s, float) + offset, analysis.stress_strength):
            if when > settled or when < self._next / self.fps - 0.5:
                continue
            if any(abs(when - seen) < 0.3 for seen in self._stresses[-8:]):
                continue
            self._stresses.append(when)
            del self._stresses[:-16]
            self._head.accent(when, float(strength), self._next / self.fps)


class _HeadState:
    """head.py's gestures, one frame at a time."""

    def __init__(self, owner: CausalMotionGenerator):
        fps, cfg = owner.fps, owner.config.motion.head
        self.fps, self.cfg, self.owner = fps, cfg, owner
        rngs = [np.random.default_rng(s) for s in owner._rng_head.integers(0, 2 ** 63, size=5)]
        self.rng_events = rngs[0]
        self.rng_posture = rngs[1]
        self.sway = [CausalNoise(fps, c, rngs[2]) for c in (0.9, 1.1, 0.8)]
        self.drift = [CausalNoise(fps, c, rngs[3]) for c in (0.15, 0.15, 0.12)]
        self.phase = rngs[4].uniform(0, 2 * np.pi)
        self.activity = 0.0
        self.activity_k = 1.0 - np.exp(-1.0 / (0.35 * fps))
        # As smooth as the offline zero-phase Gaussian (sigma = 0.133 / lowpass_hz): a causal filter needs a longer
        # time constant for the same jerk (measured: 1.6 sigma gives the offline jerk within 1.4x).
        sigma = 0.133 / max(cfg.lowpass_hz, 0.1)
        self.lowpass = CriticalFilter(fps, 1.6 * sigma)
        self.lean_filter = CriticalFilter(fps, 1.6 * sigma)
        self.pulses: list[tuple[float, np.ndarray, float, float]] = []  # (apex, [yaw, pitch, roll] amps, lean, brow)
        self.posture_from = np.zeros(3)
        self.posture_to = np.zeros(3)
        self.posture_start = -1e9
        self.last_sign = float(self.rng_posture.choice([-1.0, 1.0]))
        self.was_speaking = False
        self.speech_end = -1e9
        self.calm_done = True
        self.pause_started = False

    def accent(self, when: float, strength: float, now: float) -> None:
        """A nod (chin dip with a small side component), a lean and, on the strongest, a brow raise."""
        cfg, rng = self.cfg, self.rng_events
        amp = cfg.nod_deg * strength * rng.uniform(0.7, 1.15)
        side = rng.choice([-1.0, 1.0]) * rng.uniform(0.1, 0.35)
        apex = max(when + cfg.nod_delay_s, now + 0.3)  # a nod that is heard late starts late, not half-way
        gain = self.owner.config.motion.brow_gain
        brow = gain * strength if strength >= 0.65 and rng.random() < 0.55 else 0.0
        self.pulses.append((apex, np.array([amp * side, -amp, amp * side * 0.6]), strength, brow))

    def _posture(self, t: float, calm: bool) -> None:
        cfg, rng = self.cfg, self.rng_posture
        current = self._posture_at(t)
        sign = -self.last_sign if rng.random() < 0.7 else self.last_sign
        self.last_sign = sign
        target = np.array([sign * abs(rng.normal(0.0, cfg.phrase_turn_deg)), rng.normal(0.3, cfg.phrase_pitch_deg),
                           rng.normal(0.0, cfg.phrase_tilt_deg)]) * (cfg.pause_calm if calm else 1.0)
        self.posture_from, self.posture_to, self.posture_start = current, target, t

    def _posture_at(self, t: float) -> np.ndarray:
        x = float(min_jerk(np.array((t - self.posture_start) / self.cfg.posture_move_s)))
        return self.posture_from + (self.posture_to - self.posture_from) * x

    def step(self, t: float, speaking: bool, loudness: float):
        cfg = self.cfg
        # Phrase structure as it is heard: a new posture at each onset after a break, a calm one in a long pause.
        self.pause_started = False
        if speaking and not self.was_speaking and t - self.speech_end >= 0.12:
            self._posture(t - 0.05, calm=False)
            self.calm_done = False
        if not speaking and self.was_speaking:
            self.speech_end = t
            self.pause_started = True
        if not speaking and not self.calm_done and t - self.speech_end >= 0.4:
            self._posture(t, calm=True)
            self.calm_done = True
        self.was_speaking = speaking

        self.activity += self.activity_k * (min(1.0, loudness * 1.6) - self.activity)
        raw = self._posture_at(t).astype(np.float64)
        lean = brow = 0.0
        keep = []
        for apex, amps, strength, brow_amp in self.pulses:
            tau = t - apex
            if tau > 2.0:
                continue
            keep.append((apex, amps, strength, brow_amp))
            raw = raw + amps * float(_nod_shape(np.array(tau)))
            lean += strength * float(_lean_shape(np.array(tau)))
            brow += brow_amp * _brow_shape(tau)
        self.pulses = keep
        a = self.activity
        raw += cfg.sway_deg * a * np.array([self.sway[0].step(), 0.7 * self.sway[1].step(), 0.5 * self.sway[2].step()])
        raw += cfg.drift_deg * np.array([self.drift[0].step(), 0.8 * self.drift[1].step(), 0.5 * self.drift[2].step()])
        breathing = float(np.sin(2 * np.pi * cfg.breathing_hz * t + self.phase))
        raw[1] += cfg.breathing_deg * breathing
        smooth = self.lowpass.step(raw)
        gain = self.owner.config.motion.head_motion
        euler = np.array([soft_limit(smooth[0], cfg.yaw_limit_deg), soft_limit(smooth[1], cfg.pitch_limit_deg),
                          soft_limit(smooth[2], cfg.roll_limit_deg)], np.float64) * gain
        lean = float(np.clip(self.lean_filter.step(np.array([lean]))[0], 0, 1.5))
        mm = cfg.translation_mm / 1000.0
        translation = np.array([0.25 * mm * euler[0] / max(cfg.yaw_limit_deg, 1e-3),
                                0.3 * mm * euler[1] / max(cfg.pitch_limit_deg, 1e-3) + 0.15 * mm * breathing,
                                0.6 * mm * lean]) * gain
        scale = 1.0 + cfg.scale_amount * (0.5 * lean + 0.2 * breathing) * gain
        return euler, translation, scale, brow


def _brow_shape(tau: float) -> float:
    """Up in ~120 ms, down over ~450 ms (as mouth.brow_raises)."""
    rise = min(max((tau + 0.12) / 0.12, 0.0), 1.0)
    fall = min(max(1.0 - (tau - 0.15) / 0.45, 0.0), 1.0)
    x = min(rise, fall)
    return x * x * (3 - 2 * x)


class _GazeState:
    """gaze.py's fixations, glances and saccades, one frame at a time; pauses and phrase starts invite glances."""

    def __init__(self, owner: CausalMotionGenerator):
        self.fps, self.cfg = owner.fps, owner.config.motion.gaze
        self.rng = owner._rng_gaze
        self.prev = np.zeros(2)
        self.target = np.zeros(2)
        self.changed = 0.0
        self.next_change = self.rng.uniform(*self.cfg.fixation_s)
        self.away = False
        self.last_cue = -1e9
        self.drift = [CausalNoise(self.fps, 2.0, self.rng), CausalNoise(self.fps, 2.0, self.rng)]
        self.lid = 0.0
        self.lid_k = 1.0 - np.exp(-1.0 / (0.04 * self.fps))

    def step(self, t: float, head_euler: np.ndarray, cue: bool) -> tuple[np.ndarray, float]:
        cfg, rng = self.cfg, self.rng
        if cue:
            self.last_cue = t
        if t >= self.next_change:
            x = np.clip((t - self.changed) / max(cfg.saccade_s, 1e-3), 0, 1)
            self.prev = self.prev + (self.target - self.prev) * x * x * (3 - 2 * x)
            self.changed = t
            if self.away:
                self.target = rng.normal(0.0, cfg.camera_jitter_deg, size=2)
                self.away = False
                self.next_change = t + rng.uniform(*cfg.fixation_s)
            else:
                p = cfg.glance_probability * (1.8 if t - self.last_cue < 0.6 else 1.0)
                if rng.random() < p:
                    angle = rng.uniform(0, 2 * np.pi)
                    self.target = np.array([cfg.glance_yaw_deg * np.cos(angle),
                                            cfg.glance_pitch_deg * np.sin(angle) - 0.8]) * rng.uniform(0.5, 1.0)
                    self.away = True
                    self.next_change = t + rng.uniform(*cfg.glance_s)
                else:
                    self.target = rng.normal(0.0, cfg.camera_jitter_deg, size=2)
                    self.next_change = t + rng.uniform(*cfg.fixation_s)
        x = np.clip((t - self.changed) / max(cfg.saccade_s, 1e-3), 0, 1)
        world = self.prev + (self.target - self.prev) * x * x * (3 - 2 * x)
        world = world + 0.12 * np.array([self.drift[0].step(), self.drift[1].step()])
        eyes = world - cfg.vor_gain * head_euler[:2]
        eyes = np.array([np.clip(eyes[0], -cfg.yaw_limit_deg, cfg.yaw_limit_deg),
                         np.clip(eyes[1], -cfg.pitch_limit_deg, cfg.pitch_limit_deg)])
        self.lid += self.lid_k * (-eyes[1] - self.lid)
        return eyes, float(np.clip(self.lid / 30.0, 0.0, 0.2))


class _BlinkState:
    """Blinks scheduled one at a time at the current rate (intervals vary threefold around 60 / rate, as the
    offline slots do); a blink due soon moves onto a pause that starts."""

    def __init__(self, owner: CausalMotionGenerator):
        self.owner, self.fps, self.cfg = owner, owner.fps, owner.config.blinks
        self.rng = owner._rng_blink
        self.rate = None
        self.peak = self.duration = None
        self.previous: tuple[float, float] | None = None

    def _schedule(self, after: float, first: bool = False) -> None:
        rate = self.owner.blink_rate
        self.rate = rate
        if rate is None or rate <= 0:
            self.peak = None
            return
        slot = 60.0 / rate
        gap = slot * (self.rng.uniform(0.15, 1.0) if first else self.rng.uniform(0.3, 1.7))
        self.peak = np.round((after + gap) * self.fps) / self.fps
        self.duration = min(self.rng.uniform(self.cfg.min_duration_s, self.cfg.max_duration_s), 0.8 * slot)

    def step(self, t: float, pause_started: bool) -> float:
        if self.owner.blink_rate != self.rate:  # the rate control changed: a new schedule at the new rate
            self._schedule(t, first=True)
        if self.peak is not None and pause_started and 0 < self.peak - t < self.cfg.snap_to_pause_s:
            self.peak = np.round((t + 0.1) * self.fps) / self.fps
        value = 0.0
        if self.previous is not None:
            value = float(blink_profile(np.array([t]), *self.previous, self.cfg)[0])
        if self.peak is not None:
            value = max(value, float(blink_profile(np.array([t]), self.peak, self.duration, self.cfg)[0]))
            if t >= self.peak:
                self.previous = (self.peak, self.duration)
                self._schedule(self.peak)
        return value


__all__ = ["CausalMotionConfig", "CausalMotionGenerator", "CausalNoise", "CriticalFilter"]
