"""flap.streaming: the segment plan, segments that decode and add up to the video, the full MP4 made of the same
encoding, and nothing left behind when the consumer stops."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from flap.io.frames import FrameStream, write_video
from flap.io.video import count_frames, probe_video, read_frames
from flap.streaming import SegmentPlan, write_segments

FPS = 25.0


def frames(n: int, size=(96, 64)):
    """Frames whose brightness encodes their index (decoded frames can be matched to their source)."""
    w, h = size
    for i in range(n):
        frame = np.zeros((h, w, 3), np.uint8)
        frame[:] = (i * 5) % 256
        frame[: h // 2, : w // 2, 0] = 255 - (i * 5) % 256
        yield frame


def stream(n: int, audio=None) -> FrameStream:
    return FrameStream(frames(n), FPS, (96, 64), n, audio)


def video_packets(path) -> list[str]:
    """The video stream's packets (size and checksum) in decoding order."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=size",
                          "-show_data_hash", "crc32", "-of", "csv=p=0", str(path)], capture_output=True, text=True, check=True)
    return out.stdout.split()


def stream_duration(path, kind: str = "v") -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", f"{kind}:0", "-show_entries", "stream=duration",
                          "-of", "csv=p=0", str(path)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def test_plan_grows_then_steadies():
    cuts = SegmentPlan().cuts(200, FPS)
    lengths = np.diff([0, *cuts, 200]) / FPS
    assert list(lengths[:4]) == [0.2, 0.4, 0.8, 1.0]
    assert set(lengths[3:-1]) == {1.0} and 0 < lengths[-1] <= 1.0
    assert SegmentPlan().cuts(3, FPS) == []  # a video shorter than the first segment is one segment
    assert SegmentPlan(growing=(0.01,)).cuts(10, FPS)[0] == 1  # never an empty segment


@pytest.mark.parametrize("with_audio", [False, True])
def test_segments_decode_and_add_up_to_the_full_video(tmp_path, speech_wav, with_audio):
    n = 90
    out = tmp_path / "clip.mp4"
    got = []
    for segment in write_segments(stream(n, speech_wav if with_audio else None), out, keep_segments=True):
        assert segment.path.is_file()  # ready when yielded
        got.append(segment)
    assert [s.num_frames for s in got] == [5, 10, 20, 25, 25, 5]
    assert [s.first_frame for s in got] == [0, 5, 15, 35, 60, 85]
    decoded = [read_frames(s.path) for s in got]
    assert [len(d) for d in decoded] == [s.num_frames for s in got]
    assert sum(stream_duration(s.path) for s in got) == pytest.approx(n / FPS, abs=1e-3)
    # The full MP4 is the same encoding: its video packets are the segments' packets, in order.
    assert count_frames(out) == n
    assert video_packets(out) == [p for s in got for p in video_packets(s.path)]
    full = read_frames(out)
    assert np.array_equal(full, np.concatenate(decoded))
    source = np.stack(list(frames(n)))
    assert np.abs(full.astype(int) - source).mean() < 3.0  # and it shows the frames that went in
    info = probe_video(out)
    assert (info.audio_codec == "aac") == with_audio
    if with_audio:
        assert probe_video(got[0].path).audio_codec == "alac"
        # The sound adds up too (each segment's runs at most one ALAC packet, 85 ms, past its picture).
        assert sum(stream_duration(s.path, "a") for s in got) == pytest.approx(n / FPS, abs=0.09)
    assert not list(tmp_path.glob("*.part*")) and not list(tmp_path.glob("*.csv"))


def test_segments_are_removed_once_taken_unless_kept(tmp_path):
    out = tmp_path / "clip.mp4"
    previous = None
    for segment in write_segments(stream(40), out):
        if previous is not None:
            assert not previous.exists()
        previous = segment.path
    assert out.is_file() and sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_a_consumer_that_stops_leaves_nothing(tmp_path):
    rendered = []

    def slow_frames():
        for i, frame in enumerate(frames(500)):
            rendered.append(i)
            yield frame

    out = tmp_path / "clip.mp4"
    segments = write_segments(FrameStream(slow_frames(), FPS, (96, 64), 500), out)
    first = next(segments)
    assert first.index == 0
    segments.close()  # the client went away
    assert list(tmp_path.iterdir()) == []
    assert len(rendered) < 100  # rendering stayed a couple of segments ahead and stopped


def test_an_unwanted_stream_stops_by_itself(tmp_path):
    out = tmp_path / "clip.mp4"
    wanted = [True]
    segments = write_segments(stream(500), out, wanted=lambda: wanted[0])
    next(segments)
    wanted[0] = False  # nobody asks for more and the client is gone: the renderer notices while it waits
    import time

    deadline = time.monotonic() + 10
    while list(tmp_path.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(Exception):
        next(segments)


def test_write_video_writes_the_whole_stream(tmp_path):
    path = write_video(stream(30), tmp_path / "whole.mp4")
    assert count_frames(path) == 30
