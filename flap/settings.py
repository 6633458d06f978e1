"""FLAP's settings from the environment, read in one place, with one idea of "true" and of a number.

``Settings.from_env()`` parses every variable FLAP reads (bad values are refused with a SettingsError naming the
variable and what it accepts); ``settings()`` is that object for this process's environment right now (read anew
each time, so a test's or a Space's change is seen; it is cheap).  The app's limits (FLAP_MAX_*, FLAP_SHARED,
...) live in flap.webapp.limits.SpaceLimits, built with the same parsers.

=============================  =================================================================  =============
variable                       meaning                                                            default
=============================  =================================================================  =============
FLAP_MODEL                     full model weights: a Hub repo id or a folder                      -
HF_TOKEN                       token for private or gated Hub repos                               -
HF_HUB_OFFLINE                 never ask the Hub                                                  0
FLAP_COMPILE                   torch.compile the full model's denoiser (first video waits)        0
FLAP_AOT                       the full model's ahead-of-time compiled artifacts (folder; 0: off) weights/aot
FLAP_AUDIO2FLAME               trained Audio-to-FLAME weights (folder or Hub id)                  -
FLAP_FLAME_MODEL               FLAME model file (.pkl / .npz)                                     -
FLAP_FLAME_REPO, _FILE         FLAME model in a private Hub repo, and its file name               -
FLAP_FLAME_EYELIDS             folder with l_eyelid.npy / r_eyelid.npy                            model folder
FLAP_FLAME_MP_EMBEDDING        FLAME <-> MediaPipe embedding file                                 computed
FLAP_CACHE_DIR                 FLAP's disk cache                                                  ~/.cache/flap
FLAP_OUTPUT_DIR                the app's per-request output folders                               temp dir
FLAP_KEEP_OUTPUTS_HOURS        age at which the app's output folders are removed                  2
FLAP_MAX_OUTPUT_MB             total size of the app's output folders (0 or "none": no cap)       2048
FLAP_WARMUP                    load the face models etc. in the background at app start           1
FLAP_PRELOAD                   on ZeroGPU, load the full model at start-up                        1
FLAP_ENCODER_THREADS           x264's threads (0: x264's choice)                                  1 on <= 2 cores, else 0
SPACES_ZERO_GPU                set by Hugging Face on ZeroGPU Spaces                              0
FLAP_GPU_BASE_SECONDS          ZeroGPU duration estimate: fixed part                              30
FLAP_GPU_SECONDS_PER_FRAME_STEP  ... per frame and sampling step at 512 px, eager                 0.008
FLAP_GPU_SECONDS_PER_FRAME_STEP_COMPILED  ... the same with AOT artifacts loaded                 0.006
FLAP_GPU_MAX_SECONDS           ... upper bound                                                    300
=============================  =================================================================  =============
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from flap.errors import FlapError

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


class SettingsError(FlapError, ValueError):
    """An environment variable has a value FLAP cannot use; the message names it and what it accepts."""


def env_flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """1/0, true/false, yes/no, on/off (any case); empty or unset: ``default``; anything else is refused."""
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise SettingsError(f"{name} must be 1 or 0 (true/false); got '{env[name]}'")


def env_number(env: Mapping[str, str], name: str, default: float | None, kind: type = float,
               minimum: float | None = 0.0) -> float | int | None:
    """A number (``kind`` int or float, at least ``minimum``); empty or unset: ``default``."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number; got '{raw}'") from None
    if not math.isfinite(value) or (minimum is not None and value < minimum):
        raise SettingsError(f"{name} must be a number of at least {minimum:g}; got '{raw}'")
    if kind is int:
        if value != int(value):
            raise SettingsError(f"{name} must be a whole number; got '{raw}'")
        return int(value)
    return value


def env_cap(env: Mapping[str, str], name: str, default: float | None) -> float | None:
    """A cap: a number, where 0, 'none', 'unlimited' or 'off' mean no cap (None); empty or unset: ``default``."""
    if env.get(name, "").strip().lower() in ("none", "unlimited", "off"):
        return None
    value = env_number(env, name, default)
    return None if value == 0 else value


