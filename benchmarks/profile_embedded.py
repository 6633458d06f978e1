"""Renderer profile, per-frame CPU time and SHA-256 of rendered frames (for bit-identity checks of speed changes).

    python benchmarks/profile_embedded.py hash|time|cprofile [portraits...]

The speech is 10 s of espeak-ng, made once into FLAP_BENCH_WAV (default /tmp/flap_speech10.wav).
"""
import cProfile
import hashlib
import os
import pstats
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flap.audio.analysis import analyze_audio  # noqa: E402
from flap.audio.loading import load_audio  # noqa: E402
from flap.audio2motion.embedded import generate_motion  # noqa: E402
from flap.engines.embedded import EmbeddedRenderer  # noqa: E402
from flap.face.portrait import analyze_portrait  # noqa: E402
from flap.io.ffmpeg import ffmpeg_executable  # noqa: E402
from flap.motion.controls import MotionControls, apply_controls  # noqa: E402

WAV = Path(os.environ.get("FLAP_BENCH_WAV", "/tmp/flap_speech10.wav"))
TEXT = ("The quick brown fox jumps over the lazy dog. We measure how fast a talking portrait is made. "
        "Every stage is timed: the face, the audio, the motion, the frames and the encoding. ")


def speech_wav() -> Path:
    """10 s of synthetic speech, made once."""
    if not WAV.exists():
        raw = WAV.with_suffix(".raw.wav")
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), TEXT * 6], check=True)
        subprocess.run([ffmpeg_executable(), "-y", "-loglevel", "error", "-i", str(raw), "-t", "10", str(WAV)],
                       check=True)
    return WAV


def frames_hash(renderer, state, motion) -> str:
    h = hashlib.sha256()
    for f in renderer.render_frames(state, motion):
        h.update(f.tobytes())
    return h.hexdigest()[:16]


def cpu_seconds(renderer, state, motion) -> float:
    start = time.process_time()
    list(renderer.render_frames(state, motion))
    return time.process_time() - start


def main() -> None:
    mode = sys.argv[1]
    portraits = sys.argv[2:] or ["examples/portraits/astronaut.jpg"]
    analysis = analyze_audio(load_audio(speech_wav()), fps=25.0)
    renderer = EmbeddedRenderer()
    for p in portraits:
        motions = {"default": apply_controls(generate_motion(analysis, seed=0), MotionControls())}
        if mode == "hash":
            motions["turn"] = apply_controls(generate_motion(analysis, seed=1), MotionControls(
                yaw=25.0, pitch=-10.0, motion_scale=2.0, emotion="happy"))
        state = renderer.prepare(analyze_portrait(p, size=512))
        for name, motion in motions.items():
            if mode == "hash":
                print(Path(p).name, name, motion.num_frames, frames_hash(renderer, state, motion), flush=True)
            elif mode == "time":
                list(renderer.render_frames(state, motion))
                runs = [cpu_seconds(renderer, state, motion) for _ in range(int(os.environ.get("REP", 3)))]
                per_frame = [round(1000 * b / motion.num_frames, 3) for b in runs]
                print(Path(p).name, f"cpu per frame ms: {per_frame}  fps(best) {motion.num_frames / min(runs):.0f}")
            elif mode == "cprofile":
                list(renderer.render_frames(state, motion))
                profile = cProfile.Profile()
                profile.enable()
                list(renderer.render_frames(state, motion))
                profile.disable()
                pstats.Stats(profile).sort_stats("tottime").print_stats(35)


if __name__ == "__main__":
    main()
