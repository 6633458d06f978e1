"""The jobs FLAP does, callable from Python, the CLI and the app alike.

- ``make_motion``: speech (and optionally an imported motion) -> controlled motion, no portrait needed;
- ``generate``: portrait + speech -> video and motion;
- ``render``: portrait + a given motion (+ speech) -> video;
- ``generate_frames`` / ``render_frames``: the same jobs as a ``FrameStream`` of frames rendered as they are read
  (what ``generate``/``render`` write with ``write_video``, and flap.streaming cuts into segments).
"""

from __future__ import annotations

import functools
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from flap.engines.base import Engine
from flap.engines import registry
from flap.errors import InputError
from flap.face.portrait import PasteBack, PortraitAnalysis, analyze_portrait
from flap.io.frames import FrameStream, write_video
from flap.job import JobConfig
from flap.motion.channels import parse_channels
from flap.motion.controls import MotionControls, apply_controls
from flap.motion.representation import MotionSequence
from flap.progress import ProgressReporter, silent, stage_callback

@dataclass
class JobStream(FrameStream):
    """A job's frames (rendered as they are read) with its motion, notes, timings and portrait analysis."""

    motion: MotionSequence | None = None
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    portrait: PortraitAnalysis | None = None


@dataclass
class JobResult:
    video: Path | None
    motion: MotionSequence
    motion_path: Path | None
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    portrait: PortraitAnalysis | None = None


class _Timer:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start


# ---------------------------------------------------------------------------------------------- motion
def make_motion(audio, transcript: str | None = None, controls: MotionControls | None = None, config: JobConfig | None = None,
                imported: MotionSequence | None = None, take: Iterable[str] = (), progress: ProgressReporter = silent,
                timer: _Timer | None = None) -> tuple[MotionSequence, list[str]]:
    """Speech -> motion with the controls applied.  ``imported`` channels named in ``take`` replace the
    audio-driven ones (see flap.interop.mixing)."""
    from flap.audio.analysis import analyze_audio
    from flap.audio.loading import load_audio
    from flap.audio2motion.embedded import generate_motion

    config = (config or JobConfig()).validated()
    controls = (controls or MotionControls()).validated()
    timer = timer or _Timer()
    warnings: list[str] = []
    progress("analysing audio", 0, 2)
    with timer.stage("audio"):
        clip = load_audio(audio, max_seconds=config.max_audio_seconds)
        analysis = analyze_audio(clip, fps=config.fps, transcript=transcript)
    warnings += analysis.warnings
    progress("analysing audio", 2, 2)
    with timer.stage("motion"):
        network = _audio_to_flame()
        if network is not None:  # trained Audio-to-FLAME weights are present: they replace the rule-based generator
            motion = network.generate(clip.samples, clip.sample_rate, fps=config.fps, emotion=controls.emotion,
                                      intensity=controls.emotion_strength if controls.emotion != "neutral" else 0.0)
            warnings.append("motion from the trained Audio-to-FLAME network")
        else:
            motion = generate_motion(analysis, seed=config.seed)
        if imported is not None:
            take = parse_channels(take)
            if take:
                from flap.interop.mixing import mix_channels

                fitted = imported.resample(config.fps).fit_to_length(motion.num_frames, config.fit)
                motion = mix_channels(motion, fitted, take)
        motion = apply_controls(motion, controls, seed=config.seed, pause_starts_s=analysis.pause_starts_s)
    motion.meta.setdefault("audio", str(getattr(clip, "source", "")))
    return motion, warnings


def _audio_to_flame():
    """The trained Audio-to-FLAME network when its weights are configured (FLAP_AUDIO2FLAME, or an audio_to_flame/
    folder in FLAP_MODEL's weights), loaded once; otherwise None and the embedded generator is used."""
    from flap.settings import settings

    if not (settings().audio2flame or settings().model):
        return None
    return _load_audio_to_flame()


@functools.lru_cache(maxsize=1)
def _load_audio_to_flame():
    from flap.audio2motion.network import load_audio2flame

    return load_audio2flame()


# ---------------------------------------------------------------------------------------------- jobs
def generate(portrait, audio, out=None, transcript: str | None = None, controls: MotionControls | None = None,
             config: JobConfig | None = None, save_motion=None, imported: MotionSequence | None = None,
             take: Iterable[str] = (), progress: ProgressReporter = silent) -> JobResult:
    """Portrait + speech -> talking video (and its motion)."""
    stream = generate_frames(portrait, audio, transcript, controls, config, imported, take, progress)
    return write_job(stream, out, save_motion)


def generate_frames(portrait, audio, transcript: str | None = None, controls: MotionControls | None = None,
                    config: JobConfig | None = None, imported: MotionSequence | None = None, take: Iterable[str] = (),
                    progress: ProgressReporter = silent) -> JobStream:
    """Portrait + speech -> the talking video's frames, rendered as they are read (analysis and motion done here)."""
    config = (config or JobConfig()).validated()
    controls = (controls or MotionControls()).validated()
    engine = registry.get_engine(config.engine)  # fail fast, before any analysis, when the engine cannot run here
    timer = _Timer()
    progress("analysing portrait", 0, 1)
    with timer.stage("portrait"):
        analysis, state = _analyse(engine, portrait, config)
    progress("analysing portrait", 1, 1)
    motion, warnings = make_motion(audio, transcript, controls, config, imported, take, progress, timer)
    return _stream(engine, analysis, motion, audio, config, analysis.warnings + warnings, progress, timer, state)


def render(portrait, motion, audio=None, out=None, controls: MotionControls | None = None, config: JobConfig | None = None,
           save_motion=None, progress: ProgressReporter = silent) -> JobResult:
    """Portrait + a given motion (object or file) [+ speech for the sound track] -> video."""
    return write_job(render_frames(portrait, motion, audio, controls, config, progress), out, save_motion)