def env_text(env: Mapping[str, str], name: str) -> str | None:
    """The stripped value, or None when unset or blank."""
    return env.get(name, "").strip() or None


@dataclass(frozen=True)
class Settings:
    """Everything FLAP reads from the environment (the app's limits aside: flap.webapp.limits)."""

    model: str | None = None
    hf_token: str | None = None
    hub_offline: bool = False
    compile: bool = False
    aot: str | None = None
    audio2flame: str | None = None
    flame_model: str | None = None
    flame_repo: str | None = None
    flame_file: str | None = None
    flame_eyelids: str | None = None
    flame_mp_embedding: str | None = None
    cache_dir: Path = Path("~/.cache/flap").expanduser()
    output_dir: str | None = None
    keep_outputs_hours: float = 2.0
    max_output_mb: float | None = 2048.0  # None: no cap
    warmup: bool = True
    preload: bool = True
    encoder_threads: int | None = None  # None: flap.io.video.encoder_threads decides from the core count
    zero_gpu: bool = False
    gpu_base_seconds: float = 30.0
    # measured on an H200 at 20 fast steps (docs/full-model.md): eager 0.131 s/frame, AOT 0.093 s/frame on long
    # videos, i.e. 0.0066 and 0.0047 s per frame-step; a quarter more, since too short an estimate cuts a job off
    gpu_seconds_per_frame_step: float = 0.008
    gpu_seconds_per_frame_step_compiled: float = 0.006
    gpu_max_seconds: float = 300.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        d = cls()
        cache = env_text(env, "FLAP_CACHE_DIR")
        return cls(
            model=env_text(env, "FLAP_MODEL"),
            hf_token=env_text(env, "HF_TOKEN"),
            hub_offline=_foreign_flag(env, "HF_HUB_OFFLINE"),
            compile=env_flag(env, "FLAP_COMPILE", d.compile),
            aot=env_text(env, "FLAP_AOT"),
            audio2flame=env_text(env, "FLAP_AUDIO2FLAME"),
            flame_model=env_text(env, "FLAP_FLAME_MODEL"),
            flame_repo=env_text(env, "FLAP_FLAME_REPO"),
            flame_file=env_text(env, "FLAP_FLAME_FILE"),
            flame_eyelids=env_text(env, "FLAP_FLAME_EYELIDS"),
            flame_mp_embedding=env_text(env, "FLAP_FLAME_MP_EMBEDDING"),
            cache_dir=Path(cache).expanduser() if cache else d.cache_dir,
            output_dir=env_text(env, "FLAP_OUTPUT_DIR"),
            keep_outputs_hours=env_number(env, "FLAP_KEEP_OUTPUTS_HOURS", d.keep_outputs_hours),
            max_output_mb=env_cap(env, "FLAP_MAX_OUTPUT_MB", d.max_output_mb),
            warmup=env_flag(env, "FLAP_WARMUP", d.warmup),
            preload=env_flag(env, "FLAP_PRELOAD", d.preload),
            encoder_threads=env_number(env, "FLAP_ENCODER_THREADS", None, kind=int),
            zero_gpu=_foreign_flag(env, "SPACES_ZERO_GPU"),
            gpu_base_seconds=env_number(env, "FLAP_GPU_BASE_SECONDS", d.gpu_base_seconds),
            gpu_seconds_per_frame_step=env_number(env, "FLAP_GPU_SECONDS_PER_FRAME_STEP", d.gpu_seconds_per_frame_step),
            gpu_seconds_per_frame_step_compiled=env_number(env, "FLAP_GPU_SECONDS_PER_FRAME_STEP_COMPILED",
                                                           d.gpu_seconds_per_frame_step_compiled),
            gpu_max_seconds=env_number(env, "FLAP_GPU_MAX_SECONDS", d.gpu_max_seconds, minimum=1.0),
        )


def settings() -> Settings:
    """The settings of this process's environment as it is now."""
    return Settings.from_env()


def _foreign_flag(env: Mapping[str, str], name: str) -> bool:
    """A variable another tool sets (Hugging Face's): its truthy words ('t' too) mean true, anything else false."""
    return env.get(name, "").strip().lower() in (*TRUE, "t")
