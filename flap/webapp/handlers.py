"""What the page and the named API endpoints call.  Plain values in (file paths, numbers, strings), files out.

The API functions ``generate``, ``motion`` and ``render`` take the CLI's parameter names: their control and job
parameters are spliced into their signatures from MotionControls and JobConfig (flap.webapp.signatures), and
Gradio reads the endpoint's parameter names from those signatures; ``ui_*`` functions serve the page and return more (plot,
exports, notes).  All of them run flap.pipeline underneath, so the page can do nothing that Python and the CLI
cannot.  Every FlapError reaches the user as a ``gr.Error`` with the same message; anything unexpected is logged
with its traceback and shown as a short apology, never as a stack trace.  All are callable from plain Python (the
progress argument is then a no-op).
"""

from __future__ import annotations

import functools
import html
import inspect
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from flap.engines.registry import ENGINE_NAMES
from flap.errors import EngineUnavailableError, FlapError, InputError
from flap.job import JobConfig
from flap.motion.channels import CHANNEL_WORDS, CHANNELS, parse_channels
from flap.motion.controls import MotionControls
from flap.parameters import from_values, specs
from flap.webapp import files
from flap.webapp.limits import SpaceLimits
from flap.webapp.progress import GradioProgress
from flap.webapp.signatures import with_parameters
from flap.webapp.voices import DEFAULT_VOICE

log = logging.getLogger("flap.webapp")

DEFAULT_TAKE = "all"
MAX_TRANSCRIPT_CHARS = 20_000
CONTROL_PARAMETERS = specs(MotionControls)
JOB_PARAMETERS = specs(JobConfig)
#: What the motion-only jobs use of JobConfig (no portrait, no video).
MOTION_JOB_PARAMETERS = {name: JOB_PARAMETERS[name] for name in ("fps", "seed", "fit")}


# ---------------------------------------------------------------------------------------------- errors
def user_errors(action: str):
    """Decorator: FlapError -> gr.Error(same message); anything else -> logged, and a short gr.Error.  A generator
    function (a streaming endpoint) is wrapped as a generator; it finishes its own job folders (its steps may run
    in different threads, so the thread's job_scope cannot)."""

    def decorate(fn):
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def stream(*args, **kwargs):
                try:
                    yield from fn(*args, **kwargs)
                except Exception as exc:
                    raise _user_error(fn, action, exc) from None

            return stream

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                with files.job_scope():  # the request's folders are 'running' (safe from clean-up) until it ends
                    return fn(*args, **kwargs)
            except Exception as exc:
                raise _user_error(fn, action, exc) from None

        return wrapper

    return decorate


def _user_error(fn, action: str, exc: Exception) -> Exception:
    if isinstance(exc, gr.Error):
        return exc
    if isinstance(exc, FlapError):
        log.info("%s refused: %s", fn.__name__, exc)
        return gr.Error(html.escape(str(exc), quote=False), title=f"Could not {action}", print_exception=False)
    log.error("%s failed", fn.__name__, exc_info=exc)
    return gr.Error(f"Something went wrong on our side while trying to {action} ({type(exc).__name__}). "
                    "Please try again; if it keeps happening, report it with the inputs you used.",
                    title="Internal error", print_exception=False)


# ---------------------------------------------------------------------------------------------- settings
@functools.lru_cache(maxsize=1)
def get_limits() -> SpaceLimits:
    """This process's limits (environment read once)."""
    return SpaceLimits.from_env()


def full_model_status(refresh: bool = False) -> tuple[bool, str]:
    """Whether the full model can run here: flap.engines.registry's answer, cached there for a few minutes and
    shared with the pipeline, so a job checks (and perhaps asks the Hub) at most once."""
    from flap.engines.registry import full_model_status as status

    return status(refresh=refresh)


