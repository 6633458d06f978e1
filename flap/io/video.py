"""H.264/AAC MP4 writing through an ffmpeg pipe, and probing/reading videos back (for tests and measurement).

Files are written under a partial name (flap.io.partial) and renamed only when complete, so a failed or killed job
leaves nothing that looks finished, and the next writer of the same file removes what a killed one left.

Speed (a 2-core machine renders and encodes at once): frames go to the encoder from a thread of their own through a
short queue, so the renderer never waits for a momentarily busy encoder, and they go as YUV 4:2:0 converted by
OpenCV (BT.601, limited range, what ffmpeg's own conversion gives): half the bytes through the pipe, and ffmpeg
spends its time on H.264 alone.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flap.errors import FlapError
from flap.io import partial
from flap.io.ffmpeg import ffmpeg_executable


class VideoWriter:
    """Context manager: ``with VideoWriter(path, fps, (w, h), audio) as w: w.write(frame)``."""

    def __init__(self, path, fps: float, size: tuple[int, int], audio_path=None, num_frames: int | None = None,
                 crf: int = 20, preset: str = "superfast", queue_frames: int = 8, threads: int | None = None):
        self.path = Path(path)
        self.fps = float(fps)
        self.width, self.height = int(size[0]), int(size[1])
        if self.width % 2 or self.height % 2:
            raise ValueError(f"H.264 yuv420p needs even sizes; got {self.width}x{self.height}")
        self.audio_path = None if audio_path is None else Path(audio_path)
        self.num_frames = num_frames
        self.crf, self.preset = crf, preset
        self.threads = encoder_threads() if threads is None else threads
        self.tmp_path = partial.part_path(self.path)
        self.frames_written = 0
        self._proc: subprocess.Popen | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, queue_frames))
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._abandoned = threading.Event()  # set when the output is thrown away: the thread stops without the queue

    def _command(self) -> list[str]:
        cmd = [ffmpeg_executable(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p",
               "-s", f"{self.width}x{self.height}", "-r", f"{self.fps}", "-i", "-"]
        if self.audio_path is not None:
            # AAC's "fast" coder: half the CPU of the default "twoloop" (0.07 s instead of 0.15 s for 10 s of speech,
            # beside x264's 0.5 s) and, at this bit rate, no less faithful (SNR 41 dB against 38 dB on espeak speech)
            cmd += ["-i", str(self.audio_path), "-map", "0:v:0", "-map", "1:a:0", "-c:a", "aac", "-aac_coder", "fast",
                    "-b:a", "128k", "-af", "apad"]
        cmd += ["-c:v", "libx264", "-preset", self.preset, "-crf", str(self.crf), "-pix_fmt", "yuv420p",
                "-movflags", "+faststart"]
        if self.threads:
            cmd += ["-threads", str(self.threads)]
        if self.num_frames is not None:
            cmd += ["-t", f"{self.num_frames / self.fps:.6f}"]
        elif self.audio_path is not None:
            cmd += ["-shortest"]
        cmd += [str(self.tmp_path)]
        return cmd

    def __enter__(self) -> "VideoWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial.sweep(self.path.parent, stem=self.path.stem)  # what a killed writer of this file left
        self._proc = subprocess.Popen(self._command(), stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        partial.register(self.tmp_path, self._proc)
        _widen_pipe(self._proc.stdin)
        self._thread = threading.Thread(target=self._feed, name="flap-video-writer", daemon=True)
        self._thread.start()
        return self

    def write(self, frame: np.ndarray, copy: bool = True) -> None:
        """Queue one RGB frame.  ``copy=False`` hands the array over: the caller must not change it afterwards
        (it is read by the writer thread later); by default it is copied, so the caller may reuse it."""
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(f"frame must be ({self.height}, {self.width}, 3) uint8; got {frame.shape} {frame.dtype}")
        self._raise_if_stopped()
        self._put(np.array(frame, copy=True) if copy else frame)
        self.frames_written += 1

    def _put(self, item) -> None:
        while True:  # wakes up now and then so an encoder that died is noticed even with a full queue
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                self._raise_if_stopped()

    def _raise_if_stopped(self) -> None:
        if self._error is not None:
            raise FlapError(f"the video encoder stopped: {self._stderr()}") from self._error

    def _feed(self) -> None:
        """The writer thread: RGB -> I420 (OpenCV releases the GIL) and into ffmpeg's pipe, until None comes."""
        import cv2

        stdin = self._proc.stdin
        while not self._abandoned.is_set():
            try:
                frame = self._queue.get(timeout=0.25)
            except queue.Empty:
                continue
            if frame is None:
                return
            if self._error is not None:
                continue  # drain: write() raises for the caller
            try:
                stdin.write(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).data)
            except (BrokenPipeError, OSError, ValueError) as exc:
                self._error = exc

    def _stop_thread(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def _abandon_thread(self) -> None:
        """Stop the writer thread without touching the queue: a KeyboardInterrupt (Ctrl-C, or SIGTERM through
        flap.interrupts) can land inside a queue call of this thread and leave the queue's waiters inconsistent, so
        a None put after it may never reach the writer (seen: 1 stop in 7 hung in join for good)."""
        if self._thread is not None:
            self._abandoned.set()
            self._thread.join(timeout=5)  # it wakes within 0.25 s; a daemon thread cannot keep the process alive anyway
            self._thread = None

    def _stderr(self) -> str:
        try:
            return self._proc.stderr.read().decode(errors="replace").strip()[-500:]
        except Exception:
            return ""

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self._finish(exc_type)
        finally:
            partial.unregister(self.tmp_path)

    def _finish(self, exc_type) -> None:
        proc = self._proc
        if exc_type is not None:
            proc.kill()
            self._abandon_thread()
            proc.wait()
            self.tmp_path.unlink(missing_ok=True)
            return
        self._stop_thread()
        if self._error is not None:
            proc.kill()
            proc.wait()
            self.tmp_path.unlink(missing_ok=True)
            raise FlapError(f"the video encoder stopped: {self._stderr()}") from self._error
        proc.stdin.close()
        code = proc.wait()
        if code != 0:
            message = self._stderr()
            self.tmp_path.unlink(missing_ok=True)
            raise FlapError(f"video encoding failed ({message or f'ffmpeg exit code {code}'})")
        os.replace(self.tmp_path, self.path)


def encoder_threads() -> int:
    """x264's threads: 0 (its own choice, 1.5 per core) on machines with cores to spare; on two cores or fewer one
    thread, since the renderer keeps the other core busy and x264's threading costs a quarter more CPU (measured:
    0.79 s instead of 1.01 s of CPU for 100 frames of 1024x1280).  FLAP_ENCODER_THREADS (flap.settings) overrides it."""
    from flap.settings import settings

    chosen = settings().encoder_threads
    if chosen is not None:
        return int(chosen)
    return 1 if (os.cpu_count() or 1) <= 2 else 0


def _widen_pipe(stream, size: int = 1 << 20) -> None:
    """Let the pipe hold a frame or more (Linux; 64 KB by default), so a write rarely waits for ffmpeg's read."""
    try:
        import fcntl

        fcntl.fcntl(stream.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except (OSError, ImportError, AttributeError):
        pass


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    duration: float
    video_codec: str
    pixel_format: str
    audio_codec: str | None
    audio_sample_rate: int | None


def probe_video(path) -> VideoInfo:
    """Stream facts from ffmpeg's own description of the file."""
    out = subprocess.run([ffmpeg_executable(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    video = re.search(r"Stream #\S+.*?Video: (\w+).*?, (\w+)\(?.*?, (\d+)x(\d+).*?, ([\d.]+) fps", out)
    if not video:
        raise FlapError(f"no video stream found in {path}: {out[-300:]}")
    duration = re.search(r"Duration: (\d+):(\d+):([\d.]+)", out)
    seconds = int(duration.group(1)) * 3600 + int(duration.group(2)) * 60 + float(duration.group(3)) if duration else float("nan")
    audio = re.search(r"Stream #\S+.*?Audio: (\w+).*?, (\d+) Hz", out)
    return VideoInfo(
        width=int(video.group(3)), height=int(video.group(4)), fps=float(video.group(5)), duration=seconds,
        video_codec=video.group(1), pixel_format=video.group(2),
        audio_codec=audio.group(1) if audio else None, audio_sample_rate=int(audio.group(2)) if audio else None,
    )


def read_frames(path) -> np.ndarray:
    """All frames of a video as (N, H, W, 3) uint8 (for tests and measurement of short clips)."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    meta = next(reader)
    w, h = meta["size"]
    frames = [np.frombuffer(buf, dtype=np.uint8).reshape(h, w, 3) for buf in reader]
    return np.stack(frames) if frames else np.zeros((0, h, w, 3), np.uint8)


def count_frames(path) -> int:
    import imageio_ffmpeg

    return int(imageio_ffmpeg.count_frames_and_secs(str(path))[0])
