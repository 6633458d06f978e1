"""FLAP web app (Hugging Face Space): the page's layout and wiring only; the work is in flap.webapp and flap.pipeline.

Run: ``python app.py`` (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT choose the address).  Named API endpoints:
/generate, /generate_stream, /motion and /render (see docs/space.md for gradio_client examples).
"""

from __future__ import annotations

import flap.webapp.gpu  # noqa: F401  (imports `spaces` first, as ZeroGPU wants, before anything loads torch)

import logging
import threading

import gradio as gr

from flap.job import JobConfig
from flap.motion.channels import CHANNEL_WORDS, CHANNELS
from flap.parameters import parameter
from flap.settings import settings
from flap.webapp import handlers, live, streams
from flap.webapp.components import api_input, checkbox, choice, control_inputs, slider
from flap.webapp.examples import EXAMPLES_DIR, example_rows
from flap.webapp.exports import flame_preview_available
from flap.webapp.files import output_root, sweep_at_start
from flap.webapp.refusals import FlapBlocks
from flap.webapp.signatures import parameter_names
from flap.webapp.voices import DEFAULT_VOICE, VOICE_CHOICES

LIMITS = handlers.get_limits()
SETTINGS = settings()  # read once at start: a bad FLAP_* value stops the app with a message naming it
CHANNEL_CHOICES = [(CHANNEL_WORDS[c], c) for c in CHANNELS]
MOTION_FILE_TYPES = [".npz", ".npy", ".pkl", ".pickle", ".json", ".csv", ".pt", ".pth"]
FIT_WORDS = {"hold": "hold the last frame", "loop": "loop", "trim": "trim (video ends with the motion)"}
ENGINE_WORDS = {"embedded": "embedded (CPU, no weights)", "full": "full model (GPU)"}

INTRO = """# FLAP: a talking portrait from one photo and speech
Give a portrait and a recording (or just type text), set the head pose, emotion, blinks and gaze, and press
**Generate**: the video plays while it renders. The embedded engine runs on a CPU, faster than real time; the
**Live** tab makes the portrait talk as you speak into the microphone. Scripts can call the same jobs through the API
(`generate`, `generate_stream`, `motion`, `render`; see *Use via API* at the bottom of the page)."""

THEME = gr.themes.Soft(font=[gr.themes.Font("system-ui"), gr.themes.Font("sans-serif")],
                       font_mono=[gr.themes.Font("ui-monospace"), gr.themes.Font("monospace")])


def api_components() -> dict:
    """Hidden inputs/outputs of the named API endpoints; the declared parameters' defaults are the CLI's."""
    c = {}
    c["portrait"] = gr.Image(type="filepath", label="portrait")
    c["audio"] = gr.Audio(type="filepath", label="audio")
    c["transcript"] = gr.Textbox(label="transcript")
    for p in [*handlers.CONTROL_PARAMETERS.values(), *handlers.JOB_PARAMETERS.values()]:
        c[p.name] = api_input(p)
    c["motion"] = gr.File(label="motion")
    c["take"] = gr.CheckboxGroup(list(CHANNELS), value=list(CHANNELS), label="take")
    c["text"] = gr.Textbox(value="", label="text")
    c["voice"] = gr.Textbox(value=DEFAULT_VOICE, label="voice")
    c["controls"] = gr.Checkbox(value=False, label="controls")
    c["video_out"] = gr.Video(label="video")
    c["segment_out"] = gr.File(label="segment")
    c["motion_out"] = gr.File(label="motion file")
    c["arkit_out"] = gr.File(label="ARKit CSV")
    c["flame_out"] = gr.File(label="FLAME npz")
    c["notes_out"] = gr.Textbox(label="notes")
    return c


def inputs(fn, components: dict) -> list:
    """The components for ``fn``'s parameters, in its signature's order (built from the declarations)."""
    return [components[name] for name in parameter_names(fn)]


