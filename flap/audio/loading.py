"""Decoding any speech recording to float32 mono at one sample rate, with errors a user can act on.

soundfile (libsndfile) decodes WAV/FLAC/OGG/AIFF in-process, which is the fastest path; everything else (MP3,
M4A/AAC, Opus in WebM, video files) goes through the ffmpeg binary from flap.io.ffmpeg, piping f32le mono at the
target rate, because imageio-ffmpeg's binary is not on PATH and librosa/audioread would not find it.
"""

from __future__ import annotations

import re
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flap.errors import AudioInputError, FlapError

#: Extensions libsndfile reads directly; anything else is handed to ffmpeg.
SOUNDFILE_EXTENSIONS = frozenset({".wav", ".wave", ".flac", ".ogg", ".oga", ".aif", ".aiff"})
SUPPORTED_HINT = "use a WAV, MP3, FLAC, M4A/AAC, OGG/Opus or WebM recording"
_TRUNCATION_SLACK = 0.9  # decoded share of the announced duration below which a file counts as cut short
_LONG_TOLERANCE_S = 0.05  # codec padding that may push a file just past max_seconds


@dataclass
class AudioClip:
    """A decoded recording: float32 mono samples in [-1, 1]."""

    samples: np.ndarray
    sample_rate: int
    source: str

    @property
    def duration(self) -> float:
        return len(self.samples) / float(self.sample_rate)

    @classmethod
    def from_array(cls, samples: np.ndarray, sample_rate: int, source: str = "array") -> "AudioClip":
        """Wrap samples that are already in memory (mixes down channels-last stereo, cleans NaN/Inf)."""
        return cls(_clean(np.asarray(samples)), int(sample_rate), source)


