"""Shared test inputs, all made by the tests: speech from espeak-ng and a public-domain portrait (scikit-image)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

SPEECH_TEXT = ("Hello there. This is a short test of the talking portrait system. "
               "It should move the lips in time with the words, and rest when I pause.")


def make_speech(path: Path, text: str = SPEECH_TEXT, voice: str = "en-us", speed: int = 150) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt install espeak-ng)")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True)
    return path


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory) -> Path:
    """About 8 s of English speech with pauses, 22.05 kHz mono WAV."""
    return make_speech(tmp_path_factory.mktemp("speech") / "speech.wav")


@pytest.fixture(scope="session")
def speech_text() -> str:
    return SPEECH_TEXT


@pytest.fixture(scope="session")
def astronaut_rgb() -> np.ndarray:
    """Eileen Collins, NASA portrait (public domain, examples/portraits), 512x512 RGB uint8."""
    from PIL import Image

    return np.asarray(Image.open(Path(__file__).resolve().parents[1] / "examples/portraits/astronaut.jpg").convert("RGB"))


@pytest.fixture(scope="session")
def astronaut_png(tmp_path_factory, astronaut_rgb) -> Path:
    from PIL import Image

    path = tmp_path_factory.mktemp("portrait") / "astronaut.png"
    Image.fromarray(astronaut_rgb).save(path)
    return path


@pytest.fixture(scope="module")
def torch_test_settings():
    """One CPU thread (tiny models run ~10x faster on one thread than on two busy cores, whose OpenMP threads wait
    on each other) and no TF32 on CUDA (so that comparisons across batch sizes see fp32 rounding, not TF32's).
    A torch test module applies it with ``pytestmark = pytest.mark.usefixtures("torch_test_settings")``."""
    import torch

    threads = torch.get_num_threads()
    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.set_num_threads(1)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.set_num_threads(threads)
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
