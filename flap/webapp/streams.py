"""The streaming endpoints: the video in segments while it renders (the page's Generate, the API's
``/generate_stream``), then the same outputs as the whole-file jobs.  Both are built from the declared parameters
and share handlers.prepare_generate / finish_generate with ``/generate``."""

from __future__ import annotations

from typing import Iterator

import gradio as gr

from flap.webapp import files
from flap.webapp.disconnect import EventWatch
from flap.webapp.handlers import (_VIDEO_PARAMETERS, DEFAULT_TAKE, GenerateJob, JobOutputs, _controls_and_config,
                                  _page_outputs, _page_values, _run_video, finish_generate, prepare_generate, user_errors)
from flap.webapp.progress import GradioProgress
from flap.webapp.signatures import with_parameters
from flap.webapp.voices import DEFAULT_VOICE


def stream_job(job: GenerateJob, progress=None, keep_segments: bool = False) -> Iterator:
    """Yield each flap.streaming.Segment as it is written, then the job's JobOutputs.  The full engine renders the
    whole video first (on the GPU) and streams it as one segment.  The job's folder is finished at the end."""
    from flap.streaming import Segment, write_segments

    try:
        if job.engine == "full":
            result = _run_video("generate", job.kwargs, job.engine, job.speech.path, progress)
            yield Segment(result.video, 0, 0, result.motion.num_frames, job.kwargs["config"].fps)
        else:
            from flap.pipeline import JobResult, generate_frames

            kwargs = {k: v for k, v in job.kwargs.items() if k != "out"}
            stream = generate_frames(**kwargs, progress=progress or _silent)
            yield from write_segments(stream, job.out, keep_segments=keep_segments, wanted=EventWatch())
            result = JobResult(video=job.out, motion=stream.motion, motion_path=None, warnings=stream.warnings,
                               timings=stream.timings, portrait=stream.portrait)
        yield finish_generate(job, result, progress)
    finally:
        files.finish_job(job.folder)


def _silent(stage: str, done: int, total: int) -> None:
    pass


@user_errors("make the video")
@with_parameters("transcript", _VIDEO_PARAMETERS)
def generate_stream(portrait: str, audio: str | None = None, transcript: str | None = None, motion: str | None = None,
                    take: str | list[str] = DEFAULT_TAKE, text: str | None = None, voice: str = DEFAULT_VOICE,
                    progress=gr.Progress(), **values):
    """As ``/generate``, streamed: yields (segment .mp4, None, None, what it holds) as each segment is written
    (H.264 with lossless ALAC sound, each starting on a keyframe; together they make the video), then
    (None, video .mp4, motion .npz, notes)."""
    controls, config = _controls_and_config(values)
    reporter = GradioProgress(progress)
    job = prepare_generate(portrait, audio, transcript, controls, config, motion, take, text, voice, formats=False,
                           progress=reporter)
    for item in stream_job(job, reporter, keep_segments=True):
        if isinstance(item, JobOutputs):
            yield None, str(item.video), str(item.files.motion), item.notes_text()
        else:
            yield (str(item.path), None, None,
                   f"segment {item.index}: frames {item.first_frame}-{item.first_frame + item.num_frames - 1}, "
                   f"{item.start_s:.2f}-{item.start_s + item.duration_s:.2f} s")


@user_errors("make the video")
@with_parameters("take", _VIDEO_PARAMETERS)
def ui_generate_stream(portrait, audio, transcript, text, voice, natural_blinks, motion_file, take, progress=gr.Progress(),
                       **values):
    """The page's Generate button: the video plays while it renders; then the finished MP4 (for download), the
    exports, the plot and notes, as ui_generate gives them."""
    controls, config = _controls_and_config(_page_values(natural_blinks, values))
    reporter = GradioProgress(progress)
    job = prepare_generate(portrait, audio, transcript, controls, config, motion_file, take or [], text, voice,
                           progress=reporter)
    skip = (gr.skip(),) * 7
    for item in stream_job(job, reporter):
        if isinstance(item, JobOutputs):
            yield (None, *_page_outputs(item))
        else:
            yield (str(item.path), *skip)


__all__ = ["generate_stream", "ui_generate_stream", "stream_job"]
