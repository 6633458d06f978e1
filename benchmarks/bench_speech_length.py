"""Memory and time against the length of the speech, with its transcript (the README's "per minute of speech").

    .venv/bin/python benchmarks/bench_speech_length.py                   # 1, 2 and 4 minutes, motion and video
    .venv/bin/python benchmarks/bench_speech_length.py --minutes 1 8 --no-video

Each job runs as ``python -m flap`` in its own process; its peak RSS (ru_maxrss of that child, which includes
nothing else) and wall time are printed, best of --repeat.  Speech is espeak-ng reading a repeated sentence, and
the same text is given as the transcript, so forced alignment runs over the whole clip.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SENTENCE = "The quick brown fox jumps over the lazy dog. "
SENTENCE_S = 3.29  # espeak-ng en-us at 150 words per minute


def child_peak_mb(cmd: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS MB) of ``cmd`` run through a fresh Python that reports its child's ru_maxrss."""
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode; "
             "print(code, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True, cwd=REPO, check=True).stdout
    code, seconds, kb = out.split()
    if int(code) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with exit code {code}")
    return float(seconds), int(kb) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 2, 4])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--no-video", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="flap-length-"))
    print(f"machine: {os.cpu_count()} CPUs; python -m flap, embedded engine, transcript given, size {args.size}")
    print(f"{'speech':>8} {'job':>8} {'seconds':>8} {'s per min':>10} {'peak MB':>8}")
    for minutes in args.minutes:
        text = SENTENCE * max(1, round(minutes * 60 / SENTENCE_S))
        wav, transcript = tmp / f"speech-{minutes:g}.wav", tmp / f"speech-{minutes:g}.txt"
        subprocess.run(["espeak-ng", "-s", "150", "-w", str(wav), "--stdin"], input=text.encode(), check=True)
        transcript.write_text(text)
        jobs = {"motion": [sys.executable, "-m", "flap", "motion", "--audio", str(wav), "--transcript", str(transcript),
                           "--out", str(tmp / "m.npz")]}
        if not args.no_video:
            jobs["video"] = [sys.executable, "-m", "flap", "generate", "--portrait", str(REPO / "examples/portraits/astronaut.jpg"),
                             "--audio", str(wav), "--transcript", str(transcript), "--size", str(args.size),
                             "--out", str(tmp / "v.mp4")]
        from flap.audio.loading import load_audio

        seconds_of_speech = load_audio(wav).duration
        for name, cmd in jobs.items():
            runs = [child_peak_mb(cmd) for _ in range(args.repeat)]
            best = min(r[0] for r in runs)
            peak = max(r[1] for r in runs)
            print(f"{seconds_of_speech / 60:7.1f}m {name:>8} {best:8.1f} {best / (seconds_of_speech / 60):10.1f} {peak:8.0f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
