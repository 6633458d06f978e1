"""One call from a decoded clip to everything the motion generator needs, per video frame.

Stages (each its own module): spectral features -> pitch -> voice activity -> prosody -> lip drivers
[-> transcript alignment -> visemes] -> pooling from the 10 ms analysis hop onto video frames.  Video frame i
shows the sound of [i / fps, (i + 1) / fps); that is the window each value summarises.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from flap.audio.features import ANALYSIS_RATE, FrameFeatures, spectral_features
from flap.audio.lips import LipConfig, lip_drivers
from flap.audio.loading import AudioClip, resample
from flap.audio.pitch import track_pitch
from flap.audio.prosody import ProsodyConfig, analyze_prosody
from flap.audio.vad import energy_vad, silero_available, silero_vad


@dataclass(frozen=True)
class AudioAnalysisConfig:
    """vad: "auto" uses Silero when it loads (torch + the packaged model), else the energy detector."""

    vad: Literal["auto", "silero", "energy"] = "auto"
    silero_threshold: float = 0.5
    pitch_min_hz: float = 60.0
    pitch_max_hz: float = 500.0
    prosody: ProsodyConfig = field(default_factory=ProsodyConfig)
    lips: LipConfig = field(default_factory=LipConfig)
    transcript_weight: float = 0.5  # share of the aligned phonemes in the mouth opening (rest: the sound)
    min_speech_s: float = 0.15  # less voice activity than this counts as no speech


@dataclass
class AudioAnalysis:
    """Per-video-frame description of a speech clip; frame i summarises the sound of [i / fps, (i + 1) / fps).

    loudness: 100-4000 Hz level mapped to [0, 1] between (speaker's 95th percentile - 36 dB, or the noise floor)
        and that percentile: independent of recording level and robust to rumble and hiss.
    speech: voice activity (Silero, or the energy + periodicity detector).
    pitch_hz: YIN f0, 0 where unvoiced.
    openness: target mouth opening in [0, 1], aligned with the sound (the generator adds anticipation).
    spread: -1 rounded (u, o, w, sh) .. +1 spread (i, e), from spectral balance and F2 against the speaker.
    closure / labiodental: lips pressed (p, b, m) / lower lip under the teeth (f, v), in [0, 1].
    stress_times_s, stress_strength: accented syllables (louder, longer, higher or moving pitch than the
        speaker's typical syllable), strength in [0, 1]; about one per second of speech.
    pause_starts_s (and pause_ends_s): silences of at least 0.25 s after speech began.
    phrase_boundaries_s: ends of phrases: breaks of 0.12 s or more, and breath-group splits in long runs.
    phonemes: (start_s, end_s, ARPAbet phone) when a transcript was aligned (SIL segments included).
    warnings: plain-language notes for the user.
    """

    fps: float
    num_frames: int
    duration: float
    loudness: np.ndarray
    speech: np.ndarray
    pitch_hz: np.ndarray
    openness: np.ndarray
    spread: np.ndarray
    closure: np.ndarray
    labiodental: np.ndarray
    stress_times_s: np.ndarray
    stress_strength: np.ndarray
    pause_starts_s: np.ndarray
    phrase_boundaries_s: np.ndarray
    phonemes: list[tuple[float, float, str]] | None
    warnings: list[str]
    pause_ends_s: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    syllable_times_s: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    vad_method: str = "energy"
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage, for benchmarks

    @property
    def times(self) -> np.ndarray:
        """Start time of each video frame, seconds."""
        return np.arange(self.num_frames) / self.fps

    @property
    def speech_seconds(self) -> float:
        return float(self.speech.sum() / self.fps)

    @classmethod
    def silent(cls, duration: float, fps: float = 25.0) -> "AudioAnalysis":
        """An analysis of silence: what a listening, idle head is generated from."""
        t = max(1, int(round(duration * fps)))
        z = np.zeros(t, np.float32)
        e = np.zeros(0, np.float32)
        return cls(fps, t, float(duration), z, np.zeros(t, bool), z.copy(), z.copy(), z.copy(), z.copy(), z.copy(),
                   e, e.copy(), e.copy(), e.copy(), None, [])


def analyze_audio(clip: AudioClip, fps: float = 25.0, transcript: str | None = None,
                  config: AudioAnalysisConfig = AudioAnalysisConfig()) -> AudioAnalysis:
    """Analyse ``clip`` for a video at ``fps``; never raises for silence, noise or a bad transcript (it warns)."""
    timings: dict[str, float] = {}
    warnings: list[str] = []
    fps = float(fps)
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be positive; got {fps}")

    tick = time.perf_counter()
    clip16 = clip if clip.sample_rate == ANALYSIS_RATE else resample(clip, ANALYSIS_RATE)
    samples = clip16.samples
    duration = len(samples) / float(ANALYSIS_RATE)
    num_frames = max(1, int(round(duration * fps)))
    timings["resample"] = time.perf_counter() - tick

    tick = time.perf_counter()
    feats = spectral_features(samples)
    timings["features"] = time.perf_counter() - tick
    tick = time.perf_counter()
    pitch = track_pitch(samples, ANALYSIS_RATE, config.pitch_min_hz, config.pitch_max_hz, num_frames=feats.num_frames)
    timings["pitch"] = time.perf_counter() - tick

    tick = time.perf_counter()
    vad = None
    if config.vad in ("auto", "silero"):
        if config.vad == "silero" or silero_available():
            try:
                vad = silero_vad(samples, feats.num_frames, feats.hop_s, feats, config.silero_threshold)
            except Exception as exc:  # torch or the model missing/broken
                if config.vad == "silero":
                    warnings.append(f"Silero voice detection failed ({type(exc).__name__}); used the energy detector")
    if vad is None:
        vad = energy_vad(feats, pitch.voiced)
    timings["vad"] = time.perf_counter() - tick
    speech = vad.speech

    tick = time.perf_counter()
    if speech.sum() * feats.hop_s < config.min_speech_s:
        speech = np.zeros_like(speech)
        if np.max(np.abs(samples), initial=0.0) < 1e-4:
            warnings.append("the recording is silent: the video shows an idle, listening head with a closed mouth")
        else:
            warnings.append("no speech detected: the video shows an idle, listening head with a closed mouth")
    prosody = analyze_prosody(feats, speech, pitch.f0_hz, pitch.voiced, vad.noise_floor_db, config.prosody)
    timings["prosody"] = time.perf_counter() - tick
    tick = time.perf_counter()
    lips = lip_drivers(feats, prosody.loudness, speech, pitch.voiced, pitch.f0_hz, config.lips)
    timings["lips"] = time.perf_counter() - tick

    phonemes = None
    openness, spread, closure, labiodental = lips.openness, lips.spread, lips.closure, lips.labiodental
    if transcript is not None and transcript.strip() and not speech.any():
        warnings.append("the transcript was not used: there is no speech to align it with")
    if transcript is not None and transcript.strip() and speech.any():
        tick = time.perf_counter()
        from flap.audio.alignment import AlignmentError, align_transcript
        from flap.audio.visemes import viseme_drivers

        try:
            phonemes = align_transcript(samples, transcript, speech, feats.hop_s)
        except AlignmentError as exc:
            warnings.append(f"the transcript could not be used ({exc}); lip shapes come from the sound alone")
        timings["alignment"] = time.perf_counter() - tick
        if phonemes:
            tick = time.perf_counter()
            vis = viseme_drivers(phonemes, feats.num_frames, feats.hop_s, prosody.loudness)
            w = float(np.clip(config.transcript_weight, 0.0, 1.0))
            gate = speech.astype(np.float32)
            openness = ((1 - w) * openness + w * vis.openness * gate) * (1.0 - 0.8 * vis.closure)
            spread = 0.25 * spread + 0.75 * vis.spread
            closure = np.maximum(vis.closure, 0.3 * closure)
            labiodental = np.maximum(vis.labiodental, 0.3 * labiodental)
            timings["visemes"] = time.perf_counter() - tick

    tick = time.perf_counter()
    pool = _Pooler(feats, fps, num_frames)
    f0_voiced = np.where(pitch.voiced, pitch.f0_hz, np.nan)
    analysis = AudioAnalysis(
        fps=fps,
        num_frames=num_frames,
        duration=duration,
        loudness=pool.mean(prosody.loudness),
        speech=pool.mean(speech.astype(np.float32)) >= 0.5,
        pitch_hz=np.nan_to_num(pool.nanmean(f0_voiced)).astype(np.float32),
        openness=pool.mean(openness),
        spread=np.clip(pool.mean(spread), -1, 1),
        closure=pool.coverage(closure),
        labiodental=pool.coverage(labiodental),
        stress_times_s=prosody.stress_times_s,
        stress_strength=prosody.stress_strength,
        pause_starts_s=prosody.pause_starts_s,
        phrase_boundaries_s=prosody.phrase_boundaries_s,
        phonemes=phonemes,
        warnings=warnings,
        pause_ends_s=prosody.pause_ends_s,
        syllable_times_s=prosody.syllable_times_s,
        vad_method=vad.method,
        timings=timings,
    )
    # A frame that is mostly silence keeps a closed mouth even if its edge caught a little voice.
    analysis.openness = np.where(analysis.speech, analysis.openness, 0.0).astype(np.float32)
    analysis.spread = np.where(analysis.speech, analysis.spread, 0.0).astype(np.float32)
    timings["pooling"] = time.perf_counter() - tick
    return analysis


class _Pooler:
    """Summaries of 10 ms analysis frames over each video frame's window [i/fps, (i+1)/fps)."""

    def __init__(self, feats: FrameFeatures, fps: float, num_frames: int) -> None:
        self.index = np.minimum((feats.times * fps).astype(int), num_frames - 1)
        self.num_frames = num_frames
        self.counts = np.bincount(self.index, minlength=num_frames).astype(np.float32)
        self.nearest = np.clip(np.round((np.arange(num_frames) + 0.5) / fps / feats.hop_s).astype(int), 0, feats.num_frames - 1)

    def mean(self, x: np.ndarray) -> np.ndarray:
        sums = np.bincount(self.index, weights=x, minlength=self.num_frames)
        # Video frames shorter than the hop (fps > 100) take the nearest analysis frame.
        return np.where(self.counts > 0, sums / np.maximum(self.counts, 1), x[self.nearest]).astype(np.float32)

    def nanmean(self, x: np.ndarray) -> np.ndarray:
        valid = ~np.isnan(x)
        sums = np.bincount(self.index, weights=np.where(valid, x, 0.0), minlength=self.num_frames)
        counts = np.bincount(self.index, weights=valid.astype(float), minlength=self.num_frames)
        return np.where(counts > 0, sums / np.maximum(counts, 1), 0.0).astype(np.float32)

    def coverage(self, x: np.ndarray) -> np.ndarray:
        """For brief events (closures, tucks): full value once they fill two thirds of a frame, so a 60 ms
        closure still shows at 25 fps while a sliver at a frame's edge does not shut a whole frame."""
        return np.clip(1.5 * self.mean(x), 0.0, 1.0).astype(np.float32)