def engine_status_markdown() -> str:
    """The Advanced section's line about the full model."""
    try:
        ok, reason = full_model_status()
    except Exception as exc:  # never break the page over a status line
        log.exception("full model status failed")
        ok, reason = False, f"its status could not be checked ({type(exc).__name__})"
    if ok:
        return f"**Full model: available.** {html.escape(reason, quote=False)}"
    return f"**Full model: not available here.** {html.escape(reason, quote=False)}"


def check_engine(engine: str) -> str:
    engine = (engine or "embedded").strip().lower()
    if engine == "full":
        ok, reason = full_model_status()
        if not ok:  # a cached 'no' is asked again: the weights or the GPU may have come since
            ok, reason = full_model_status(refresh=True)
        if not ok:
            reason = reason.strip().rstrip(".")
            if not reason.lower().startswith("the full"):
                reason = f"The full model cannot run here: {reason}"
            raise EngineUnavailableError(f"{reason}. Choose the embedded engine (in Advanced) to make the video now.")
    elif engine not in ENGINE_NAMES:
        raise InputError(f"engine must be one of {', '.join(ENGINE_NAMES)}; got '{engine}'")
    return engine


# ---------------------------------------------------------------------------------------------- inputs
def make_controls(**values) -> MotionControls:
    """The page's/API's control values as checked MotionControls (errors name the control and its range); a value
    left empty keeps its default."""
    return from_values(MotionControls, _given(values, CONTROL_PARAMETERS))


def make_config(limits: SpaceLimits | None = None, **values) -> JobConfig:
    """The page's/API's job values as a checked JobConfig, with this deployment's audio limit."""
    limits = limits or get_limits()
    return from_values(JobConfig, _given(values, JOB_PARAMETERS), max_audio_seconds=limits.max_audio_seconds)


def _given(values: dict, declared: dict) -> dict:
    """Values the caller really gave: an empty box (None or blank text) means the default, except where None is a
    value of its own (blink_rate None: natural blinks)."""
    return {k: v for k, v in values.items()
            if not ((v is None or (isinstance(v, str) and not v.strip())) and k in declared and not declared[k].optional)}


def _path(value) -> str | None:
    """A file path from whatever Gradio or a script hands over (str, Path, {'path': ...}, FileData)."""
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        value = value.get("path") or value.get("name")
    value = getattr(value, "path", value)
    return str(value) if value else None


def _require_file(value, what: str, hint: str) -> str:
    path = _path(value)
    if path is None:
        raise InputError(f"No {what} was given. {hint}")
    if not Path(path).is_file():
        raise InputError(f"The {what} could not be found on the server (the upload may have expired); upload it again.")
    return path


@dataclass
class Speech:
    path: str
    transcript: str | None
    notes: list[str] = field(default_factory=list)  # information
    warnings: list[str] = field(default_factory=list)  # worth a toast


def prepare_speech(audio, transcript: str | None, text: str | None, voice: str | None, folder: Path,
                   limits: SpaceLimits, progress=None) -> Speech:
    """The recording, or speech made from ``text`` with espeak-ng when there is none."""
    transcript = (transcript or "").strip() or None
    if transcript and len(transcript) > MAX_TRANSCRIPT_CHARS:
        raise InputError(f"The transcript is {len(transcript)} characters long; the limit is {MAX_TRANSCRIPT_CHARS}.")
    path = _path(audio)
    if path is not None:
        warnings = ["A recording was given, so the text to speak was not used."] if (text or "").strip() else []
        return Speech(_require_file(path, "speech recording", ""), transcript, [], warnings)
    if not (text or "").strip():
        raise InputError("No speech was given: upload or record a speech recording, or type some text to speak.")
    from flap.audio.tts import SpeechSettings, clean_text, is_english, synthesize

    voice = (voice or DEFAULT_VOICE).strip()
    if progress is not None:
        progress.note("speaking the text")
    wav = synthesize(text, folder / "speech.wav", SpeechSettings(voice=voice), max_chars=limits.max_text_chars)
    if transcript is None and is_english(voice):
        transcript = clean_text(text)
    return Speech(str(wav), transcript, [f"Speech made from the text by espeak-ng (voice {voice})."])