def render_frames(portrait, motion, audio=None, controls: MotionControls | None = None, config: JobConfig | None = None,
                  progress: ProgressReporter = silent) -> JobStream:
    """Portrait + a given motion (object or file) [+ speech] -> the video's frames, rendered as they are read."""
    config = (config or JobConfig()).validated()
    engine = registry.get_engine(config.engine)  # fail fast when the engine cannot run here
    timer = _Timer()
    warnings: list[str] = []
    if not isinstance(motion, MotionSequence):
        motion, report = load_motion_file(motion, config.fps)
        warnings += report
    progress("analysing portrait", 0, 1)
    with timer.stage("portrait"):
        analysis, state = _analyse(engine, portrait, config)
    progress("analysing portrait", 1, 1)
    motion = motion.resample(config.fps)
    if audio is not None:
        from flap.audio.loading import load_audio

        with timer.stage("audio"):
            clip = load_audio(audio, max_seconds=config.max_audio_seconds)
        frames = max(1, int(round(clip.duration * config.fps)))
        if frames != motion.num_frames:
            warnings.append(f"the motion has {motion.num_frames} frames and the audio needs {frames}; fitted by '{config.fit}'")
            motion = motion.fit_to_length(frames, config.fit)
    if controls is not None:
        motion = apply_controls(motion, controls.validated(), seed=config.seed)
    return _stream(engine, analysis, motion, audio, config, analysis.warnings + warnings, progress, timer, state)


def load_motion_file(path, fps: float) -> tuple[MotionSequence, list[str]]:
    """A FLAP motion .npz, or any FLAME/ARKit layout the importer knows."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"motion file not found: {path}")
    try:
        from flap.interop.importers import import_motion
    except ImportError:  # importer not available: FLAP's own format only
        return MotionSequence.load(path), []
    motion, report = import_motion(path, target_fps=fps)
    return motion, [report.summary()]


def _default_out(out, suffix: str = ".mp4") -> Path:
    if out is None:
        out = Path("outputs")
    out = Path(out)
    if out.suffix == "":
        out.mkdir(parents=True, exist_ok=True)
        out = out / f"flap_{time.strftime('%Y%m%d-%H%M%S')}{suffix}"
    return out


def _motion_path(save_motion, video: Path) -> Path | None:
    if save_motion in (None, False):
        return None
    if save_motion is True:
        return video.with_name(video.stem + ".motion.npz")
    return Path(save_motion)


def prepared_portrait(path, size: int = 512, paste_back: bool = False) -> tuple[PortraitAnalysis, object]:
    """(analysis, the embedded engine's prepared state) of a photo file, kept for the last few file versions: the
    page's preview, its Live tab and repeated jobs on one photo analyse and prepare it once."""
    path = Path(path)
    return _prepared_file(str(path.resolve()), path.stat().st_mtime_ns, int(size), bool(paste_back))


@functools.lru_cache(maxsize=4)
def _prepared_file(path: str, mtime_ns: int, size: int, paste_back: bool):
    analysis = analyze_portrait(path, size=size, paste_back=paste_back)
    return analysis, registry.get_engine("embedded").prepare(analysis)


def _analyse(engine: Engine, portrait, config: JobConfig) -> tuple[PortraitAnalysis, object | None]:
    """The portrait's analysis, and the engine's state when it is the embedded engine's cached one (else None)."""
    if engine.name == "embedded" and isinstance(portrait, (str, Path)) and Path(portrait).is_file():
        return prepared_portrait(portrait, config.size, config.paste_back)
    return analyze_portrait(portrait, size=config.size, paste_back=config.paste_back), None


def _stream(engine: Engine, analysis: PortraitAnalysis, motion: MotionSequence, audio, config: JobConfig,
            warnings: list[str], progress: ProgressReporter, timer: _Timer, state=None) -> JobStream:
    with timer.stage("prepare"):
        state = engine.prepare(analysis) if state is None else state
    warnings = warnings + engine.notes(motion)
    if config.paste_back:
        image = analysis.image[: analysis.image.shape[0] // 2 * 2, : analysis.image.shape[1] // 2 * 2]
        size = (image.shape[1], image.shape[0])
        paste = PasteBack(image, analysis.crop_box)
    else:
        paste = None
        size = (analysis.size, analysis.size)

    def frames():
        with timer.stage("render+encode"):  # the time the frames take to be rendered and consumed
            for frame in engine.render_frames(state, motion, config, progress=stage_callback(progress, "rendering video")):
                yield frame if paste is None else paste(frame)

    return JobStream(frames(), config.fps, size, motion.num_frames, None if audio is None else Path(audio), motion=motion,
                     warnings=_unique(warnings), timings=timer.timings, portrait=analysis)


def write_job(stream: JobStream, out=None, save_motion=None) -> JobResult:
    """Write a job's frames as one MP4 (``out``: a file, or a folder for a dated name) and its motion if asked."""
    out = write_video(stream, _default_out(out))
    motion_path = _motion_path(save_motion, out)
    if motion_path is not None:
        motion_path = stream.motion.save(motion_path)
    return JobResult(video=out, motion=stream.motion, motion_path=motion_path, warnings=stream.warnings,
                     timings=stream.timings, portrait=stream.portrait)


def _unique(items: list[str]) -> list[str]:
    seen, out = set(), []
    for item in items:
        if item and item not in seen:
            seen.add(item)
            out.append(item)
    return out


__all__ = ["JobConfig", "JobResult", "JobStream", "FrameStream", "generate", "render", "generate_frames", "render_frames",
           "write_video", "write_job", "prepared_portrait", "make_motion", "load_motion_file", "np"]