def load_audio(path, sample_rate: int = 16000, max_seconds: float | None = None) -> AudioClip:
    """Decode ``path`` to mono float32 at ``sample_rate``; raise AudioInputError with a plain reason otherwise."""
    path = Path(path)
    name = path.name
    if not path.exists():
        raise AudioInputError(f"audio file not found: {path}")
    if path.is_dir():
        raise AudioInputError(f"{path} is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise AudioInputError(f"'{name}' is empty (0 bytes); {SUPPORTED_HINT}")

    decoded = None
    if path.suffix.lower() in SOUNDFILE_EXTENSIONS:
        decoded = _read_soundfile(path, sample_rate, max_seconds)
    if decoded is None:  # other formats, or libsndfile could not read it (e.g. an MP3 named .wav)
        decoded = _read_ffmpeg(path, sample_rate, max_seconds)
    samples = decoded
    if samples.size == 0:
        raise AudioInputError(f"'{name}' contains no audio samples (zero length); {SUPPORTED_HINT}")
    return AudioClip(samples=samples, sample_rate=int(sample_rate), source=name)


# ---------------------------------------------------------------------------------------------- soundfile
def _read_soundfile(path: Path, sample_rate: int, max_seconds: float | None) -> np.ndarray | None:
    """Samples, or None when libsndfile cannot read the file (the caller then tries ffmpeg)."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception:  # not a format libsndfile knows: ffmpeg decides
        return None
    if info.samplerate <= 0:
        return None
    if max_seconds is not None and info.duration > max_seconds + _LONG_TOLERANCE_S:
        raise _too_long(path.name, info.duration, max_seconds)
    try:
        data, native_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception:  # corrupt body: ffmpeg is more forgiving and gives a better reason
        return None
    _check_wav_truncation(path, len(data) / float(native_rate) if native_rate else 0.0)
    return _resample(_clean(data), native_rate, sample_rate)


def _check_wav_truncation(path: Path, decoded_s: float) -> None:
    """A RIFF header announces the data size; a file cut short (interrupted upload or copy) holds less."""
    if path.suffix.lower() not in (".wav", ".wave"):
        return
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return
    pos, byte_rate, declared = 12, 0, None
    while pos + 8 <= len(head):
        chunk, size = head[pos:pos + 4], struct.unpack("<I", head[pos + 4:pos + 8])[0]
        if chunk == b"fmt " and pos + 20 <= len(head):
            byte_rate = struct.unpack("<I", head[pos + 16:pos + 20])[0]
        if chunk == b"data":
            declared = size
            break
        pos += 8 + size + (size & 1)
    # Streaming recorders write 0 or 0xFFFFFFFF as a placeholder size: nothing to compare then.
    if not byte_rate or declared in (None, 0, 0xFFFFFFFF, 0x7FFFFFFF):
        return
    announced_s = declared / byte_rate
    if decoded_s < _TRUNCATION_SLACK * announced_s - 0.1:
        raise _truncated(path.name, announced_s, decoded_s)


# ---------------------------------------------------------------------------------------------- ffmpeg
_DURATION_RE = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")


def _read_ffmpeg(path: Path, sample_rate: int, max_seconds: float | None) -> np.ndarray:
    from flap.io.ffmpeg import ffmpeg_executable

    try:
        exe = ffmpeg_executable()
    except FlapError as exc:
        raise AudioInputError(f"cannot decode '{path.name}': {exc}") from None
    cmd = [exe, "-hide_banner", "-nostdin", "-i", str(path), "-map", "0:a:0", "-vn", "-sn", "-dn",
           "-ac", "1", "-ar", str(int(sample_rate))]
    if max_seconds is not None:
        cmd += ["-t", f"{max_seconds + 1.0:.3f}"]  # never decode an hour just to refuse it
    cmd += ["-f", "f32le", "pipe:1"]
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    except subprocess.TimeoutExpired:
        raise AudioInputError(f"decoding '{path.name}' took more than 10 minutes; {SUPPORTED_HINT}") from None
    except OSError as exc:
        raise AudioInputError(f"cannot run ffmpeg to decode '{path.name}' ({exc.strerror or exc})") from None
    log = proc.stderr.decode("utf-8", "replace")
    announced = _announced_duration(log)
    if "matches no streams" in log or "does not contain any stream" in log:
        kind = _input_kind(log)
        raise AudioInputError(f"'{path.name}' has no audio track{kind}; {SUPPORTED_HINT}, or a video with sound")
    samples = np.frombuffer(proc.stdout[: len(proc.stdout) // 4 * 4], dtype="<f4")
    if proc.returncode != 0 and samples.size == 0:
        raise AudioInputError(f"'{path.name}' is not a readable audio file ({_reason(log)}); {SUPPORTED_HINT}")
    decoded_s = samples.size / float(sample_rate)
    if max_seconds is not None and decoded_s > max_seconds + _LONG_TOLERANCE_S:
        raise _too_long(path.name, announced if announced else None, max_seconds)
    if (announced and "Estimating duration from bitrate" not in log and samples.size
            and decoded_s < _TRUNCATION_SLACK * announced - 0.1 and _looks_damaged(log)):
        raise _truncated(path.name, announced, decoded_s)
    return _clean(samples)


def _announced_duration(log: str) -> float | None:
    match = _DURATION_RE.search(log)
    if not match:
        return None
    h, m, s = match.groups()
    return int(h) * 3600 + int(m) * 60 + float(s)


def _input_kind(log: str) -> str:
    if re.search(r"Stream #\d+:\d+.*: Video: (mjpeg|png|bmp|webp|gif|tiff)", log):
        return " (it is an image)"
    if re.search(r"Stream #\d+:\d+.*: Video:", log):
        return " (it is a video without sound)"
    return ""


def _looks_damaged(log: str) -> bool:
    low = log.lower()
    return any(key in low for key in ("corrupt", "invalid data", "truncat", "error while decoding",
                                       "incomplete", "end of file", "partial file", "invalid frame"))


def _reason(log: str) -> str:
    """The most telling ffmpeg line, without addresses and prefixes, for the user's message."""
    lines = [re.sub(r"^\[[^\]]*\]\s*", "", ln).strip() for ln in log.splitlines()]
    lines = [ln for ln in lines if ln and not ln.lower().startswith(("input #", "duration", "stream #", "metadata"))]
    for key in ("Invalid data", "could not find codec", "Unknown", "moov atom not found", "End of file", "error"):
        for ln in lines:
            if key.lower() in ln.lower():
                return _trim_path(ln)
    return _trim_path(lines[-1]) if lines else "ffmpeg could not decode it"


def _trim_path(line: str) -> str:
    line = re.sub(r"(/[^\s:]+)+/", "", line)  # keep file names, drop folders
    return line.rstrip(".")[:160]


# ---------------------------------------------------------------------------------------------- helpers
def _too_long(name: str, duration: float | None, max_seconds: float) -> AudioInputError:
    what = f"is {duration:.1f} s long" if duration else "is longer than that"
    return AudioInputError(f"'{name}' {what}; the limit is {max_seconds:g} s. Trim the recording or split it into parts")


def _truncated(name: str, announced: float, decoded: float) -> AudioInputError:
    return AudioInputError(f"'{name}' looks truncated: it announces {announced:.1f} s of audio but only {decoded:.1f} s "
                           "could be read. The file was probably cut short while copying or uploading; export it again")


def _clean(data: np.ndarray) -> np.ndarray:
    """Mix down channels (rows are samples), replace NaN/Inf, clip to [-1, 1], float32."""
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 2:
        data = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    elif data.ndim != 1:
        data = data.reshape(-1)
    if not np.all(np.isfinite(data)):
        data = np.nan_to_num(data, nan=0.0, posinf=1.0, neginf=-1.0)
    return np.clip(data, -1.0, 1.0).astype(np.float32, copy=False)


def _resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """soxr (librosa's own resampler backend): fast and band-limited; preserves duration."""
    if int(rate_in) == int(rate_out) or samples.size == 0:
        return samples
    import soxr

    return np.clip(soxr.resample(samples, int(rate_in), int(rate_out), quality="HQ"), -1.0, 1.0).astype(np.float32)


def resample(clip: AudioClip, sample_rate: int) -> AudioClip:
    """The same clip at another rate."""
    return AudioClip(_resample(clip.samples, clip.sample_rate, sample_rate), int(sample_rate), clip.source)


__all__ = ["AudioClip", "load_audio", "resample", "SOUNDFILE_EXTENSIONS"]