@dataclass
class Imported:
    motion: Any  # MotionSequence
    take: list[str]
    summary: str
    notes: list[str] = field(default_factory=list)  # information
    warnings: list[str] = field(default_factory=list)  # worth a toast


def import_motion_file(motion_file, take, fps: float) -> Imported | None:
    """Read an external FLAME/ARKit/FLAP motion file; keep only chosen channels the file really has."""
    path = _path(motion_file)
    if path is None:
        return None
    path = _require_file(path, "motion file", "")
    from flap.interop import import_motion

    imported, report = import_motion(path, target_fps=float(fps))
    chosen = parse_channels(take if take is not None else DEFAULT_TAKE)
    kept = [c for c in chosen if c in report.channels]
    notes, warnings = [], []
    missing = [c for c in chosen if c not in report.channels]
    if missing:
        warnings.append("The motion file has no " + ", ".join(CHANNEL_WORDS[c] for c in missing)
                     + "; " + ("that stays" if len(missing) == 1 else "those stay") + " driven by the audio.")
    if not kept:
        warnings.append("No channel is taken from the motion file, so it was not used.")
    else:
        notes.append("From the motion file: " + ", ".join(CHANNEL_WORDS[c] for c in kept) + "; from the audio: "
                     + (", ".join(CHANNEL_WORDS[c] for c in CHANNELS if c not in kept) or "nothing") + ".")
    return Imported(imported, kept, report.summary(), notes, warnings)


def describe_motion_file(motion_file, fps=25.0) -> tuple[str, list[str]]:
    """(what was read, in plain words; the channels the file provides) for the page, right after an upload."""
    path = _path(motion_file)
    if path is None:
        return "", list(CHANNELS)
    try:
        from flap.interop import import_motion

        _, report = import_motion(_require_file(path, "motion file", ""), target_fps=float(fps or 25.0))
    except FlapError as exc:
        return f"Could not use this file: {exc}", list(CHANNELS)
    return report.summary(), list(report.channels) or list(CHANNELS)


# ---------------------------------------------------------------------------------------------- jobs
@dataclass
class JobOutputs:
    """Everything a job produced, for the page or the API."""

    motion: Any  # MotionSequence
    files: Any  # flap.webapp.exports.MotionFiles
    video: Path | None = None
    warnings: list[str] = field(default_factory=list)  # problems worth a toast on the page
    notes: list[str] = field(default_factory=list)  # information
    import_summary: str = ""
    seconds: float = 0.0

    def notes_text(self) -> str:
        from flap.webapp.plots import motion_stats

        lines = list(self.warnings) + list(self.notes) + [f"Motion: {motion_stats(self.motion).describe()}", f"Done in {self.seconds:.1f} s."]
        return "\n".join(lines)

    def notes_markdown(self) -> str:
        return "\n".join(f"- {html.escape(line, quote=False)}" for line in self.notes_text().splitlines())


def _run_video(kind: str, kwargs: dict, engine: str, audio_seconds_of: str | None, progress) -> Any:
    """Run flap.pipeline.generate/render: in this thread for the embedded engine, through the GPU function for the
    full one."""
    from flap import pipeline

    if engine == "full":
        from flap.audio.loading import load_audio
        from flap.face.portrait import analyze_portrait
        from flap.webapp.gpu import GpuJob, run_full_model

        config = kwargs["config"]
        analyze_portrait(kwargs["portrait"], size=config.size, paste_back=config.paste_back)  # fail before taking a GPU
        if audio_seconds_of:
            seconds = load_audio(audio_seconds_of, max_seconds=config.max_audio_seconds).duration
        else:  # a render without sound lasts as long as its motion
            seconds = pipeline.load_motion_file(kwargs["motion"], config.fps)[0].duration
        return run_full_model(GpuJob(kind=kind, kwargs=kwargs, audio_seconds=seconds), progress)
    function = pipeline.generate if kind == "generate" else pipeline.render
    return function(**kwargs, progress=progress or _silent)


