"""A/B of the whole warm job (analysis, motion, rendering, H.264/AAC encoding) between two source trees, in
lockstep, for a shared (noisy) machine: ab_renderer.py's method applied to ``generate()``.

    python benchmarks/ab_job.py /path/to/base/tree [--new .] [--portrait P] [--size 512] [--seconds 10] [--rounds 10]
                                [--paste-back] [--env-new NAME=VALUE ...]

Two worker processes (one per tree, each importing its own flap) run the same job in turn, the order swapped every
round, so both see the same load; the job's wall time, this process's CPU time and ffmpeg's CPU time are printed
(minimum and quartiles of the wall time).  ``--env-new`` sets environment variables for the new tree's worker only
(for an A/B of a setting on one tree: pass the same tree twice).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

WORKER = r'''
import resource, sys, time
sys.path.insert(0, ".")  # the tree this worker measures
from flap.pipeline import JobConfig, generate
portrait, size, audio, paste, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] == "1", sys.argv[5]
config = JobConfig(size=size, paste_back=paste)
generate(portrait, audio, out, config=config)
print("ready", flush=True)
def children():
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime
for _ in sys.stdin:
    c, k, t = time.process_time(), children(), time.perf_counter()
    generate(portrait, audio, out, config=config)
    print(f"{time.perf_counter() - t:.4f} {time.process_time() - c:.4f} {children() - k:.4f}", flush=True)
'''


def main() -> None:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", help="the other source tree (a git worktree of the commit to compare with)")
    parser.add_argument("--new", default=str(here.parent))
    parser.add_argument("--portrait", default=str(here.parent / "examples/portraits/astronaut.jpg"))
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--paste-back", action="store_true", help="the 2048 px photo of bench_embedded.py, pasted back")
    parser.add_argument("--env-new", action="append", default=[], help="NAME=VALUE for the new tree's worker only")
    args = parser.parse_args()
    sys.path.insert(0, str(here))
    sys.path.insert(0, str(here.parent))
    import tempfile

    from bench_embedded import large_photo, make_speech

    work = Path(tempfile.mkdtemp(prefix="flap-abjob-"))
    audio = str(make_speech(work / "speech.wav", args.seconds))
    portrait = str(large_photo(work / "photo2048.jpg")) if args.paste_back else args.portrait
    extra = dict(item.split("=", 1) for item in args.env_new)
    from lockstep import run

    times = run(WORKER, lambda name: [portrait, str(args.size), audio, "1" if args.paste_back else "0", str(work / f"{name}.mp4")],
                {"base": args.base, "new": args.new}, args.rounds, env={"new": extra})
    print(f"machine: {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}; {args.seconds:g} s of speech, "
          f"{Path(portrait).name}, {'paste-back' if args.paste_back else f'{args.size} px crop'}; {args.rounds} rounds")
    for name, rows in times.items():
        wall = sorted(r[0] for r in rows)
        print(f"{name}: wall s min {wall[0]:.3f} ({args.seconds / wall[0]:.1f}x real time), quartiles "
              f"{wall[len(wall) // 4]:.3f} / {statistics.median(wall):.3f} / {wall[3 * len(wall) // 4]:.3f}; "
              f"CPU s median: this process {statistics.median(r[1] for r in rows):.3f}, "
              f"ffmpeg {statistics.median(r[2] for r in rows):.3f}")


if __name__ == "__main__":
    main()
