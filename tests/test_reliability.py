"""Issue 12 without a server: work bounded by the input, partial files, signals in the CLI, job-folder clean-up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from conftest import make_speech
from flap.audio import alignment, analyze_audio, load_audio
from flap.audio.visemes import viseme_drivers
from flap.errors import InputError
from flap.io import partial

REPO = Path(__file__).resolve().parents[1]
ASTRONAUT = REPO / "examples" / "portraits" / "astronaut.jpg"
FOX = "The quick brown fox jumps over the lazy dog. "


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ---------------------------------------------------------------------------------------------- bounded work
@pytest.fixture(scope="module")
def fox_speech(tmp_path_factory):
    """About 50 s of speech and its transcript."""
    text = FOX * 15
    return make_speech(tmp_path_factory.mktemp("fox") / "fox.wav", text), text


def test_long_speech_is_aligned_in_bounded_pieces(fox_speech, monkeypatch):
    path, text = fox_speech
    clip = load_audio(path)
    assert clip.duration > 2 * alignment.MAX_CHUNK_S
    pieces = []
    align = alignment._align

    def recording(decoder, words, raw):
        pieces.append(len(raw) / 2 / alignment.SAMPLE_RATE)
        return align(decoder, words, raw)

    monkeypatch.setattr(alignment, "_align", recording)
    analysis = analyze_audio(clip, transcript=text)
    assert analysis.phonemes and not analysis.warnings, analysis.warnings
    assert max(pieces) <= alignment.MAX_CHUNK_S + 1e-6 and sum(pieces) > 0.9 * clip.duration
    starts = np.array([p[0] for p in analysis.phonemes])
    assert np.all(np.diff(starts) >= -1e-9) and analysis.phonemes[-1][1] <= clip.duration + 0.05
    words = [p for _, _, p in analysis.phonemes if p not in alignment.NON_SPEECH_PHONES]
    assert len(words) > 0.9 * 15 * 30  # about 30 phones per sentence, all of them placed


def test_viseme_memory_is_flat_in_length():
    """Half an hour of phones: the old (phones x frames) blend needed tens of GB."""
    rng = np.random.default_rng(0)
    seconds, hop = 1800.0, 0.01
    edges = np.cumsum(rng.uniform(0.05, 0.15, int(seconds / 0.1)))
    edges = edges[edges < seconds]
    phones = [(float(a), float(b), p) for a, b, p in zip(edges[:-1], edges[1:], rng.choice(["AA", "M", "F", "IY", "SIL"], len(edges)))]
    tracemalloc.start()
    drivers = viseme_drivers(phones, int(seconds / hop), hop)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert drivers.openness.shape == (int(seconds / hop),) and drivers.closure.max() > 0.5
    assert peak < 200 * 2**20, f"{peak / 2**20:.0f} MB"


def test_a_transcript_far_longer_than_the_speech_is_ignored_before_decoding(speech_wav, monkeypatch):
    def no_decoding(beam):
        raise AssertionError("the aligner was started")

    monkeypatch.setattr(alignment, "_decoder", no_decoding)
    analysis = analyze_audio(load_audio(speech_wav), transcript=(FOX * 500)[:19_990])
    assert analysis.phonemes is None
    assert any("far more" in w and "sound alone" in w for w in analysis.warnings), analysis.warnings


def test_text_to_speak_is_capped_with_or_without_shared_limits():
    from flap.audio.tts import MAX_TEXT_CHARS, clean_text

    assert clean_text(FOX * 10)  # ordinary text passes
    for limit in (None, 10**6):
        with pytest.raises(InputError, match=f"the limit here is {MAX_TEXT_CHARS}"):
            clean_text(FOX * 445, max_chars=limit)


# ---------------------------------------------------------------------------------------------- partial files
def test_sweep_removes_only_partials_whose_writer_is_gone(tmp_path):
    dead = tmp_path / f"clip.part.{dead_pid()}.mp4"
    legacy = tmp_path / "clip.part.mp4"  # from a version without the pid
    other = tmp_path / f"other.part.{dead_pid()}.mp4"
    ours = partial.part_path(tmp_path / "clip.mp4")
    finished = tmp_path / "clip.mp4"
    for path in (dead, legacy, other, ours, finished):
        path.write_bytes(b"x")
    partial.register(ours)
    try:
        assert sorted(partial.sweep(tmp_path, stem="clip")) == sorted([dead, legacy])
        assert other.exists() and ours.exists() and finished.exists()
    finally:
        partial.unregister(ours)
    assert sorted(partial.sweep(tmp_path)) == sorted([other, ours])  # no longer registered: nobody writes it
    assert not ours.exists() and not other.exists() and finished.exists()


def test_a_new_writer_of_the_same_file_removes_what_a_killed_one_left(tmp_path):
    from flap.io.video import VideoWriter

    stale = tmp_path / f"out.part.{dead_pid()}.mp4"
    stale.write_bytes(b"half a video")
    with VideoWriter(tmp_path / "out.mp4", 25, (64, 64)) as writer:
        for _ in range(3):
            writer.write(np.zeros((64, 64, 3), np.uint8))
    assert not stale.exists() and (tmp_path / "out.mp4").stat().st_size > 0
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_a_failed_write_leaves_nothing(tmp_path):
    from flap.io.video import VideoWriter

    with pytest.raises(RuntimeError):
        with VideoWriter(tmp_path / "out.mp4", 25, (64, 64)) as writer:
            writer.write(np.zeros((64, 64, 3), np.uint8))
            raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []


def test_a_stopped_write_ends_even_when_its_queue_no_longer_wakes_the_writer(tmp_path):
    """A Ctrl-C landing inside a queue call can leave the queue's waiters inconsistent (CI hung on it for good):
    unwinding must stop the writer thread and remove the file without relying on the queue."""
    import threading

    from flap.io.video import VideoWriter

    outcome = []

    def stopped_job():
        try:
            with VideoWriter(tmp_path / "out.mp4", 25, (64, 64)) as writer:
                writer.write(np.zeros((64, 64, 3), np.uint8))
                writer._queue.put = lambda *a, **k: threading.Event().wait()  # a put that never returns
                raise KeyboardInterrupt
        except KeyboardInterrupt:
            outcome.append("unwound")

    job = threading.Thread(target=stopped_job, daemon=True)
    job.start()
    job.join(timeout=20)
    assert outcome == ["unwound"], "the stopped write hung"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_stopped_mid_render_leaves_nothing_and_says_one_line(tmp_path, sig):
    speech = make_speech(tmp_path / "speech.wav", FOX * 6)
    out = tmp_path / "out" / "video.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "flap", "generate", "--portrait", str(ASTRONAUT), "--audio", str(speech),
                             "--out", str(out)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while not list(out.parent.glob("*.part*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    time.sleep(0.5)  # some frames in
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "stopped: nothing was written (the partial output was removed)"
    assert list(out.parent.iterdir()) == []


# ---------------------------------------------------------------------------------------------- job folders
def test_clean_up_never_touches_a_running_job(tmp_path, monkeypatch):
    from flap.webapp import files

    monkeypatch.setenv("FLAP_OUTPUT_DIR", str(tmp_path))
    with files.job_scope():
        running = files.new_job_dir("generate")
        (running / "flap.mp4").write_bytes(b"x" * 1000)
        os.utime(running, (time.time() - 10 * 3600,) * 2)
        assert files.clean_up(tmp_path, max_age_hours=0, max_bytes=0) == []
        monkeypatch.setenv("FLAP_KEEP_OUTPUTS_HOURS", "0")
        files.new_job_dir("motion")  # a new request cleans up, and must spare the running one
        assert running.exists() and (running / "flap.mp4").exists()
    os.utime(running, (time.time() - 10 * 3600,) * 2)
    assert running in files.clean_up(tmp_path, max_age_hours=1)


def test_clean_up_caps_the_total_size_oldest_first(tmp_path):
    from flap.webapp import files

    now = time.time()
    folders = []
    for age_h in (5, 4, 3, 0):
        folder = tmp_path / f"job-{age_h}"
        folder.mkdir()
        (folder / "flap.mp4").write_bytes(b"x" * 2**20)
        os.utime(folder, (now - age_h * 3600,) * 2)
        folders.append(folder)
    (folders[0] / files.RUNNING_MARKER).write_text(str(os.getpid()))  # the oldest is still running
    removed = files.clean_up(tmp_path, max_age_hours=24, max_bytes=2.5 * 2**20, now=now)
    assert removed == [folders[1], folders[2]]  # oldest finished first, until under the cap
    assert folders[0].exists() and folders[3].exists()


def test_a_killed_servers_running_markers_and_partials_are_swept(tmp_path):
    from flap.webapp import files

    folder = tmp_path / "20260101-000000-generate-abcd"
    folder.mkdir()
    (folder / files.RUNNING_MARKER).write_text(str(dead_pid()))
    part = folder / f"flap.part.{dead_pid()}.mp4"
    part.write_bytes(b"half")
    (folder / "speech.wav").write_bytes(b"kept")
    assert not files.is_running(folder)
    assert files.sweep_at_start(tmp_path) == [part]
    assert sorted(p.name for p in folder.iterdir()) == ["speech.wav"]
