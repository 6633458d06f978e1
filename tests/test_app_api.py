"""The named API endpoints through gradio_client against app.py running on localhost, with short Space limits.

Checks the videos (frame rate, frame count, duration against the speech, AAC sound), the motion files, that the
controls reach the output, and that bad inputs come back as clear messages while the app keeps serving.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

from flap.audio.loading import load_audio  # noqa: E402
from flap.io.video import count_frames, probe_video  # noqa: E402
from flap.motion.representation import MotionSequence  # noqa: E402
from flap.webapp.local_server import LocalApp  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ASTRONAUT = REPO / "examples" / "portraits" / "astronaut.jpg"
HOPPER = REPO / "examples" / "portraits" / "grace_hopper.jpg"  # 512 x 600
SCIENCE = REPO / "examples" / "speech" / "science.mp3"
MAX_AUDIO_S = 20

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("app")
    env = {"FLAP_SHARED": "1", "FLAP_MAX_AUDIO_SECONDS": str(MAX_AUDIO_S), "FLAP_MAX_UPLOAD_MB": "3", "FLAP_WARMUP": "0",
           "FLAP_OUTPUT_DIR": str(tmp / "outputs"), "GRADIO_TEMP_DIR": str(tmp / "gradio")}
    app = LocalApp(env=env, log_path=tmp / "app.log").start()
    yield app
    app.stop()


@pytest.fixture(scope="module")
def client(server, tmp_path_factory):
    return Client(server.url, verbose=False, download_files=str(tmp_path_factory.mktemp("downloads")))


@pytest.fixture(scope="module")
def science_seconds() -> float:
    return load_audio(SCIENCE).duration


def check_video(path, seconds: float, fps: float, frames: int, size: tuple[int, int] | None = None):
    info = probe_video(path)
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert abs(info.fps - fps) < 0.01
    assert count_frames(path) == frames == round(seconds * fps)
    assert abs(info.duration - seconds) <= 1.0 / fps + 0.03, (info.duration, seconds)
    if size is not None:
        assert (info.width, info.height) == size


def mean_yaw(motion: MotionSequence) -> float:
    return float(motion.head_euler_degrees()[:, 0].mean())


def test_generate(client, science_seconds):
    video, motion_file, notes = client.predict(portrait=handle_file(ASTRONAUT), audio=handle_file(SCIENCE), yaw=15,
                                               size=256, seed=1, api_name="/generate")
    motion = MotionSequence.load(motion_file)
    check_video(video, science_seconds, 25.0, motion.num_frames, (256, 256))
    assert motion.meta["controls"]["yaw"] == 15.0 and mean_yaw(motion) > 8.0
    assert "frames at 25 fps" in notes and "Done in" in notes


@pytest.fixture(scope="module")
def motions(client):
    """The same speech and seed with and without a yaw offset and a blink rate, through /motion."""
    plain = client.predict(audio=handle_file(SCIENCE), seed=5, api_name="/motion")
    turned = client.predict(audio=handle_file(SCIENCE), seed=5, yaw=-12, blink_rate=40, fps=30, api_name="/motion")
    return plain, turned


def test_motion_controls_reach_the_file(motions, science_seconds):
    (plain_file, arkit, flame, notes), (turned_file, *_rest) = motions
    plain, turned = MotionSequence.load(plain_file), MotionSequence.load(turned_file)
    assert plain.num_frames == round(science_seconds * 25) and turned.num_frames == round(science_seconds * 30)
    assert turned.fps == 30.0
    assert abs((mean_yaw(turned) - mean_yaw(plain)) - (-12.0)) < 1.5
    from flap.webapp.plots import motion_stats

    assert motion_stats(turned).blinks_per_minute > motion_stats(plain).blinks_per_minute
    lines = Path(arkit).read_text().splitlines()
    assert len(lines) == plain.num_frames + 1 and lines[0].startswith("Timecode")
    with np.load(flame) as data:
        assert data["global_pose"].shape == (plain.num_frames, 3)
    assert "Motion:" in notes


def test_render_pastes_back_into_the_photo(client, motions, science_seconds):
    plain_file = motions[0][0]
    video, motion_file, notes = client.predict(portrait=handle_file(HOPPER), motion=handle_file(plain_file),
                                               audio=handle_file(SCIENCE), paste_back=True, size=256, api_name="/render")
    rendered = MotionSequence.load(motion_file)
    check_video(video, science_seconds, 25.0, rendered.num_frames, (512, 600))
    assert "FLAP motion" in notes  # the importer's report of what it read


# ---------------------------------------------------------------------------------------------- bad inputs
@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    from PIL import Image

    folder = tmp_path_factory.mktemp("bad")
    Image.fromarray(np.full((320, 320, 3), 128, np.uint8)).save(folder / "grey.png")
    rng = np.random.default_rng(0)
    (folder / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + rng.integers(0, 255, 4000, dtype=np.uint8).tobytes())
    np.save(folder / "flame_wrong.npy", np.zeros((50, 7), np.float32))
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-stream_loop", "2", "-i", str(SCIENCE), "-c", "copy",
                    str(folder / "long.mp3")], check=True)
    (folder / "huge.wav").write_bytes(b"\0" * (4 * 2**20))
    return folder


BAD_CASES = {
    "no face": (dict(portrait="grey.png", audio=SCIENCE), "/generate", "No face was found in the portrait"),
    "corrupt audio": (dict(portrait=ASTRONAUT, audio="corrupt.wav"), "/generate", "'corrupt.wav' is not a readable audio file"),
    "FLAME of the wrong shape": (dict(audio=SCIENCE, motion="flame_wrong.npy"), "/motion",
                                 "an array of shape (50, 7) is not a known layout"),
    "audio over the limit": (dict(audio="long.mp3"), "/motion", f"the limit is {MAX_AUDIO_S} s"),
    "control out of range": (dict(text="Hello.", pitch=40), "/motion", "pitch must be between -25 and 25"),
    "full model unavailable": (dict(portrait=ASTRONAUT, audio=SCIENCE, engine="full"), "/generate",
                               "Choose the embedded engine"),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_input_gives_the_message_and_the_app_keeps_serving(client, server, bad_files, case):
    kwargs, api_name, message = BAD_CASES[case]
    files = {k: handle_file(v if isinstance(v, Path) else bad_files / v) for k, v in kwargs.items()
             if k in ("portrait", "audio", "motion")}
    with pytest.raises(Exception) as info:
        client.predict(**{**kwargs, **files}, api_name=api_name)
    assert message in str(info.value), str(info.value)
    assert "Traceback" not in str(info.value)
    assert server.alive()


def test_upload_over_the_size_limit_is_refused(client, bad_files):
    with pytest.raises(Exception) as info:
        client.predict(audio=handle_file(bad_files / "huge.wav"), api_name="/motion")
    assert "exceeds the maximum file size" in str(info.value), str(info.value)


def test_a_good_request_after_the_bad_ones(client, server):
    motion_file, *_rest, notes = client.predict(text="Still here and working.", api_name="/motion")
    assert MotionSequence.load(motion_file).num_frames > 10 and "espeak-ng" in notes
    log = server.log_tail(100_000)
    assert "Traceback" not in log, log[-3000:]


def test_docs_snippets_run(server, bad_files, monkeypatch):
    """The gradio_client code in docs/space.md (which the README shows) works as written."""
    import re

    monkeypatch.chdir(REPO)
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "docs" / "space.md").read_text(), re.S)
    assert len(blocks) >= 2
    code = "\n".join(blocks)
    code = code.replace('Client("http://127.0.0.1:7860/")', f'Client("{server.url}", verbose=False)')
    code = code.replace('handle_file("grey.png")', f'handle_file({str(bad_files / "grey.png")!r})')
    namespace: dict = {}
    exec(compile(code, "docs/space.md", "exec"), namespace)
    assert Path(namespace["video"]).is_file() and Path(namespace["flame_npz"]).is_file()


def test_generate_stream_sends_segments_while_it_renders(client, science_seconds):
    """submit() on /generate_stream receives segments before the job ends; they play on their own and together
    last as long as the video that comes last, with its motion and notes."""
    job = client.submit(handle_file(str(ASTRONAUT)), handle_file(str(SCIENCE)), size=256, api_name="/generate_stream")
    seen_before_end = 0
    while not job.done():
        seen_before_end = len(job.outputs())
    outputs = job.outputs()
    assert seen_before_end > 1, "no segment arrived before the job ended"
    segments, final = outputs[:-1], outputs[-1]
    assert len(segments) >= 4 and all(s[1] is None and s[0].endswith(".mp4") for s in segments)
    frames = [count_frames(s[0]) for s in segments]
    assert all(probe_video(s[0]).video_codec == "h264" for s in segments)
    video, motion, notes = final[1], final[2], final[3]
    check_video(video, science_seconds, 25.0, sum(frames), (256, 256))
    assert MotionSequence.load(motion).num_frames == sum(frames)
    assert "Motion:" in notes
