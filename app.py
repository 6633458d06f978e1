"""FLAP web app (Hugging Face Space): the page's layout and wiring only; the work is in flap.webapp and flap.pipeline.

Run: ``python app.py`` (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT choose the address).  Named API endpoints:
/generate, /motion and /render (see docs/space.md for gradio_client examples).
"""

from __future__ import annotations

import flap.webapp.gpu  # noqa: F401  (imports `spaces` first, as ZeroGPU wants, before anything loads torch)

import logging
import os
import threading

import gradio as gr

from flap.motion.controls import CONTROL_RANGES, GAZE_PRESETS
from flap.motion.emotions import EMOTION_NAMES
from flap.webapp import handlers
from flap.webapp.examples import EXAMPLES_DIR, example_rows
from flap.webapp.exports import flame_preview_available
from flap.webapp.files import output_root, sweep_at_start
from flap.webapp.handlers import CHANNELS
from flap.webapp.refusals import FlapBlocks
from flap.webapp.voices import DEFAULT_VOICE, VOICE_CHOICES

LIMITS = handlers.get_limits()
R = CONTROL_RANGES
CHANNEL_CHOICES = [(handlers.CHANNEL_WORDS[c], c) for c in CHANNELS]
GAZE_CHOICES = ([("natural (follows the motion)", "natural"), ("at the camera", "camera")]
                + [(name, name) for name in GAZE_PRESETS])
MOTION_FILE_TYPES = [".npz", ".npy", ".pkl", ".pickle", ".json", ".csv", ".pt", ".pth"]
FIT_CHOICES = [("hold the last frame", "hold"), ("loop", "loop"), ("trim (video ends with the motion)", "trim")]

INTRO = """# FLAP: a talking portrait from one photo and speech
Give a portrait and a recording (or just type text), set the head pose, emotion, blinks and gaze, and press
**Generate**. The embedded engine runs on a CPU in seconds. Scripts can call the same jobs through the API
(`generate`, `motion`, `render`; see *Use via API* at the bottom of the page)."""

THEME = gr.themes.Soft(font=[gr.themes.Font("system-ui"), gr.themes.Font("sans-serif")],
                       font_mono=[gr.themes.Font("ui-monospace"), gr.themes.Font("monospace")])


def control_inputs():
    """The motion controls, with the CLI's defaults and ranges, in compact rows."""
    with gr.Row():
        yaw = gr.Slider(*R["yaw"], value=0, step=1, label="Yaw (°)", info="+ to image right", elem_id="yaw")
        pitch = gr.Slider(*R["pitch"], value=0, step=1, label="Pitch (°)", info="+ lifts the chin", elem_id="pitch")
        roll = gr.Slider(*R["roll"], value=0, step=1, label="Roll (°)", info="+ tilts clockwise", elem_id="roll")
    with gr.Row():
        motion_scale = gr.Slider(*R["motion_scale"], value=1.0, step=0.05, label="Head motion",
                                 info="0 still, 1 natural, 2 lively", elem_id="motion_scale")
        expression = gr.Slider(*R["expression"], value=1.0, step=0.05, label="Expression intensity",
                               info="Scales lips and face movement", elem_id="expression")
    with gr.Row():
        emotion = gr.Dropdown(list(EMOTION_NAMES), value="neutral", label="Emotion", elem_id="emotion")
        emotion_strength = gr.Slider(*R["emotion_strength"], value=0.7, step=0.05, label="Emotion strength",
                                     elem_id="emotion_strength")
    with gr.Row():
        natural_blinks = gr.Checkbox(value=True, label="Natural blinks", info="Blink in the speech's pauses")
        blink_rate = gr.Slider(*R["blink_rate"], value=15, step=1, label="Blinks per minute",
                               info="Moving it turns natural blinks off", elem_id="blink_rate")
        gaze = gr.Dropdown(GAZE_CHOICES, value="natural", allow_custom_value=True, label="Gaze",
                           info="Or 'yaw,pitch' degrees, e.g. 10,-5", elem_id="gaze")
    return yaw, pitch, roll, motion_scale, expression, emotion, emotion_strength, natural_blinks, blink_rate, gaze


