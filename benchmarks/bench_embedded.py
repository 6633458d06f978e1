"""Speed of the embedded engine on this machine: per-stage times, renderer frames per second, whole job.

    python benchmarks/bench_embedded.py [--portrait examples/portraits/astronaut.jpg] [--seconds 10] [--size 512]

Speech is made with espeak-ng and cut to exactly --seconds.  "warm" numbers are a second job in the same process
(models loaded, as in the app); "cold" is a fresh `python -m flap generate` process, imports included.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEXT = ("The quick brown fox jumps over the lazy dog. We measure how fast a talking portrait is made. "
        "Every stage is timed: the face, the audio, the motion, the frames and the encoding. ")


def make_speech(path: Path, seconds: float) -> Path:
    from flap.io.ffmpeg import ffmpeg_executable

    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), TEXT * 6], check=True)
    subprocess.run([ffmpeg_executable(), "-y", "-loglevel", "error", "-i", str(raw), "-t", f"{seconds}", str(path)], check=True)
    return path


def timed(fn, repeats: int = 3):
    best = float("inf")
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--portrait", default=str(ROOT / "examples/portraits/astronaut.jpg"))
    parser.add_argument("--audio", default=None, help="default: espeak-ng speech cut to --seconds")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from flap.audio.analysis import analyze_audio
    from flap.audio.loading import load_audio
    from flap.audio2motion.embedded import generate_motion
    from flap.engines.embedded import EmbeddedRenderer
    from flap.face.portrait import analyze_portrait
    from flap.io.video import VideoWriter
    from flap.motion.controls import MotionControls, apply_controls
    from flap.pipeline import JobConfig, generate

    work = Path(tempfile.mkdtemp(prefix="flap-bench-"))
    audio = Path(args.audio) if args.audio else make_speech(work / "speech.wav", args.seconds)
    config = JobConfig(size=args.size)
    print(f"machine: {os.cpu_count()} CPU cores; portrait {Path(args.portrait).name}; audio {audio.name}; {args.size}x{args.size} at 25 fps")

    generate(args.portrait, audio, work / "warmup.mp4", config=config)  # loads every model once

    rows = []
    t_portrait, portrait = timed(lambda: analyze_portrait(args.portrait, size=args.size), args.repeats)
    rows.append(("face analysis (detect, mesh, pose, mask)", t_portrait, ""))
    t_audio, analysis = timed(lambda: analyze_audio(load_audio(audio), fps=25.0), args.repeats)
    rows.append(("audio decode + analysis", t_audio, f"{analysis.duration:.2f} s of audio"))
    t_motion, motion = timed(lambda: apply_controls(generate_motion(analysis, seed=0), MotionControls()), args.repeats)
    rows.append(("motion generation + controls", t_motion, f"{motion.num_frames} frames"))
    renderer = EmbeddedRenderer()
    t_prepare, state = timed(lambda: renderer.prepare(portrait), args.repeats)
    rows.append(("renderer prepare (mesh, plate, calibration)", t_prepare, ""))
    t_render, frames = timed(lambda: list(renderer.render_frames(state, motion)), args.repeats)
    rows.append(("render frames (no encoding)", t_render, f"{motion.num_frames / t_render:.0f} frames/s"))

    def encode():
        with VideoWriter(work / "encode.mp4", 25.0, (args.size, args.size), audio_path=audio, num_frames=len(frames)) as writer:
            for frame in frames:
                writer.write(frame)
    t_encode, _ = timed(encode, args.repeats)
    rows.append(("H.264/AAC encoding alone", t_encode, f"{len(frames) / t_encode:.0f} frames/s"))
    t_job, result = timed(lambda: generate(args.portrait, audio, work / "job.mp4", config=config), args.repeats)
    factor = analysis.duration / t_job
    rows.append(("WHOLE JOB, warm (generate())", t_job, f"{factor:.1f}x faster than real time"))

    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "flap", "generate", "--portrait", args.portrait, "--audio", str(audio),
                    "--size", str(args.size), "--out", str(work / "cold.mp4")], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t_cold = time.perf_counter() - start
    rows.append(("WHOLE JOB, cold CLI process (imports, model loading)", t_cold, f"{analysis.duration / t_cold:.1f}x real time"))

    width = max(len(r[0]) for r in rows)
    print(f"{'stage'.ljust(width)}  {'seconds':>8}  note")
    for name, seconds, note in rows:
        print(f"{name.ljust(width)}  {seconds:8.3f}  {note}")
    print("per-stage times inside the warm job: " + ", ".join(f"{k} {v:.3f}s" for k, v in result.timings.items()))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