@dataclass
class GenerateJob:
    """A generate request checked and its speech ready, before any frame: what streaming and whole-file share."""

    kwargs: dict  # flap.pipeline.generate's arguments
    engine: str
    folder: Path
    speech: Speech
    imported: Imported | None
    formats: bool
    start: float

    @property
    def out(self) -> Path:
        return self.kwargs["out"]


def prepare_generate(portrait, audio=None, transcript=None, controls: MotionControls | None = None, config=None,
                     motion_file=None, take=DEFAULT_TAKE, text=None, voice=DEFAULT_VOICE, formats: bool = True,
                     progress=None) -> GenerateJob:
    """Check a generate request and make its speech; raises the user's error before any rendering."""
    start = time.perf_counter()
    limits = get_limits()
    config = config or make_config(limits=limits)
    controls = controls or MotionControls()
    portrait = _require_file(portrait, "portrait photo", "Upload a photo with one face, use the webcam, or pick an example.")
    engine = check_engine(config.engine)
    folder = files.new_job_dir("generate")
    speech = prepare_speech(audio, transcript, text, voice, folder, limits, progress)
    imported = import_motion_file(motion_file, take, config.fps)
    kwargs = dict(portrait=portrait, audio=speech.path, out=folder / "flap.mp4", transcript=speech.transcript,
                  controls=controls, config=config, imported=imported.motion if imported and imported.take else None,
                  take=imported.take if imported else ())
    return GenerateJob(kwargs, engine, folder, speech, imported, formats, start)


def finish_generate(job: GenerateJob, result, progress=None) -> JobOutputs:
    """The motion files and notes of a generate job whose video is written (``result``: a flap.pipeline.JobResult)."""
    from flap.webapp.exports import flame_preview_available, write_motion_files

    exported = write_motion_files(result.motion, job.folder, formats=job.formats,
                                  mesh_preview=job.formats and flame_preview_available(), audio=job.speech.path,
                                  progress=progress)
    imported = job.imported
    warnings = job.speech.warnings + (imported.warnings if imported else []) + list(result.warnings) + exported.notes
    notes = job.speech.notes + (imported.notes if imported else [])
    return JobOutputs(result.motion, exported, Path(result.video), warnings, notes, imported.summary if imported else "",
                      time.perf_counter() - job.start)


def run_generate(portrait, audio=None, transcript=None, controls: MotionControls | None = None, config=None,
                 motion_file=None, take=DEFAULT_TAKE, text=None, voice=DEFAULT_VOICE, formats: bool = True,
                 progress=None) -> JobOutputs:
    """Portrait + speech (or text) [+ an imported motion] -> video, motion files and notes."""
    job = prepare_generate(portrait, audio, transcript, controls, config, motion_file, take, text, voice, formats, progress)
    result = _run_video("generate", job.kwargs, job.engine, job.speech.path, progress)
    return finish_generate(job, result, progress)


def run_motion(audio=None, transcript=None, controls: MotionControls | None = None, config=None, motion_file=None,
               take=DEFAULT_TAKE, text=None, voice=DEFAULT_VOICE, progress=None) -> JobOutputs:
    """Speech (or text) [+ an imported motion] -> motion files, no portrait and no video."""
    from flap.pipeline import make_motion
    from flap.webapp.exports import flame_preview_available, write_motion_files

    start = time.perf_counter()
    limits = get_limits()
    config = config or make_config(limits=limits)
    folder = files.new_job_dir("motion")
    speech = prepare_speech(audio, transcript, text, voice, folder, limits, progress)
    imported = import_motion_file(motion_file, take, config.fps)
    result, warnings = make_motion(speech.path, speech.transcript, controls or MotionControls(), config,
                                   imported=imported.motion if imported and imported.take else None,
                                   take=imported.take if imported else (), progress=progress or _silent)
    exported = write_motion_files(result, folder, mesh_preview=flame_preview_available(), audio=speech.path, progress=progress)
    warnings = speech.warnings + (imported.warnings if imported else []) + list(warnings) + exported.notes
    notes = speech.notes + (imported.notes if imported else [])
    return JobOutputs(result, exported, None, warnings, notes, imported.summary if imported else "", time.perf_counter() - start)