def api_components():
    """Hidden inputs/outputs of the named API endpoints; defaults equal the CLI's."""
    c = {}
    c["portrait"] = gr.Image(type="filepath", label="portrait")
    c["audio"] = gr.Audio(type="filepath", label="audio")
    c["transcript"] = gr.Textbox(label="transcript")
    for name, default in (("yaw", 0.0), ("pitch", 0.0), ("roll", 0.0), ("motion_scale", 1.0), ("expression", 1.0),
                          ("emotion_strength", 0.7)):
        c[name] = gr.Number(value=default, label=name)
    c["emotion"] = gr.Dropdown(list(EMOTION_NAMES), value="neutral", label="emotion")
    c["blink_rate"] = gr.Number(value=None, label="blink_rate")
    c["gaze"] = gr.Textbox(value="", label="gaze")
    c["seed"] = gr.Number(value=0, precision=0, label="seed")
    c["fps"] = gr.Number(value=25.0, label="fps")
    c["size"] = gr.Number(value=512, precision=0, label="size")
    c["paste_back"] = gr.Checkbox(value=False, label="paste_back")
    c["engine"] = gr.Dropdown(["embedded", "full"], value="embedded", label="engine")
    c["steps"] = gr.Number(value=20, precision=0, label="steps")
    c["guidance"] = gr.Number(value=3.5, label="guidance")
    c["motion"] = gr.File(label="motion")
    c["take"] = gr.CheckboxGroup(list(CHANNELS), value=list(CHANNELS), label="take")
    c["fit"] = gr.Dropdown(["hold", "loop", "trim"], value="hold", label="fit")
    c["text"] = gr.Textbox(value="", label="text")
    c["voice"] = gr.Textbox(value=DEFAULT_VOICE, label="voice")
    c["controls"] = gr.Checkbox(value=False, label="controls")
    c["video_out"] = gr.Video(label="video")
    c["motion_out"] = gr.File(label="motion file")
    c["arkit_out"] = gr.File(label="ARKit CSV")
    c["flame_out"] = gr.File(label="FLAME npz")
    c["notes_out"] = gr.Textbox(label="notes")
    return c


CONTROL_NAMES = ("yaw", "pitch", "roll", "motion_scale", "expression", "emotion", "emotion_strength", "blink_rate", "gaze")
JOB_NAMES = ("seed", "fps", "size", "paste_back", "engine", "steps", "guidance")


