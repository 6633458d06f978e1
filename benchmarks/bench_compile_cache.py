"""What ``torch.compile`` costs a fresh process, cold and with inductor's on-disk cache from an earlier process.

    python benchmarks/bench_compile_cache.py --out OUT            # CUDA, full-size model (about 8 minutes)
    python benchmarks/bench_compile_cache.py --smoke --out OUT    # tiny model on the CPU: checks the script

Two child processes run one after the other with the same, initially empty, TORCHINDUCTOR_CACHE_DIR: each builds
the pipeline, compiles it as the engine does (``optimize_for_inference(compile=True)``), renders a first short
video (the compile happens there) and then times the fast preset on a 40-frame clip, twice.  The second child shows what
a restart costs when the cache directory survives it (on a Space: a folder on persistent storage).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def child(smoke: bool) -> dict:
    import torch

    from flap.engines.diffusion.benchmark import time_video
    from flap.engines.diffusion.config import FLAPModelConfig
    from flap.engines.diffusion.pipeline import FLAPPipeline
    from flap.engines.diffusion.sampling import SamplingOptions
    from flap.engines.diffusion.testing import portrait, talking_motion

    device = "cpu" if smoke else "cuda"
    config = FLAPModelConfig.tiny(resolution=32) if smoke else FLAPModelConfig.sd15()
    window = 8 if smoke else 16
    t0 = time.perf_counter()
    torch.manual_seed(0)
    pipe = FLAPPipeline.from_model_config(config, device=device, dtype=torch.bfloat16)
    for model in pipe._models():
        model.requires_grad_(False)
    built = time.perf_counter() - t0
    pipe.optimize_for_inference(dtype=torch.bfloat16, compile=True)
    image = portrait(pipe.resolution, seed=1)
    first = SamplingOptions.fast(num_inference_steps=4, guidance_interval=(0.0, 0.5), window=window, overlap=window // 4)
    t0 = time.perf_counter()
    time_video(pipe, image, talking_motion(window + 2, seed=3), first, "first")
    first_video = time.perf_counter() - t0
    fast = SamplingOptions.fast(num_inference_steps=20, window=window, overlap=window // 4)
    motion = talking_motion(40 if not smoke else 12, seed=3)
    once, _ = time_video(pipe, image, motion, fast, "fast_20")  # new decode-chunk shapes: cuDNN autotunes them
    again, _ = time_video(pipe, image, motion, fast, "fast_20")
    return {"build_s": built, "compile_and_first_video_s": first_video,
            "fast_20_first_time_s_per_frame": once.seconds_per_frame, "fast_20_s_per_frame": again.seconds_per_frame}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--out", default=os.environ.get("OUT", "bench_out"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(args.smoke)), flush=True)
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {"smoke": args.smoke}
    with tempfile.TemporaryDirectory(prefix="flap_inductor_") as cache:
        env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache}
        for label in ("cold_cache", "warm_cache"):
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, __file__, "--child"] + (["--smoke"] if args.smoke else []),
                                  env=env, capture_output=True, text=True)
            lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
            results[label] = json.loads(lines[-1][7:]) if lines else {"error": proc.stderr[-2000:]}
            results[label]["process_s"] = time.perf_counter() - t0
            print(label, json.dumps(results[label])[:1000], flush=True)
            (out / f"bench_compile_cache{'_smoke' if args.smoke else ''}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