def run_render(portrait, motion_file, audio=None, controls: MotionControls | None = None, config=None,
               progress=None) -> JobOutputs:
    """Portrait + a motion file [+ speech for the sound track] -> video."""
    from flap.webapp.exports import write_motion_files

    start = time.perf_counter()
    config = config or make_config()
    portrait = _require_file(portrait, "portrait photo", "Upload a photo with one face.")
    motion_path = _require_file(motion_file, "motion file", "Upload a FLAP, FLAME or ARKit motion file.")
    audio_path = _path(audio)
    if audio_path is not None:
        audio_path = _require_file(audio_path, "speech recording", "")
    engine = check_engine(config.engine)
    folder = files.new_job_dir("render")
    kwargs = dict(portrait=portrait, motion=motion_path, audio=audio_path, out=folder / "flap.mp4", controls=controls,
                  config=config)
    result = _run_video("render", kwargs, engine, audio_path, progress)
    exported = write_motion_files(result.motion, folder, formats=False)
    return JobOutputs(result.motion, exported, Path(result.video), list(result.warnings), [], "", time.perf_counter() - start)


def _silent(stage: str, done: int, total: int) -> None:
    pass


# ---------------------------------------------------------------------------------------------- API endpoints
# The control and job parameters of each endpoint (names, order, defaults) come from MotionControls and JobConfig.
_VIDEO_PARAMETERS = [*CONTROL_PARAMETERS.values(), *JOB_PARAMETERS.values()]
_MOTION_PARAMETERS = [*CONTROL_PARAMETERS.values(), *MOTION_JOB_PARAMETERS.values()]


def _controls_and_config(values: dict, limits: SpaceLimits | None = None) -> tuple[MotionControls, JobConfig]:
    return (make_controls(**{k: v for k, v in values.items() if k in CONTROL_PARAMETERS}),
            make_config(limits, **{k: v for k, v in values.items() if k in JOB_PARAMETERS}))


@user_errors("make the video")
@with_parameters("transcript", _VIDEO_PARAMETERS)
def generate(portrait: str, audio: str | None = None, transcript: str | None = None, motion: str | None = None,
             take: str | list[str] = DEFAULT_TAKE, text: str | None = None, voice: str = DEFAULT_VOICE,
             progress=gr.Progress(), **values) -> tuple[str, str, str]:
    """Portrait + speech (or ``text`` to speak) + controls -> (video .mp4, motion .npz, notes)."""
    controls, config = _controls_and_config(values)
    out = run_generate(portrait, audio, transcript, controls, config, motion, take, text, voice, formats=False,
                       progress=GradioProgress(progress))
    return str(out.video), str(out.files.motion), out.notes_text()


@user_errors("make the motion")
@with_parameters("transcript", _MOTION_PARAMETERS)
def motion(audio: str | None = None, transcript: str | None = None, motion: str | None = None,
           take: str | list[str] = DEFAULT_TAKE, text: str | None = None, voice: str = DEFAULT_VOICE,
           progress=gr.Progress(), **values) -> tuple[str, str, str, str]:
    """Speech (or ``text``) + controls -> (motion .npz, ARKit .csv, FLAME .npz, notes); no portrait, no video."""
    controls, config = _controls_and_config(values)
    out = run_motion(audio, transcript, controls, config, motion, take, text, voice, progress=GradioProgress(progress))
    return str(out.files.motion), str(out.files.arkit_csv), str(out.files.flame_npz), out.notes_text()