def build() -> gr.Blocks:
    with FlapBlocks(title="FLAP: talking portrait", delete_cache=(3600, 7200)) as demo:
        gr.Markdown(INTRO)
        if LIMITS.describe():
            gr.Markdown(f"*{LIMITS.describe()}*", elem_id="limits")
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                with gr.Row():
                    portrait = gr.Image(type="filepath", sources=["upload", "webcam", "clipboard"], label="Portrait",
                                        height=260, elem_id="portrait")
                    audio = gr.Audio(type="filepath", sources=["upload", "microphone"], label="Speech", elem_id="audio")
                with gr.Accordion("No recording? Type text to speak", open=False):
                    text = gr.Textbox(lines=2, label="Text to speak (espeak-ng)", elem_id="text",
                                      placeholder="Used only when no recording is given")
                    voice = gr.Dropdown(list(VOICE_CHOICES), value=DEFAULT_VOICE, allow_custom_value=True,
                                        label="Voice", info="Language and voice, e.g. en-us, fr-fr, de, en-gb+f3")
                transcript = gr.Textbox(lines=1, max_lines=4, label="Transcript (optional)", elem_id="transcript",
                                        info="The words spoken, in English: sharper lip shapes")
                examples_slot = gr.Column()
                with gr.Group():
                    (yaw, pitch, roll, motion_scale, expression, emotion, emotion_strength, natural_blinks, blink_rate,
                     gaze) = control_inputs()
                with gr.Accordion("Motion import (FLAME or ARKit file from a 3D-head tool)", open=False):
                    motion_file = gr.File(file_types=MOTION_FILE_TYPES, label="Motion file", elem_id="motion_file")
                    take = gr.CheckboxGroup(CHANNEL_CHOICES, value=list(CHANNELS), label="Take from the file",
                                            info="Unticked channels stay driven by the audio (untick 'jaw' to keep lip sync)")
                    fit = gr.Radio(FIT_CHOICES, value="hold", label="If the file is shorter than the speech")
                    import_summary = gr.Textbox(label="What was read", lines=5, interactive=False, elem_id="import_summary")
                with gr.Accordion("Advanced", open=False):
                    engine = gr.Radio([("embedded (CPU, no weights)", "embedded"), ("full model (GPU)", "full")],
                                      value="embedded", label="Engine")
                    engine_status = gr.Markdown("*Checking whether the full model can run here...*", elem_id="engine_status")
                    with gr.Row():
                        fps = gr.Slider(10, 60, value=25, step=1, label="Frame rate (fps)")
                        size = gr.Slider(256, 1024, value=512, step=64, label="Output size (pixels)",
                                         info="Side of the face crop")
                    with gr.Row():
                        paste_back = gr.Checkbox(value=False, label="Paste back into the whole photo",
                                                 info="Otherwise the video is the face crop")
                        seed = gr.Number(value=0, precision=0, label="Seed", info="Same seed, same motion")
                    with gr.Row():
                        steps = gr.Slider(1, 100, value=20, step=1, label="Sampling steps (full model)")
                        guidance = gr.Slider(1.0, 15.0, value=3.5, step=0.5, label="Guidance (full model)")
                with gr.Row():
                    run = gr.Button("Generate", variant="primary", elem_id="generate")
                    run_motion = gr.Button("Motion only (no video)", elem_id="motion_only")
                with examples_slot:
                    rows = example_rows()
                    gr.Examples([row.values() for row in rows], inputs=[portrait, audio, transcript, text, voice, emotion],
                                example_labels=[row.label for row in rows], cache_examples=False,
                                label="Examples: click one, then Generate", elem_id="examples")
            with gr.Column(scale=6):
                video = gr.Video(label="Video", autoplay=False, elem_id="video", height=420)
                notes = gr.Markdown(elem_id="notes")
                plot = gr.Plot(label="Motion over time", elem_id="plot")
                with gr.Row():
                    motion_out = gr.File(label="Motion (FLAP .npz)")
                    arkit_out = gr.File(label="ARKit curves (.csv)")
                    flame_out = gr.File(label="FLAME parameters (.npz)")
                mesh_out = gr.Video(label="FLAME mesh preview", visible=flame_preview_available())

        with gr.Column(visible=False):
            api = api_components()
            api_buttons = {name: gr.Button(visible=False) for name in ("generate", "motion", "render")}

        # --- page events (not part of the public API)
        controls = [yaw, pitch, roll, motion_scale, expression, emotion, emotion_strength, natural_blinks, blink_rate, gaze]
        page_outputs = [video, motion_out, arkit_out, flame_out, mesh_out, plot, notes]
        video_jobs = dict(concurrency_id="video", concurrency_limit=LIMITS.concurrency, api_visibility="private")
        run.click(handlers.ui_generate, [portrait, audio, transcript, text, voice, *controls, seed, fps, size, paste_back,
                                         engine, steps, guidance, motion_file, take, fit], page_outputs, **video_jobs)
        run_motion.click(handlers.ui_motion, [audio, transcript, text, voice, *controls, seed, fps, motion_file, take, fit],
                         page_outputs, concurrency_id="motion", concurrency_limit=2, api_visibility="private")
        motion_file.change(handlers.ui_describe_motion_file, [motion_file, fps], [import_summary, take],
                           api_visibility="private")
        blink_rate.input(lambda: False, None, natural_blinks, api_visibility="private", queue=False)
        demo.load(handlers.engine_status_markdown, None, engine_status, api_visibility="private", queue=False)

        # --- named API endpoints (parameter names as in the CLI)
        a = api
        api_buttons["generate"].click(
            handlers.generate, [a[n] for n in ("portrait", "audio", "transcript", *CONTROL_NAMES, *JOB_NAMES, "motion",
                                               "take", "fit", "text", "voice")],
            [a["video_out"], a["motion_out"], a["notes_out"]], api_name="generate", concurrency_id="video",
            concurrency_limit=LIMITS.concurrency)
        api_buttons["motion"].click(
            handlers.motion, [a[n] for n in ("audio", "transcript", *CONTROL_NAMES, "seed", "fps", "motion", "take", "fit",
                                             "text", "voice")],
            [a["motion_out"], a["arkit_out"], a["flame_out"], a["notes_out"]], api_name="motion", concurrency_id="motion",
            concurrency_limit=2)
        api_buttons["render"].click(
            handlers.render, [a[n] for n in ("portrait", "motion", "audio", "controls", *CONTROL_NAMES, *JOB_NAMES, "fit")],
            [a["video_out"], a["motion_out"], a["notes_out"]], api_name="render", concurrency_id="video",
            concurrency_limit=LIMITS.concurrency)
    demo.queue(default_concurrency_limit=2, max_size=LIMITS.queue_size)
    return demo


demo = build()

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    flap.webapp.gpu.preload_for_zero_gpu()
    sweep_at_start()  # partial files a killed server left
    demo.launch(max_file_size=LIMITS.max_file_size, allowed_paths=[str(EXAMPLES_DIR), str(output_root())],
                theme=THEME, ssr_mode=False, prevent_thread_lock=True)
    if os.environ.get("FLAP_WARMUP", "1").strip().lower() not in ("0", "false", "no", "off"):
        threading.Thread(target=handlers.warm_up, name="flap-warm-up", daemon=True).start()
    from flap.interrupts import abort_writers_on_signals

    abort_writers_on_signals()  # SIGINT/SIGTERM: remove the videos being written, then close
    demo.block_thread()
