"""Training throughput of the decoupling experiment's model (issue 14): samples/s of the resident trainer
(flap.training.resident, bf16 autocast, fused AdamW) per stage, batch size and mouth-loss weight, to size the
budget the lips need.  Content does not matter for speed, so the data is a toy set at the experiment's size.

    python benchmarks/bench_training_throughput.py                      # on the GPU: small preset, 96 px
    python benchmarks/bench_training_throughput.py --smoke              # CPU check of the same path
Prints one JSON line per case: steps/s and frames/s measured after the first ``--warmup`` steps.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def run_case(data, root: Path, stage: str, batch: int, mouth_weight: float, steps: int, warmup: int,
             preset: str, resolution: int, frames: int) -> dict:
    import torch

    from flap.training.models import build_pipeline
    from flap.training.resident import train_stage
    from flap.training.testing import tiny_config

    config = tiny_config(stage, root, root / "run", resolution=resolution, gradient_checkpointing=False,
                         ema_decay=0.999, batch_size=batch, log_every=1)
    config.model.preset = preset
    config.data.frames_per_clip = frames
    config.data.head_motion_top_fraction = 1.0
    config.diffusion.mouth_weight = mouth_weight
    config.diffusion.zero_init_temporal = stage in ("3", "all")
    pipe = build_pipeline(config.model).to(data.device)
    times = []
    run = train_stage(pipe, config, data, time.time() + 600, max_steps=steps,
                      log=lambda _: times.append(time.perf_counter()))
    per_step = np.diff(times[warmup:])
    frames_per_step = batch * (1 if stage in ("1", "2") else frames)
    out = {"stage": stage, "batch": batch, "frames_per_step": frames_per_step, "mouth_weight": mouth_weight,
           "steps": run.steps, "steps_per_s": round(1 / float(np.median(per_step)), 2),
           "frames_per_s": round(frames_per_step / float(np.median(per_step)), 1), "final_loss": round(run.final_loss, 4)}
    if data.device.type == "cuda":
        out["peak_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 1)
        torch.cuda.reset_peak_memory_stats()
    del pipe
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--cases", default="2:64:0,2:64:10,2:128:10,2:256:10,all:4:10,all:8:10,all:16:10",
                        help="stage:batch:mouth_weight, comma-separated")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    import torch

    from flap.training.manifest import Manifest
    from flap.training.resident import ResidentClips
    from flap.training.synthetic import MOUTH_BOXES_FILE
    from flap.training.testing import write_toy_set

    cuda = torch.cuda.is_available()
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    preset, resolution, frames = ("tiny", 16, 4) if args.smoke else ("small", 96, 16)
    steps = 4 if args.smoke else args.steps
    warmup = 1 if args.smoke else args.warmup
    root = Path(tempfile.mkdtemp(prefix="flap_throughput_"))
    manifest = write_toy_set(root, clips=4, frames=40, size=resolution, audio=False)
    for c in manifest.clips:
        box = np.float32([0.35, 0.55, 0.65, 0.7]) * resolution
        np.save(root / "clips" / c.id / MOUTH_BOXES_FILE, np.tile(box, (40, 1)))
    data = ResidentClips(root, Manifest.load(root).clips, "cuda" if cuda else "cpu")
    print(json.dumps({"device": torch.cuda.get_device_name(0) if cuda else "cpu", "torch": torch.__version__,
                      "preset": preset, "resolution": resolution}), flush=True)
    for case in args.cases.split(","):
        stage, batch, weight = case.split(":")
        batch = int(batch) if not args.smoke else min(int(batch), 4)
        print(json.dumps(run_case(data, root, stage, batch, float(weight), steps, warmup, preset, resolution,
                                  frames)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