@user_errors("render the video")
@with_parameters("controls", _VIDEO_PARAMETERS)
def render(portrait: str, motion: str, audio: str | None = None, controls: bool = False, progress=gr.Progress(),
           **values) -> tuple[str, str, str]:
    """Portrait + motion file [+ speech] -> (video .mp4, the motion as rendered .npz, notes).  The control values
    are applied on top of the file's motion only with ``controls=True`` (as the CLI's --controls)."""
    chosen, config = _controls_and_config(values)
    out = run_render(portrait, motion, audio, chosen if controls else None, config, progress=GradioProgress(progress))
    return str(out.video), str(out.files.motion), out.notes_text()


# ---------------------------------------------------------------------------------------------- page
def _page_outputs(out: JobOutputs) -> tuple:
    from flap.webapp.plots import motion_figure

    for warning in out.warnings:
        gr.Warning(html.escape(warning, quote=False))
    f = out.files
    return (str(out.video) if out.video else None, str(f.motion), _opt(f.arkit_csv), _opt(f.flame_npz), _opt(f.mesh_preview),
            motion_figure(out.motion), out.notes_markdown())


def _opt(path) -> str | None:
    return str(path) if path else None


def _page_values(natural_blinks, values: dict) -> dict:
    """The page's blink slider counts only when 'Natural blinks' is off."""
    return {**values, "blink_rate": None if natural_blinks else values.get("blink_rate")}


@user_errors("make the video")
@with_parameters("take", _VIDEO_PARAMETERS)
def ui_generate(portrait, audio, transcript, text, voice, natural_blinks, motion_file, take, progress=gr.Progress(),
                **values) -> tuple:
    """The page's Generate button: everything the API's generate does, plus exports, the plot and notes."""
    controls, config = _controls_and_config(_page_values(natural_blinks, values))
    out = run_generate(portrait, audio, transcript, controls, config, motion_file, take or [], text, voice,
                       progress=GradioProgress(progress))
    return _page_outputs(out)


@user_errors("make the motion")
@with_parameters("take", _MOTION_PARAMETERS)
def ui_motion(audio, transcript, text, voice, natural_blinks, motion_file, take, progress=gr.Progress(), **values) -> tuple:
    """The page's Motion-only button: no portrait needed, no video made."""
    controls, config = _controls_and_config(_page_values(natural_blinks, values))
    out = run_motion(audio, transcript, controls, config, motion_file, take or [], text, voice,
                     progress=GradioProgress(progress))
    return _page_outputs(out)


def ui_describe_motion_file(motion_file, fps) -> tuple[str, Any]:
    """After an upload: what was read, and tick the channels the file provides."""
    summary, channels = describe_motion_file(motion_file, fps)
    if summary.startswith("Could not use this file"):
        gr.Warning(html.escape(summary, quote=False))
    return summary, gr.update(value=channels)


def warm_up(limits: SpaceLimits | None = None) -> None:
    """Load what the first request would (face models, the voice detector, the engine status) in the background,
    so the first visitor does not wait for it.  Failures are only logged: the request will report them properly."""
    try:
        full_model_status()
        from flap.face.mediapipe_models import face_detector, face_mesh

        face_detector(0)
        face_detector(1)
        face_mesh(True)
        from flap.audio.vad import silero_available

        silero_available()
        from flap.engines.embedded.rasterizer import load_kernels

        load_kernels()
        import matplotlib.figure  # noqa: F401
    except Exception:
        log.exception("warm-up failed (requests will load what they need)")


__all__ = ["generate", "motion", "render", "ui_generate", "prepare_generate", "finish_generate", "GenerateJob", "ui_motion", "ui_describe_motion_file", "engine_status_markdown",
           "get_limits", "make_controls", "make_config", "run_generate", "run_motion", "run_render", "warm_up"]
