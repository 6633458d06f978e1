"""A video in small pieces while it renders: short MP4 segments for a streaming player, and the whole MP4 at the end.

One ffmpeg encodes the frames once (H.264, no lookahead, a keyframe at every cut) and its tee muxer writes both the
segments and the full MP4 from the same packets, so the download is exactly what was streamed.  The segments'
sound is lossless (ALAC), not AAC: Gradio decodes each segment's sound on its own and re-encodes the stream's with
one AAC encoder, and AAC decoded segment by segment loses a frame of sound at every cut.

Segments grow (0.2, 0.4, 0.8 s, then 1 s each) so that the first is ready a few frames after rendering starts and
later ones cost few per-segment overheads.  Rendering runs in a background thread a couple of segments ahead of
the consumer; when the consumer stops early (a client went away), the thread and the encoder stop and every
partial file is removed.

    for segment in write_segments(generate_frames(...), "out/flap.mp4"):
        send(segment.path)          # each file can be removed once sent
    # out/flap.mp4 now holds the whole video
"""

from __future__ import annotations

import contextvars
import logging
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from flap.errors import FlapError
from flap.io import partial
from flap.io.ffmpeg import ffmpeg_executable
from flap.io.frames import FrameStream

log = logging.getLogger("flap.streaming")

#: The sound's rate in the segments: a 4096-sample ALAC packet is 85 ms there, under the 0.1 s that Gradio lets a
#: segment's sound run ahead of its picture before it holds the picture still.
SEGMENT_AUDIO_RATE = 48000


@dataclass(frozen=True)
class SegmentPlan:
    """Where the cuts fall: segments of ``growing`` seconds first, then ``steady_s`` each (rounded to frames)."""

    growing: tuple[float, ...] = (0.2, 0.4, 0.8)
    steady_s: float = 1.0

    def cuts(self, num_frames: int, fps: float) -> list[int]:
        """Frame indices where a new segment starts (0 not included; all below ``num_frames``)."""
        cuts, t, k = [], 0.0, 0
        while True:
            t += self.growing[k] if k < len(self.growing) else self.steady_s
            k += 1
            frame = max(int(round(t * fps)), (cuts[-1] + 1) if cuts else 1)
            if frame >= num_frames:
                return cuts
            cuts.append(frame)


@dataclass(frozen=True)
class Segment:
    """One finished segment file: frames [first_frame, first_frame + num_frames) of the video."""

    path: Path
    index: int
    first_frame: int
    num_frames: int
    fps: float

    @property
    def start_s(self) -> float:
        return self.first_frame / self.fps

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps


def segment_path(out: Path, index: int) -> Path:
    return out.with_name(f"{out.stem}.seg{index:04d}.mp4")


