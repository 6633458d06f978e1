"""A/B of the embedded renderer's speed between two source trees, in lockstep, for a shared (noisy) machine.

    python benchmarks/ab_renderer.py /path/to/base/tree [--new .] [--portrait P] [--size 512] [--rounds 30] [--paste-back]

Two worker processes (one per tree, each importing its own flap) render 50-frame chunks of the same motion in turn,
the order swapped every round, so both see the same load from whatever else runs on the machine; the minimum and
quartiles of CPU ms per frame are printed (the minimum is the steadiest figure when the machine is shared).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

WORKER = r'''
import sys, time
sys.path.insert(0, ".")  # the tree this worker measures
import numpy as np
from flap.audio.analysis import analyze_audio
from flap.audio.loading import load_audio
from flap.audio2motion.embedded import generate_motion
from flap.engines.embedded import EmbeddedRenderer
from flap.face.portrait import analyze_portrait
from flap.motion.controls import MotionControls, apply_controls
motion = apply_controls(generate_motion(analyze_audio(load_audio(sys.argv[3]), fps=25.0), seed=0), MotionControls())
renderer = EmbeddedRenderer()
state = renderer.prepare(analyze_portrait(sys.argv[1], size=int(sys.argv[2]), paste_back=sys.argv[4] == "1"))
list(renderer.render_frames(state, motion.take(np.arange(50))))
print("ready", flush=True)
start = 0
for _ in sys.stdin:
    chunk = motion.take(np.arange(start, start + 50) % motion.num_frames)
    start += 50
    cpu = time.process_time()
    list(renderer.render_frames(state, chunk))
    print(f"{(time.process_time() - cpu) * 1000 / 50:.4f}", flush=True)
'''


def main() -> None:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", help="the other source tree (a git worktree of the commit to compare with)")
    parser.add_argument("--new", default=str(here.parent))
    parser.add_argument("--portrait", default=str(here.parent / "examples/portraits/astronaut.jpg"))
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--paste-back", action="store_true", help="render the crop at the photo's resolution, as paste-back does")
    args = parser.parse_args()
    sys.path.insert(0, str(here))
    from profile_embedded import speech_wav

    wav = str(speech_wav())
    from lockstep import run

    rows = run(WORKER, lambda name: [args.portrait, str(args.size), wav, "1" if args.paste_back else "0"],
               {"base": args.base, "new": args.new}, args.rounds)
    times = {name: [r[0] for r in values] for name, values in rows.items()}
    for name, values in times.items():
        values.sort()
        print(f"{name}: CPU ms/frame min {values[0]:.3f} ({1000 / values[0]:.0f} frames/s), quartiles "
              f"{values[len(values) // 4]:.3f} / {statistics.median(values):.3f} / {values[3 * len(values) // 4]:.3f}")


if __name__ == "__main__":
    main()
