"""Fidelity of the embedded engine, measured on produced videos with the face tracker (and dlib for identity).

    python benchmarks/eval_fidelity.py [--portrait PATH ...] [--quick]

For every portrait: requested yaw/pitch/roll offsets vs measured; blink count over 60 s vs the requested rate;
mouth opening vs speech loudness (Pearson) and closure in silences; identity distance (dlib, same person < 0.6);
change of background pixels far from the head.  Prints a table with the targets; exit code 1 if any fails.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LONG_TEXT = ("Good morning everyone. Today I want to talk about how we measure things. "
             "First, we decide what matters. Then we choose a method, and we test it carefully. "
             "Numbers alone are not enough; we must also look at the results with our own eyes. "
             "When something fails, we write it down, we learn from it, and we try again. ")


def speech(path: Path, text: str, seconds: float | None = None, voice: str = "en-us") -> Path:
    from flap.io.ffmpeg import ffmpeg_executable

    raw = path.with_name(path.stem + ".raw.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), text], check=True)
    cmd = [ffmpeg_executable(), "-y", "-loglevel", "error", "-i", str(raw)]
    if seconds:
        cmd += ["-af", "apad", "-t", f"{seconds}"]
    subprocess.run(cmd + [str(path)], check=True)
    return path


def speech_with_pauses(path: Path) -> Path:
    """Three sentences separated by 1.2 s silences, with silence before and after: for lip sync and closure."""
    from flap.io.ffmpeg import ffmpeg_executable

    parts = []
    for i, text in enumerate(("Hello, my name is Flap and I can talk.", "Between sentences, my mouth should close.",
                              "Now I stop speaking, and I rest.")):
        parts.append(speech(path.with_name(f"part{i}.wav"), text))
    inputs, filters = [], []
    for i, part in enumerate(parts):
        inputs += ["-i", str(part)]
        filters.append(f"[{i}:a]aresample=22050,apad=pad_dur=1.2[a{i}]")
    chain = "".join(f"[a{i}]" for i in range(len(parts)))
    graph = ";".join(filters) + f";anullsrc=r=22050:cl=mono,atrim=0:0.8[lead];[lead]{chain}concat=n={len(parts) + 1}:v=0:a=1[out]"
    subprocess.run([ffmpeg_executable(), "-y", "-loglevel", "error", *inputs, "-filter_complex", graph, "-map", "[out]", "-ac", "1", str(path)], check=True)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--portrait", nargs="*", default=[str(ROOT / "examples/portraits/astronaut.jpg"),
                                                         str(ROOT / "examples/portraits/grace_hopper.jpg")])
    parser.add_argument("--audio", default=None, help="speech for lip sync and identity (default: espeak-ng sentences with pauses)")
    parser.add_argument("--quick", action="store_true", help="skip the 60 s blink runs")
    args = parser.parse_args()

    from flap.audio.loading import load_audio
    from flap.evaluation import fidelity as F
    from flap.face.portrait import analyze_portrait
    from flap.motion.controls import MotionControls
    from flap.pipeline import JobConfig, generate

    work = Path(tempfile.mkdtemp(prefix="flap-eval-"))
    short = speech(work / "short.wav", "One two three four five six seven eight.", seconds=4.0)
    long = speech(work / "long.wav", LONG_TEXT * 3, seconds=60.0)
    args.audio = args.audio or str(speech_with_pauses(work / "pauses.wav"))
    clip = load_audio(args.audio)
    failures = 0
    rows: list[tuple[str, str, str, str]] = []

    def check(portrait: str, metric: str, value: str, ok: bool, target: str) -> None:
        nonlocal failures
        failures += not ok
        rows.append((Path(portrait).stem, metric, value, ("ok  " if ok else "FAIL") + "  " + target))

    for portrait in args.portrait:
        base = generate(portrait, short, work / "base.mp4", controls=MotionControls(motion_scale=0.0))
        base_track, _ = F.track_video(base.video)
        for axis, value in (("yaw", 20), ("yaw", -20), ("pitch", 15), ("pitch", -15), ("roll", 15), ("roll", -15)):
            controls = MotionControls(motion_scale=0.0, **{axis: value})
            out = generate(portrait, short, work / f"{axis}{value}.mp4", controls=controls)
            track, _ = F.track_video(out.video)
            measured = F.pose_offset(track, base_track)[("yaw", "pitch", "roll").index(axis)]
            check(portrait, f"{axis} {value:+d} deg", f"{measured:+.1f}", abs(measured - value) <= 3.0, "within 3 deg")

        if not args.quick:
            for rate in (0, 10, 20, 40):
                out = generate(portrait, long, work / f"blink{rate}.mp4", controls=MotionControls(blink_rate=rate))
                track, _ = F.track_video(out.video)
                count = F.blinks_in(track, 25.0)
                check(portrait, f"blinks/60 s at {rate}/min", str(count), abs(count - rate) <= 0.2 * rate,
                      "within 20%" if rate else "none")

        out = generate(portrait, args.audio, work / "speech.mp4", config=JobConfig())
        track, frames = F.track_video(out.video)
        sync = F.lip_sync(track, clip.samples, clip.sample_rate, 25.0)
        check(portrait, "mouth vs loudness Pearson", f"{sync.pearson:.2f}", sync.pearson >= 0.5, ">= 0.5")
        check(portrait, f"closed mouth in silence ({sync.silent_frames} fr)", f"{sync.closed_in_silence:.0%}",
              sync.closed_in_silence >= 0.9, ">= 90% of silent frames")
        analysis = analyze_portrait(portrait)
        try:
            from flap.evaluation.identity import SAME_PERSON_DISTANCE, identity_distance

            picks = np.linspace(0, len(frames) - 1, 8).astype(int)
            distances = [identity_distance(analysis.crop, frames[i]) for i in picks]
            worst = max(distances)
            check(portrait, "identity distance (dlib), worst of 8", f"{worst:.2f}", worst < SAME_PERSON_DISTANCE, "< 0.6 same person")
        except RuntimeError as exc:
            rows.append((Path(portrait).stem, "identity", "skipped", str(exc)))
        mean_bg, max_bg = F.background_change(frames, analysis.crop, analysis.person_mask)
        check(portrait, "background change far from head", f"{mean_bg:.2f} (max {max_bg:.2f})",
              not np.isfinite(max_bg) or max_bg < 2.5, "mean abs < 2.5 levels (H.264)")

    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        print(f"{r[0].ljust(widths[0])}  {r[1].ljust(widths[1])}  {r[2].rjust(widths[2])}  {r[3]}")
    print(f"\n{failures} check(s) failed" if failures else "\nall checks passed")
    shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