def _command(stream: FrameStream, full_tmp: Path, out: Path, list_path: Path, cuts: list[int], crf: int, preset: str) -> list[str]:
    w, h = stream.size
    times = ",".join(f"{c / stream.fps:.6f}" for c in cuts) or f"{stream.duration + 1:.6f}"
    duration = f"{stream.num_frames / stream.fps:.6f}"
    cmd = [ffmpeg_executable(), "-y", "-loglevel", "error", "-nostdin", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{w}x{h}", "-r", f"{stream.fps}", "-i", "-"]
    if stream.audio is not None:
        cmd += ["-i", str(stream.audio), "-map", "0:v:0", "-map", "1:a:0", "-map", "1:a:0",
                "-c:a:0", "aac", "-aac_coder:a:0", "fast", "-b:a:0", "128k", "-filter:a:0", "apad",  # (flap.io.video: why fast)
                "-c:a:1", "alac", "-filter:a:1", f"apad,aresample={SEGMENT_AUDIO_RATE}"]
        segment_streams, full_streams = "v:0,a:1", "v:0,a:0"
    else:
        cmd += ["-map", "0:v:0"]
        segment_streams = full_streams = "v:0"
    cmd += ["-c:v", "libx264", "-preset", preset, "-tune", "zerolatency", "-crf", str(crf), "-pix_fmt", "yuv420p",
            "-force_key_frames", times, "-t", duration, "-f", "tee",
            f"[f=segment:select=\\'{segment_streams}\\':segment_format=mp4:segment_times={times}:"
            f"segment_list={_tee_escape(list_path)}:segment_list_type=csv]"
            f"{_tee_escape(out.with_name(out.stem + '.seg%04d.mp4'))}"
            f"|[f=mp4:movflags=+faststart:select=\\'{full_streams}\\']{_tee_escape(full_tmp)}"]
    return cmd


def _tee_escape(path: Path) -> str:
    """A path inside a tee muxer's output list (its special characters escaped)."""
    text = str(path)
    for ch in "\\|[]:=":
        text = text.replace(ch, "\\" + ch)
    return text


class _Renderer(threading.Thread):
    """Reads the stream's frames (rendering them) into the encoder, up to the frame count ``allow`` last gave.
    It runs in a copy of its creator's context (a web request's, for progress reports), and while it waits for the
    consumer it asks ``wanted`` every half second; a consumer that is no longer wanted gets ``abandon`` called."""

    def __init__(self, stream: FrameStream, stdin, allowed: int, wanted: Callable[[], bool], abandon: Callable[[], None]):
        super().__init__(name="flap-segment-render", daemon=True)
        self.stream, self.stdin, self.wanted, self.abandon = stream, stdin, wanted, abandon
        self.context = contextvars.copy_context()
        self.written = 0
        self.allowed = allowed
        self.error: BaseException | None = None
        self.stopped = False
        self.cond = threading.Condition()

    def allow(self, frames: int) -> None:
        with self.cond:
            self.allowed = max(self.allowed, frames)
            self.cond.notify_all()

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()

    def run(self) -> None:
        self.context.run(self._run)

    def _wait_for_consumer(self) -> bool:
        """False when the renderer should stop."""
        with self.cond:
            while self.written >= self.allowed and not self.stopped:
                if not self.cond.wait(timeout=0.5) and not self.wanted():
                    self.stopped = True
                    threading.Thread(target=self.abandon, daemon=True).start()
            return not self.stopped

    def _run(self) -> None:
        w, h = self.stream.size
        try:
            for frame in self.stream:
                if not self._wait_for_consumer():
                    return
                if frame.shape != (h, w, 3) or frame.dtype != np.uint8:
                    raise ValueError(f"frame must be ({h}, {w}, 3) uint8; got {frame.shape} {frame.dtype}")
                self.stdin.write(np.ascontiguousarray(frame).tobytes())
                self.written += 1
            self.stdin.close()
        except BaseException as exc:  # reported by the consumer; a broken pipe after a stop is expected
            if not self.stopped:
                self.error = exc
        finally:
            if self.stopped or self.error is not None:
                try:
                    self.stdin.close()
                except OSError:
                    pass


def _always() -> bool:
    return True


def write_segments(stream: FrameStream, out, plan: SegmentPlan = SegmentPlan(), ahead_segments: int = 2,
                   crf: int = 20, preset: str = "superfast", keep_segments: bool = False,
                   wanted: Callable[[], bool] = _always, poll_s: float = 0.01) -> Iterator[Segment]:
    """Yield each segment as soon as it is written; when the generator is exhausted, ``out`` holds the whole MP4.

    A segment file is removed when the consumer asks for the next one (it has been sent by then) unless
    ``keep_segments``.  Closing the generator early, or ``wanted()`` turning False while the consumer does not ask
    for more, stops rendering and encoding and removes every file it made."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial.sweep(out.parent, stem=out.stem)
    cuts = plan.cuts(stream.num_frames, stream.fps)
    bounds = [0, *cuts, stream.num_frames]
    segments = len(bounds) - 1
    full_tmp = partial.part_path(out)
    list_path = out.with_name(f"{out.stem}.segments.part.{os.getpid()}.csv")
    proc = subprocess.Popen(_command(stream, full_tmp, out, list_path, cuts, crf, preset), stdin=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    partial.register(full_tmp, proc)
    lock = threading.Lock()
    state = {"ended": False}

    def end(completed: bool) -> None:
        """Once: keep the whole MP4 (``completed``) or stop everything and remove what was made."""
        with lock:
            if state["ended"]:
                return
            state["ended"] = True
        try:
            if completed:
                os.replace(full_tmp, out)
            else:
                renderer.stop()
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
                full_tmp.unlink(missing_ok=True)
                for path in out.parent.glob(f"{_glob_escape(out.stem)}.seg*.mp4"):
                    path.unlink(missing_ok=True)
        finally:
            partial.unregister(full_tmp)
            list_path.unlink(missing_ok=True)

    def allowed(taken: int) -> int:  # segments [taken, taken + ahead) may be finished, and one frame closes the last
        return bounds[min(taken + ahead_segments, segments)] + 1

    renderer = _Renderer(stream, proc.stdin, allowed(0), wanted, lambda: end(False))
    renderer.start()
    completed = False
    try:
        index = 0
        while index < segments:
            if state["ended"]:
                raise FlapError("the segments were abandoned")
            done = _listed(list_path)
            if index >= done:
                if renderer.error is not None:
                    raise _rendering_error(renderer.error)
                if proc.poll() is not None:
                    done = _listed(list_path)
                    if index >= done:
                        raise FlapError(f"video encoding failed ({_stderr(proc) or f'ffmpeg exit code {proc.returncode}'})")
                else:
                    time.sleep(poll_s)
                    continue
            path = segment_path(out, index)
            yield Segment(path, index, bounds[index], bounds[index + 1] - bounds[index], stream.fps)
            if not keep_segments:
                path.unlink(missing_ok=True)
            index += 1
            renderer.allow(allowed(index))
        renderer.join()
        if renderer.error is not None:
            raise _rendering_error(renderer.error)
        code = proc.wait()
        if code != 0:
            raise FlapError(f"video encoding failed ({_stderr(proc) or f'ffmpeg exit code {code}'})")
        completed = True
    finally:
        end(completed)
        if not completed:
            renderer.join(timeout=10)


def _rendering_error(error: BaseException) -> BaseException:
    return error if isinstance(error, FlapError) else FlapError(f"rendering stopped: {type(error).__name__}: {error}")


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def _listed(list_path: Path) -> int:
    """How many segments the encoder has finished (its segment list gets a line as each one is closed)."""
    try:
        return list_path.read_text().count("\n")
    except OSError:
        return 0


def _stderr(proc: subprocess.Popen) -> str:
    try:
        return proc.stderr.read().decode(errors="replace").strip()[-500:]
    except Exception:
        return ""


__all__ = ["SegmentPlan", "Segment", "write_segments", "segment_path", "SEGMENT_AUDIO_RATE"]
