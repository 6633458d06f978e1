"""Settings from the environment: one parser for booleans and numbers, bad values refused with the variable's
name, and the modules that used to read os.environ themselves now see the same values."""

from __future__ import annotations

from pathlib import Path

import pytest

from flap.errors import FlapError
from flap.settings import Settings, SettingsError


def test_defaults_and_one_idea_of_true():
    assert Settings.from_env({}) == Settings()
    for word in ("1", "true", "YES", "on"):
        assert Settings.from_env({"FLAP_COMPILE": word}).compile is True
    for word in ("0", "false", "No", "off", ""):
        assert Settings.from_env({"FLAP_WARMUP": word}).warmup is (word == "")
    assert Settings.from_env({"FLAP_ENCODER_THREADS": "3"}).encoder_threads == 3
    s = Settings.from_env({"FLAP_MODEL": " org/flap ", "FLAP_CACHE_DIR": "/tmp/c", "FLAP_GPU_MAX_SECONDS": "90"})
    assert s.model == "org/flap" and s.cache_dir == Path("/tmp/c") and s.gpu_max_seconds == 90.0


@pytest.mark.parametrize("name, value", [("FLAP_COMPILE", "maybe"), ("FLAP_WARMUP", "2"), ("FLAP_PRELOAD", "yess"),
                                         ("FLAP_KEEP_OUTPUTS_HOURS", "two"), ("FLAP_GPU_BASE_SECONDS", "-5"),
                                         ("FLAP_GPU_MAX_SECONDS", "nan"), ("FLAP_ENCODER_THREADS", "1.5"),
                                         ("FLAP_MAX_OUTPUT_MB", "lots")])
def test_bad_values_are_refused_naming_the_variable(name, value):
    with pytest.raises(SettingsError, match=name) as info:
        Settings.from_env({name: value})
    assert isinstance(info.value, FlapError) and value in str(info.value)


def test_the_modules_read_the_settings(monkeypatch, tmp_path):
    """Values that used to be read (or silently ignored when wrong) module by module now come from Settings."""
    from flap.webapp import files, gpu

    monkeypatch.setenv("FLAP_OUTPUT_DIR", str(tmp_path / "out"))
    assert files.output_root() == tmp_path / "out"
    monkeypatch.setenv("FLAP_KEEP_OUTPUTS_HOURS", "0.5")
    assert files.keep_hours() == 0.5
    for cap, expected in (("100", 100 * 1024 * 1024), ("none", float("inf")), ("0", float("inf"))):
        monkeypatch.setenv("FLAP_MAX_OUTPUT_MB", cap)
        assert files.max_output_bytes() == expected
    monkeypatch.setenv("FLAP_MAX_OUTPUT_MB", "lots")  # used to be logged and ignored
    with pytest.raises(SettingsError, match="FLAP_MAX_OUTPUT_MB"):
        files.max_output_bytes()
    monkeypatch.delenv("FLAP_MAX_OUTPUT_MB")
    monkeypatch.setenv("FLAP_GPU_MAX_SECONDS", "ninety")  # used to fall back to 300 without a word
    with pytest.raises(SettingsError, match="FLAP_GPU_MAX_SECONDS"):
        gpu.gpu_seconds(gpu.GpuJob(kind="generate"))
    monkeypatch.setenv("FLAP_GPU_MAX_SECONDS", "25")
    assert gpu.gpu_seconds(gpu.GpuJob(kind="generate", audio_seconds=60.0)) == 25


def test_the_cli_refuses_a_bad_setting_clearly(tmp_path):
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "flap", "motion", "--audio", str(root / "examples/speech/hello.wav"),
                           "--out", str(tmp_path / "m.npz")], capture_output=True, text=True, cwd=root,
                          env={**os.environ, "FLAP_AUDIO2FLAME": "", "FLAP_MODEL": "", "FLAP_CACHE_DIR": str(tmp_path),
                               "FLAP_COMPILE": "sometimes"})
    assert proc.returncode == 2 and "FLAP_COMPILE must be 1 or 0" in proc.stderr and "Traceback" not in proc.stderr
