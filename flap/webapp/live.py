"""The page's live parts: the Live tab (microphone in, the portrait talking out, controls live) and the still
preview that follows the controls before anything is generated.

Both start from a prepared portrait (face analysis + the embedded engine's ``prepare``) kept in a small LRU cache,
so moving a slider or starting the microphone costs one rendered frame, not a face analysis.  Each microphone
stream gets its own flap.live.LiveSession (in the stream's gr.State); the preview renders through a cached one.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from flap.errors import FlapError
from flap.webapp.handlers import CONTROL_PARAMETERS, _page_values, make_controls
from flap.webapp.signatures import with_parameters

log = logging.getLogger("flap.webapp")

LIVE_FPS = 25.0
LIVE_SIZE = 512
STREAM_EVERY_S = 0.1  # how often the browser sends microphone audio
LIVE_TIME_LIMIT_S = 300  # one microphone stream at most this long
#: The controls whose change re-renders the preview (the others shape motion over time, which a still cannot show).
PREVIEW_CONTROLS = ("yaw", "pitch", "roll", "emotion", "emotion_strength", "gaze", "expression", "mouth")
_lock = threading.Lock()


def _key(portrait) -> tuple[str, int] | None:
    path = getattr(portrait, "path", portrait)
    if isinstance(portrait, dict):
        path = portrait.get("path")
    if not path or not Path(path).is_file():
        return None
    return str(path), Path(path).stat().st_mtime_ns


def _prepared(path: str, mtime_ns: int, size: int):
    """(portrait analysis, the embedded engine's prepared state), from the pipeline's cache that jobs share."""
    from flap.pipeline import prepared_portrait

    return prepared_portrait(path, size=size)


@functools.lru_cache(maxsize=4)
def _preview_session(path: str, mtime_ns: int, size: int):
    from flap.live import LiveSession

    analysis, state = _prepared(path, mtime_ns, size)
    return LiveSession(analysis, fps=LIVE_FPS, prepared=state)


def new_session(portrait, controls, size: int = LIVE_SIZE):
    """A LiveSession for one microphone stream, on the cached prepared portrait."""
    from flap.live import LiveSession

    key = _key(portrait)
    if key is None:
        raise gr.Error("Upload a portrait on the Live tab first.", title="No portrait")
    with _lock:
        analysis, state = _prepared(*key, size)
    return LiveSession(analysis, controls=controls, fps=LIVE_FPS, prepared=state)


def prepare_portrait(portrait) -> None:
    """When a portrait is uploaded: analyse and prepare it now, so the first preview or live frame is quick."""
    key = _key(portrait)
    if key is None:
        return
    try:
        with _lock:
            _prepared(*key, LIVE_SIZE)
    except FlapError:
        pass  # the Generate button reports it properly


@with_parameters("natural_blinks", list(CONTROL_PARAMETERS.values()))
def ui_preview(portrait, natural_blinks=True, **values) -> Any:
    """One still frame of the portrait with the controls' pose, emotion, gaze and expression (no speech)."""
    key = _key(portrait)
    if key is None:
        return None
    try:
        controls = make_controls(**_page_values(natural_blinks, values))
        with _lock:
            session = _preview_session(*key, LIVE_SIZE)
        return session.preview(controls)
    except FlapError as exc:
        log.info("preview: %s", exc)
        return gr.skip()


def _mono_float(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if np.issubdtype(samples.dtype, np.integer):
        return samples.astype(np.float32) / float(np.iinfo(samples.dtype).max)
    return samples.astype(np.float32)


@with_parameters("natural_blinks", list(CONTROL_PARAMETERS.values()))
def ui_live(chunk, session, portrait, natural_blinks=True, **values) -> tuple:
    """One piece of microphone audio in: (the newest frame, its time and the server's time for it, the session)."""
    start = time.perf_counter()
    if chunk is None:
        return gr.skip(), gr.skip(), session
    try:
        controls = make_controls(**_page_values(natural_blinks, values))
    except FlapError as exc:
        raise gr.Error(str(exc), title="Control out of range", print_exception=False) from None
    if session is None:
        try:
            session = new_session(portrait, controls)
        except FlapError as exc:
            raise gr.Error(str(exc), title="Could not start", print_exception=False) from None
    elif controls != session.controls:
        session.controls = controls
    rate, samples = chunk
    frames = session.push(_mono_float(samples), int(rate), latest_only=True)  # the page shows one frame a piece
    if not frames:
        return gr.skip(), gr.skip(), session
    image, time_s = frames[-1]
    return image, _status(time_s, session.generator.heard_s, time.perf_counter() - start), session


def _status(time_s: float, heard_s: float, compute_s: float) -> str:
    """The status line: the speech time the frame shows, the audio heard so far, the server's time for this piece
    (benchmarks/bench_stream.py reads it)."""
    return f"t={time_s:.2f} s, heard {heard_s:.2f} s, server {1000 * compute_s:.0f} ms"


def ui_live_stop(session) -> None:
    """The microphone stopped: the session ends (a new recording starts a new one)."""
    if session is not None:
        session.close()
    return None


def build_live_tab(control_inputs, limits) -> dict:
    """The Live tab's components and events (inside a ``gr.Tab`` context); returns its components."""
    from flap.webapp.signatures import parameter_names

    c: dict = {}
    gr.Markdown("Speak into the microphone: the portrait talks as you speak (the embedded engine, on the CPU). "
                "The controls apply while it runs.")
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            c["portrait"] = gr.Image(type="filepath", sources=["upload", "webcam", "clipboard"], label="Portrait",
                                     height=240, elem_id="live_portrait")
            c["mic"] = gr.Audio(sources=["microphone"], streaming=True, type="numpy", label="Microphone",
                                elem_id="live_mic")
            with gr.Group():
                c.update(control_inputs("live_"))
        with gr.Column(scale=6):
            c["image"] = gr.Image(label="Live portrait", streaming=True, interactive=False, elem_id="live_image", format="jpeg",
                                  height=420)
            c["status"] = gr.Textbox(label="Frame shown", interactive=False, elem_id="live_status", max_lines=1)
    c["session"] = gr.State(None)
    names = parameter_names(ui_live)
    inputs = [c["mic"] if n == "chunk" else c[n] for n in names]
    c["mic"].stream(ui_live, inputs, [c["image"], c["status"], c["session"]], stream_every=STREAM_EVERY_S,
                    time_limit=LIVE_TIME_LIMIT_S, concurrency_id="live", concurrency_limit=max(2, limits.concurrency),
                    api_visibility="private", show_progress="hidden")
    c["mic"].start_recording(lambda: None, None, c["session"], api_visibility="private", queue=False)
    c["mic"].stop_recording(ui_live_stop, c["session"], c["session"], api_visibility="private", queue=False)
    c["portrait"].change(prepare_portrait, c["portrait"], None, api_visibility="private")
    c["blink_rate"].input(lambda: False, None, c["natural_blinks"], api_visibility="private", queue=False)
    return c


def wire_preview(preview, portrait, controls: dict) -> None:
    """Re-render the still ``preview`` whenever the portrait or a preview control changes."""
    from flap.webapp.signatures import parameter_names

    inputs = [portrait if n == "portrait" else controls[n] for n in parameter_names(ui_preview)]
    triggers = [portrait.change] + [controls[n].change for n in PREVIEW_CONTROLS]
    gr.on(triggers, ui_preview, inputs, preview, trigger_mode="always_last", concurrency_id="preview",
          concurrency_limit=2, api_visibility="private", show_progress="hidden")


__all__ = ["build_live_tab", "wire_preview", "ui_preview", "ui_live", "new_session", "prepare_portrait"]
