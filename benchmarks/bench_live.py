"""Latency of flap.live.LiveSession with speech pushed at real-time pace, as a microphone would.

    python benchmarks/bench_live.py [--portrait examples/portraits/astronaut.jpg] [--seconds 10] [--piece-ms 20]

Audio goes in --piece-ms at a time, each piece when the wall clock reaches its end (as a sound card delivers
it).  For every frame, latency = when the frame came out - when the audio at the middle of its interval went in:
half a frame + the generator's lookahead + waiting for the piece + compute.  Also prints the compute per push and
the quality figures that issue 11 compares with the offline generator (mouth-loudness correlation, blinks per
minute, head motion).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--portrait", default=str(ROOT / "examples/portraits/astronaut.jpg"))
    parser.add_argument("--audio", default=None, help="default: espeak-ng speech cut to --seconds")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--piece-ms", type=float, default=20.0, help="audio piece size (10-100 ms)")
    parser.add_argument("--fps", type=float, default=25.0)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()

    import tempfile

    from bench_embedded import make_speech
    from flap.audio.analysis import analyze_audio
    from flap.audio.loading import load_audio
    from flap.audio2motion.embedded import generate_motion
    from flap.live import LiveSession

    with tempfile.TemporaryDirectory() as tmp:
        audio = args.audio or make_speech(Path(tmp) / "speech.wav", args.seconds)
        clip = load_audio(audio, sample_rate=16000)
    rate = clip.sample_rate
    start = time.perf_counter()
    session = LiveSession(args.portrait, fps=args.fps, size=args.size)
    print(f"setup (portrait analysis + prepare): {time.perf_counter() - start:.2f} s")
    session.preview()  # the first render's caches, before the clock starts, as an app would

    piece = max(1, int(rate * args.piece_ms / 1000))
    pushed_at: list[tuple[float, float]] = []  # (audio end time in the clip, wall time it went in)
    frames: list[tuple[float, float]] = []  # (frame time, wall time it came out)
    compute: list[float] = []
    t0 = time.perf_counter()
    for begin in range(0, len(clip.samples), piece):
        chunk = clip.samples[begin: begin + piece]
        audio_end = (begin + len(chunk)) / rate
        wait = t0 + audio_end - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        went_in = time.perf_counter()
        pushed_at.append((audio_end, went_in))
        out = session.push(chunk, rate)
        done = time.perf_counter()
        compute.append(done - went_in)
        frames += [(f.time_s, done) for f in out]
    tail = session.close()

    ends = np.array([a for a, _ in pushed_at])
    walls = np.array([w for _, w in pushed_at])
    latencies = []
    for frame_time, out_wall in frames:
        middle = frame_time + 0.5 / args.fps
        k = min(int(np.searchsorted(ends, middle)), len(ends) - 1)  # the piece that carried the frame's middle
        latencies.append(out_wall - walls[k])
    lat = np.array(latencies) * 1000
    comp = np.array(compute) * 1000
    print(f"audio: {len(clip.samples) / rate:.1f} s in {args.piece_ms:g} ms pieces at real-time pace; "
          f"{len(frames)} frames live + {len(tail)} at close; lookahead {session.generator.config.lookahead_s * 1000:.0f} ms")
    print(f"latency audio->frame ms: median {np.median(lat):.0f}  p95 {np.percentile(lat, 95):.0f}  max {lat.max():.0f}")
    print(f"compute per push ms: median {np.median(comp):.1f}  p95 {np.percentile(comp, 95):.1f}  max {comp.max():.1f}"
          f"  (per frame {comp.sum() / max(len(frames), 1):.1f})")
    duration = len(clip.samples) / rate
    print(f"compute / audio duration: {comp.sum() / 1000 / duration:.2f}  (below 1 keeps up with speech)")

    # Quality against the offline generator on the same speech.
    from flap.audio2motion.causal import CausalMotionGenerator
    from flap.motion.representation import MotionSequence

    analysis = analyze_audio(clip, fps=args.fps)
    offline = generate_motion(analysis)
    gen = CausalMotionGenerator(args.fps)
    parts = [gen.push(clip.samples[b: b + piece], rate) for b in range(0, len(clip.samples), piece)] + [gen.flush()]
    live = MotionSequence.concatenate([p for p in parts if p is not None])
    n = min(live.num_frames, offline.num_frames)

    def corr(m):
        return float(np.corrcoef(m.jaw_opening()[:n], analysis.loudness[:n])[0, 1])

    def blinks(m):
        closed = (m.eyelids[:n, 0] > 0.5).astype(int)
        return int((np.diff(closed) == 1).sum()) * 60.0 / (n / args.fps)

    print(f"mouth-loudness correlation: live {corr(live):.3f}  offline {corr(offline):.3f}")
    print(f"blinks per minute: live {blinks(live):.1f}  offline {blinks(offline):.1f}  (requested 17)")
    for name, m in (("live", live), ("offline", offline)):
        e = m.head_euler_degrees()[:n]
        print(f"head {name}: std yaw/pitch/roll {np.round(e.std(0), 2).tolist()} deg, "
              f"frame-to-frame {np.round(np.abs(np.diff(e, axis=0)).mean(0), 3).tolist()} deg")


if __name__ == "__main__":
    main()
