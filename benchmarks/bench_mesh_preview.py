"""Speed of the FLAME mesh preview shown next to the video (flap.flame.preview.render_mesh_preview).

    python benchmarks/bench_mesh_preview.py [--frames 30] [--size 128] [--repeats 3]

Uses the synthetic FLAME stand-in (no FLAME data needed) and a jaw opening over the clip; prints milliseconds per
frame (best of --repeats) against the 40 ms of real time at 25 fps.  This was a test's assert until timings moved
out of the tests.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from flap.flame.model import build_model
    from flap.flame.preview import render_mesh_preview
    from flap.flame.synthetic import make_synthetic_flame
    from flap.motion import MotionSequence

    model = build_model(make_synthetic_flame(seed=2))
    jaw = np.zeros((args.frames, 3))
    jaw[:, 0] = np.linspace(0, 0.35, args.frames)
    motion = MotionSequence.neutral(args.frames).replace(jaw=jaw)
    best = float("inf")
    for _ in range(args.repeats):
        start = time.perf_counter()
        frames = list(render_mesh_preview(motion, model, size=args.size))
        best = min(best, (time.perf_counter() - start) / len(frames))
    print(f"mesh preview {args.size}x{args.size}: {best * 1000:.1f} ms per frame (best of {args.repeats}; "
          f"real time at 25 fps is 40 ms)")


if __name__ == "__main__":
    main()