def build() -> gr.Blocks:
    with FlapBlocks(title="FLAP: talking portrait", delete_cache=(3600, 7200)) as demo:
        gr.Markdown(INTRO)
        if LIMITS.describe():
            gr.Markdown(f"*{LIMITS.describe()}*", elem_id="limits")
        with gr.Tab("Generate", elem_id="tab_generate"):
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
                        page = control_inputs()
                        preview = gr.Image(label="Preview of the pose, emotion, gaze and expression", interactive=False, format="jpeg",
                                           elem_id="preview", height=220, show_label=True)
                    with gr.Accordion("Motion import (FLAME or ARKit file from a 3D-head tool)", open=False):
                        motion_file = gr.File(file_types=MOTION_FILE_TYPES, label="Motion file", elem_id="motion_file")
                        take = gr.CheckboxGroup(CHANNEL_CHOICES, value=list(CHANNELS), label="Take from the file",
                                                info="Unticked channels stay driven by the audio (untick 'jaw' to keep lip sync)")
                        page["fit"] = choice(JobConfig, "fit", FIT_WORDS, kind=gr.Radio)
                        import_summary = gr.Textbox(label="What was read", lines=5, interactive=False, elem_id="import_summary")
                    with gr.Accordion("Advanced", open=False):
                        page["engine"] = choice(JobConfig, "engine", ENGINE_WORDS, kind=gr.Radio)
                        engine_status = gr.Markdown("*Checking whether the full model can run here...*", elem_id="engine_status")
                        with gr.Row():
                            page["fps"] = slider(JobConfig, "fps")
                            page["size"] = slider(JobConfig, "size")
                        with gr.Row():
                            page["paste_back"] = checkbox(JobConfig, "paste_back")
                            seed = parameter(JobConfig, "seed")
                            page["seed"] = gr.Number(value=seed.default, precision=0, label=seed.spec.label,
                                                     info=seed.spec.help, elem_id="seed")
                        with gr.Row():
                            page["steps"] = slider(JobConfig, "steps")
                            page["guidance"] = slider(JobConfig, "guidance")
                    with gr.Row():
                        run = gr.Button("Generate", variant="primary", elem_id="generate")
                        run_motion = gr.Button("Motion only (no video)", elem_id="motion_only")
                    with examples_slot:
                        rows = example_rows()
                        gr.Examples([row.values() for row in rows], inputs=[portrait, audio, transcript, text, voice, page["emotion"]],
                                    example_labels=[row.label for row in rows], cache_examples=False,
                                    label="Examples: click one, then Generate", elem_id="examples")
                with gr.Column(scale=6):
                    video = gr.Video(label="Video (plays while it renders)", streaming=True, autoplay=True, elem_id="video",
                                     height=420)
                    video_file = gr.File(label="Video (MP4, when finished)", elem_id="video_file")
                    notes = gr.Markdown(elem_id="notes")
                    plot = gr.Plot(label="Motion over time", elem_id="plot")
                    with gr.Row():
                        motion_out = gr.File(label="Motion (FLAP .npz)")
                        arkit_out = gr.File(label="ARKit curves (.csv)")
                        flame_out = gr.File(label="FLAME parameters (.npz)")
                    mesh_out = gr.Video(label="FLAME mesh preview", visible=flame_preview_available())

        with gr.Tab("Live", elem_id="tab_live"):
            live.build_live_tab(control_inputs, LIMITS)

        with gr.Column(visible=False):
            api = api_components()
            api_buttons = {name: gr.Button(visible=False) for name in ("generate", "generate_stream", "motion", "render")}

        # --- page events (not part of the public API); inputs follow the handlers' signatures
        page.update(portrait=portrait, audio=audio, transcript=transcript, text=text, voice=voice, motion_file=motion_file,
                    take=take)
        page_outputs = [video_file, motion_out, arkit_out, flame_out, mesh_out, plot, notes]
        video_jobs = dict(concurrency_id="video", concurrency_limit=LIMITS.concurrency, api_visibility="private")
        run.click(streams.ui_generate_stream, inputs(streams.ui_generate_stream, page), [video, *page_outputs], **video_jobs)
        run_motion.click(handlers.ui_motion, inputs(handlers.ui_motion, page), page_outputs, concurrency_id="motion",
                         concurrency_limit=2, api_visibility="private")
        motion_file.change(handlers.ui_describe_motion_file, [motion_file, page["fps"]], [import_summary, take],
                           api_visibility="private")
        page["blink_rate"].input(lambda: False, None, page["natural_blinks"], api_visibility="private", queue=False)
        live.wire_preview(preview, portrait, page)
        demo.load(handlers.engine_status_markdown, None, engine_status, api_visibility="private", queue=False)

        # --- named API endpoints (parameter names as in the CLI, from the same declarations)
        api_buttons["generate"].click(
            handlers.generate, inputs(handlers.generate, api), [api["video_out"], api["motion_out"], api["notes_out"]],
            api_name="generate", concurrency_id="video", concurrency_limit=LIMITS.concurrency)
        api_buttons["generate_stream"].click(
            streams.generate_stream, inputs(streams.generate_stream, api),
            [api["segment_out"], api["video_out"], api["motion_out"], api["notes_out"]], api_name="generate_stream",
            concurrency_id="video", concurrency_limit=LIMITS.concurrency)
        api_buttons["motion"].click(
            handlers.motion, inputs(handlers.motion, api),
            [api["motion_out"], api["arkit_out"], api["flame_out"], api["notes_out"]], api_name="motion",
            concurrency_id="motion", concurrency_limit=2)
        api_buttons["render"].click(
            handlers.render, inputs(handlers.render, api), [api["video_out"], api["motion_out"], api["notes_out"]],
            api_name="render", concurrency_id="video", concurrency_limit=LIMITS.concurrency)
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
    if SETTINGS.warmup:
        threading.Thread(target=handlers.warm_up, name="flap-warm-up", daemon=True).start()
    from flap.interrupts import abort_writers_on_signals

    abort_writers_on_signals()  # SIGINT/SIGTERM: remove the videos being written, then close
    demo.block_thread()
