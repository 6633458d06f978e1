"""Speed, memory and numerics of the full FLAP model (random weights: speed does not depend on their values).

    python benchmarks/bench_diffusion.py eager --out OUT      # CUDA: ceiling, bf16 vs fp32, FLOPs, timings, 60 s run
    python benchmarks/bench_diffusion.py compiled --out OUT   # CUDA: the same timings with regional torch.compile
    python benchmarks/bench_diffusion.py eager --smoke        # tiny model on the CPU: checks this script end to end
    python benchmarks/bench_diffusion.py aot-compile --artifacts DIR --out OUT   # CUDA: AOTInductor artifacts into DIR
    python benchmarks/bench_diffusion.py aot --artifacts DIR --out OUT           # a fresh process: load DIR, time it

Timings are whole videos at 512x512 and 25 fps (reference preparation, windowed sampling, VAE decoding, frames
copied to host memory), reported as seconds per output frame, peak GPU memory and achieved TFLOP/s (FLOPs
counted with torch.utils.flop_counter per kind of UNet pass, times the passes actually run).  "plain" is exact
guided sampling; "fast" is SamplingOptions.fast() (DeepCache + guidance interval).  Every section writes its
results to OUT/bench_<mode>.json as soon as it finishes, so a crash or timeout keeps what came before.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
import traceback

PROCESS_START = time.perf_counter()  # the fresh process's start-up (imports included) is timed from here
from dataclasses import asdict, replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flap.engines.diffusion.benchmark import (FlopTable, matmul_ceiling, measure_flops, median_seconds,  # noqa: E402
                                              psnr, relative_error, sdpa_backends, time_video)
from flap.engines.diffusion import aot  # noqa: E402
from flap.engines.diffusion.config import FLAPModelConfig  # noqa: E402
from flap.engines.diffusion.pipeline import FLAPPipeline  # noqa: E402
from flap.engines.diffusion.sampling import SamplingOptions  # noqa: E402
from flap.engines.diffusion.testing import portrait, talking_motion  # noqa: E402

FULL = dict(config=FLAPModelConfig.sd15, frames=40, long_frames=1500, window=16, overlap=4, ceiling_n=8192,
            numerics_frames=4, long_speed_windows=10, device="cuda")
SMOKE = dict(config=lambda: FLAPModelConfig.tiny(resolution=32), frames=12, long_frames=150, window=8, overlap=2,
             ceiling_n=256, numerics_frames=4, long_speed_windows=3, device="cpu")
CACHE_DIR = Path(os.environ.get("FLAP_BENCH_CACHE", "/tmp/flap_bench"))


class Report:
    """Results as a JSON file rewritten after every section, plus a log line per event."""

    def __init__(self, path: Path, mode: str, smoke: bool):
        self.path = path
        self.data = {"mode": mode, "smoke": smoke, "sections": {}, "errors": {}, "environment": environment()}
        self.t0 = time.perf_counter()
        self.save()

    def log(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.t0:7.1f}s] {message}", flush=True)

    def section(self, name: str, fn, *args, **kwargs):
        self.log(f"--- {name}")
        try:
            result = fn(*args, **kwargs)
            self.data["sections"][name] = result
            self.log(f"{name}: {json.dumps(result, default=_jsonable)[:2000]}")
            return result
        except Exception as exc:  # keep going: one failing section must not lose the others
            self.data["errors"][name] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()[-3000:]}"
            self.log(f"{name} FAILED: {type(exc).__name__}: {exc}")
            traceback.print_exc()
            return None
        finally:
            self.data["elapsed_s"] = time.perf_counter() - self.t0
            self.save()
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, default=_jsonable))
        os.replace(tmp, self.path)


def _jsonable(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, torch.dtype):
        return str(value)
    return str(value)


def environment() -> dict:
    import diffusers
    import transformers

    env = {"torch": torch.__version__, "diffusers": diffusers.__version__, "transformers": transformers.__version__,
           "python": sys.version.split()[0], "cuda": torch.version.cuda}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        env.update(gpu=props.name, gpu_memory_gb=props.total_memory / 2**30, sms=props.multi_processor_count)
    return env


def build(size: dict, dtype: torch.dtype) -> FLAPPipeline:
    torch.manual_seed(0)
    pipe = FLAPPipeline.from_model_config(size["config"](), device=size["device"], dtype=dtype)
    for model in pipe._models():
        model.requires_grad_(False)
    return pipe


def parameter_counts(pipe: FLAPPipeline) -> dict:
    counts = {name: sum(p.numel() for p in model.parameters()) / 1e6
              for name, model in (("reference_net", pipe.reference_net), ("denoising_unet", pipe.denoising_unet),
                                  ("vae", pipe.vae)) if model is not None}
    counts.update({f"denoising_unet.{g}": sum(p.numel() for p in ps.values()) / 1e6
                   for g, ps in pipe.denoising_unet.parameter_groups().items()})
    return {k: round(v, 2) for k, v in counts.items()}


# ---------------------------------------------------------------------- sections
def numerics(size: dict) -> dict:
    """bf16 on the device against an fp32 reference (TF32 off) on the full-size architecture, same weights."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    ref32 = build(size, torch.float32)
    out = {"parameters_million": parameter_counts(ref32)}
    image = portrait(ref32.resolution, seed=1)
    motion = talking_motion(size["numerics_frames"], seed=2)
    options = SamplingOptions.plain(num_inference_steps=2, window=size["numerics_frames"], overlap=0)
    c, h, w = ref32.latent_shape
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, c, size["numerics_frames"], h, w, generator=gen).to(ref32.device)
    cond = torch.from_numpy(motion.to_condition()).to(ref32.device)[None].repeat(2, 1, 1)
    drop = torch.tensor([False, True], device=ref32.device)

    def unet_and_video(pipe):
        state = pipe.prepare_reference(image)
        with torch.no_grad():
            eps = pipe.denoising_unet(x, torch.tensor(700, device=x.device), cond, drop_head=drop, drop_expression=drop,
                                      reference=state.kv).float()
        latents = torch.stack(list(pipe.stream(state, motion, options=options, output="latents"))).float()
        frames = np.stack(list(pipe.stream(state, motion, options=options)))
        return state, eps, latents, frames

    s32, e32, l32, f32 = unet_and_video(ref32)
    pipe16 = ref32.to(dtype=torch.bfloat16)  # same weights, rounded
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    s16, e16, l16, f16 = unet_and_video(pipe16)
    layer = next(iter(s32.kv))
    out.update(
        reference_kv_rel_err=relative_error(s16.kv[layer][0].float(), s32.kv[layer][0]),
        unet_eps_rel_err=relative_error(e16, e32),
        video_latents_rel_err=relative_error(l16, l32),
        video_frames_psnr_db=psnr(f16, f32),
        video_frames_max_abs_diff=int(np.abs(f16.astype(int) - f32.astype(int)).max()),
    )
    out["pass"] = bool(out["unet_eps_rel_err"] < 3e-2 and out["video_latents_rel_err"] < 5e-2)
    out["tolerance"] = "bf16 rel. L2 error: UNet noise < 3e-2, sampled latents < 5e-2"
    del ref32, pipe16
    return out


def forward_microbench(pipe: FLAPPipeline, state, size: dict, repeats: int = 5) -> dict:
    """One guided window's UNet pass (2 x window frames): eager as built, with fused q/k/v, and channels-last."""
    unet = pipe.denoising_unet
    c, h, w = pipe.latent_shape
    frames = size["window"]
    x = torch.randn(2, c, frames, h, w, device=pipe.device, dtype=unet.dtype)
    tokens = torch.randn(2 * frames, unet.condition_encoder.num_tokens, unet.condition_encoder.config.token_dim,
                         device=pipe.device, dtype=unet.dtype)
    t = torch.tensor(500, device=pipe.device)
    unet.set_reference(state.kv)

    def timed():
        with torch.no_grad():
            return median_seconds(lambda: unet(x, t, tokens=tokens), pipe.device, repeats)

    out = {"rows_x_frames": 2 * frames, "plain_s": timed()}
    unet.fuse_qkv_projections()
    out["fused_qkv_s"] = timed()
    unet.to(memory_format=torch.channels_last)
    out["fused_qkv_channels_last_s"] = timed()
    unet.to(memory_format=torch.contiguous_format)
    unet.unfuse_qkv_projections()
    return out


def vae_decode_microbench(pipe: FLAPPipeline, chunk: int = 8) -> dict:
    """VAE decoding of one chunk of frames, as built and channels-last (cuDNN's NHWC convolutions)."""
    if pipe.vae is None:
        return {}
    c, h, w = pipe.latent_shape
    latents = torch.randn(chunk, c, h, w, device=pipe.device, dtype=pipe.vae.dtype)
    with torch.no_grad():
        out = {"frames": chunk, "plain_s": median_seconds(lambda: pipe.decode_latents(latents), pipe.device, 3)}
        pipe.vae.to(memory_format=torch.channels_last)
        out["channels_last_s"] = median_seconds(lambda: pipe.decode_latents(latents), pipe.device, 3)
        pipe.vae.to(memory_format=torch.contiguous_format)
    return out


def warm_up(pipe: FLAPPipeline, size: dict, variants: list[tuple[str, SamplingOptions]]) -> None:
    """Every kernel and shape once, outside the clock (cuDNN autotuning included): each variant with few steps
    on a clip as long as the timed one (same window and decode shapes)."""
    image = portrait(pipe.resolution, seed=1)
    motion = talking_motion(size["frames"], seed=3)
    for _, options in variants:
        steps = 4 if options.deepcache_interval > 1 else 2
        time_video(pipe, image, motion, replace(options, num_inference_steps=steps,
                                                guidance_interval=(0.0, 0.5) if steps == 4 else options.guidance_interval),
                   "warmup")


def timings(pipe: FLAPPipeline, size: dict, flops: FlopTable | None, variants: list[tuple[str, SamplingOptions]],
            keep_dir: Path | None = None, compare_dir: Path | None = None) -> dict:
    image = portrait(pipe.resolution, seed=1)
    motion = talking_motion(size["frames"], seed=3)
    warm_up(pipe, size, variants)
    out = {}
    kept = {}
    for label, options in variants:
        run, frames = time_video(pipe, image, motion, options, label, flops=flops, keep="frames")
        out[label] = run.as_dict()
        kept[label] = frames
        if keep_dir is not None:
            keep_dir.mkdir(parents=True, exist_ok=True)
            np.save(keep_dir / f"{label}.npy", frames)
        if compare_dir is not None and (compare_dir / f"{label}.npy").exists():
            eager = np.load(compare_dir / f"{label}.npy")
            out[label]["psnr_vs_eager_db"] = psnr(frames, eager)
    # how far each accelerated variant is from exact sampling at the same step count
    for label in kept:
        if label.startswith("fast"):
            base = f"plain_{out[label]['steps']}"
            if base in kept:
                out[label]["psnr_vs_plain_db"] = psnr(kept[label], kept[base])
                out[label]["speedup_vs_plain"] = out[base]["seconds"] / out[label]["seconds"]
    return out


def long_video(pipe: FLAPPipeline, size: dict, options: SamplingOptions) -> dict:
    """Peak memory of a 60 s (1500-frame) video against a short one: constant in length if windowing works."""
    image = portrait(pipe.resolution, seed=1)
    out = {}
    for frames in (size["window"] * 3, size["long_frames"]):
        run, _ = time_video(pipe, image, talking_motion(frames, seed=4), options, f"{frames}_frames")
        out[f"{frames}_frames"] = {k: getattr(run, k) for k in ("seconds", "seconds_per_frame", "peak_allocated_gb",
                                                                 "peak_reserved_gb")}
    return out


def variants_for(size: dict) -> list[tuple[str, SamplingOptions]]:
    base = dict(window=size["window"], overlap=size["overlap"], guidance_scale=3.5)
    return [
        ("plain_20", SamplingOptions.plain(num_inference_steps=20, **base)),
        ("fast_20", SamplingOptions.fast(num_inference_steps=20, **base)),
        ("fast_20_all_guided", SamplingOptions.fast(num_inference_steps=20, guidance_interval=(0.0, 1.0), **base)),
        ("fast_20_overlap2", SamplingOptions.fast(num_inference_steps=20, **{**base, "overlap": size["overlap"] // 2})),
        ("fast_20_chunk16", SamplingOptions.fast(num_inference_steps=20, decode_chunk=16, **base)),
        ("fast_20_overlap2_chunk16", SamplingOptions.fast(num_inference_steps=20, decode_chunk=16,
                                                          **{**base, "overlap": size["overlap"] // 2})),
        ("plain_4", SamplingOptions.plain(num_inference_steps=4, **base)),
    ]


def long_video_speed(pipe: FLAPPipeline, size: dict, flops: FlopTable | None,
                     variants: list[tuple[str, SamplingOptions]]) -> dict:
    """Seconds per frame measured on a long video (many windows, so each new frame costs window/(window-overlap)
    frame slots), not extrapolated from the short clip."""
    image = portrait(pipe.resolution, seed=1)
    out = {}
    for label, options in variants:
        stride = options.window - options.overlap
        frames = options.window + stride * size["long_speed_windows"]
        run, _ = time_video(pipe, image, talking_motion(frames, seed=5), options, label, flops=flops)
        out[label] = run.as_dict()
    return out


def kernel_profile(pipe: FLAPPipeline, size: dict, options: SamplingOptions) -> dict:
    """Where the GPU time of one window goes: CUDA kernel time by kind (matmul, convolution, attention,
    normalisation, other) and the 12 costliest kernels."""
    from torch.profiler import ProfilerActivity, profile

    image = portrait(pipe.resolution, seed=1)
    motion = talking_motion(options.window, seed=6)
    time_video(pipe, image, motion, options, "profile_warmup")
    cuda = pipe.device.type == "cuda"
    with profile(activities=[ProfilerActivity.CUDA if cuda else ProfilerActivity.CPU]) as prof:
        time_video(pipe, image, motion, options, "profile")
    kinds = {"attention": ("flash", "fmha", "attention", "sdpa", "cudnn_generated_fort_native_sdpa"),
             "convolution": ("conv", "implicit", "wgrad", "dgrad", "xmma_fprop", "sm90_xmma"),
             "matmul": ("gemm", "sm90_", "cutlass", "cublas", "nvjet", "addmm", "aten::mm", "bmm"),
             "normalisation": ("norm", "welford", "reduction")}
    totals: dict[str, float] = {}
    kernels = []
    for event in prof.key_averages():
        if cuda:
            us = getattr(event, "self_device_time_total", None) or getattr(event, "self_cuda_time_total", 0)
        else:  # the smoke run: operators' own CPU time
            us = event.self_cpu_time_total
        if not us or event.key.startswith("ProfilerStep"):
            continue
        name = event.key.lower()
        kind = next((k for k, words in kinds.items() if any(w in name for w in words)), "other")
        totals[kind] = totals.get(kind, 0.0) + us / 1e6
        kernels.append((us / 1e6, kind, event.key[:120], event.count))
    kernels.sort(reverse=True)
    total = sum(totals.values())
    return {"window_frames": options.window, "gpu_kernel_s": total,
            "share": {k: round(v / total, 3) for k, v in sorted(totals.items(), key=lambda kv: -kv[1])},
            "top": [{"s": round(s, 4), "kind": k, "kernel": n, "calls": c} for s, k, n, c in kernels[:12]]}


def run_eager(size: dict, report: Report) -> None:
    device = size["device"]
    if device == "cuda":
        report.section("matmul_ceiling_tflops", lambda: matmul_ceiling(device, size["ceiling_n"]))
    report.section("numerics_bf16_vs_fp32", numerics, size)
    pipe = build(size, torch.bfloat16)
    report.data["parameters_million"] = parameter_counts(pipe)
    state = pipe.prepare_reference(portrait(pipe.resolution, seed=1))
    flops = report.section("flops_per_frame", lambda: asdict(measure_flops(pipe, state, frames=size["window"])))
    table = FlopTable(**flops) if flops else None
    report.section("unet_forward_s", forward_microbench, pipe, state, size)
    report.section("vae_decode_s", vae_decode_microbench, pipe)
    report.section("vae_decode_eager_s", decode_chunks, pipe)
    c, h, w = pipe.latent_shape
    heads = pipe.denoising_unet.unet.config.num_attention_heads
    width = pipe.denoising_unet.unet.config.block_out_channels[0]
    report.section("sdpa_backends", sdpa_backends, size["device"], 2 * size["window"], heads, h * w, 2 * h * w,
                   width // heads)
    pipe.optimize_for_inference(dtype=torch.bfloat16)  # the product's eager path (speed.py: no channels-last)
    report.data["pipeline_settings"] = pipeline_settings(pipe)
    report.section("video_timings", timings, pipe, size, table, variants_for(size), keep_dir=CACHE_DIR / "eager")
    report.section("long_video_memory", long_video, pipe, size,
                   SamplingOptions.plain(num_inference_steps=1, window=size["window"], overlap=size["overlap"]))


def pipeline_settings(pipe: FLAPPipeline) -> dict:
    """What optimize_for_inference chose, as recorded in the results."""
    from flap.engines.diffusion.speed import ATTENTION_PREFERENCE

    conv = pipe.denoising_unet.unet.conv_in.weight  # 3x3: its NCHW and NHWC layouts differ
    return {"channels_last": conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous(),
            "attention_preference": list(ATTENTION_PREFERENCE), "cudnn_benchmark": torch.backends.cudnn.benchmark}


def run_compiled(size: dict, report: Report, backend: str = "inductor") -> None:
    pipe = build(size, torch.bfloat16)
    state = pipe.prepare_reference(portrait(pipe.resolution, seed=1))
    flops = measure_flops(pipe, state, frames=size["window"])
    # the product's compiled path: channels-last UNets, regional compile of the denoiser and the VAE decoder;
    # dynamic=True: one graph per block shape for every batch size (guided 2 rows or unguided 1 row)
    pipe.optimize_for_inference(dtype=torch.bfloat16, compile=True, dynamic=True, backend=backend)
    report.data["pipeline_settings"] = pipeline_settings(pipe)
    report.log(f"pipeline settings: {report.data['pipeline_settings']}")

    def compile_warmup():
        t0 = time.perf_counter()
        # 4 steps, full pass every 3rd, guidance on the first half: guided and unguided rows, full and shallow passes
        options = SamplingOptions.fast(num_inference_steps=4, guidance_interval=(0.0, 0.5), window=size["window"],
                                       overlap=size["overlap"])
        time_video(pipe, portrait(pipe.resolution, seed=1), talking_motion(size["window"] + 2, seed=3), options,
                   "compile")
        return {"compile_and_first_run_s": time.perf_counter() - t0, "backend": backend}

    report.section("compile", compile_warmup)
    report.section("vae_decode_compiled_s", decode_chunks, pipe)
    variants = variants_for(size)
    report.section("video_timings", timings, pipe, size, flops, variants, compare_dir=CACHE_DIR / "eager")
    fast = [(label, options) for label, options in variants if label.startswith("fast_20") and "guided" not in label]
    report.section("long_video_speed", long_video_speed, pipe, size, flops, fast)
    report.section("kernel_profile", kernel_profile, pipe, size, dict(fast)["fast_20"])


def decode_chunks(pipe: FLAPPipeline) -> dict:
    """Seconds per decoded frame for chunks of 4, 8 and 16 latents (the sampler decodes in ``decode_chunk``s)."""
    if pipe.vae is None:
        return {}
    c, h, w = pipe.latent_shape
    out = {}
    with torch.no_grad():
        for chunk in (4, 8, 16):
            latents = torch.randn(chunk, c, h, w, device=pipe.device, dtype=pipe.vae.dtype)
            out[f"chunk_{chunk}_s_per_frame"] = median_seconds(lambda: pipe.decode_latents(latents), pipe.device, 3) / chunk
    return out


# ---------------------------------------------------------------------- ahead-of-time compiled (issue 14)

def run_aot_compile(size: dict, report: Report, artifacts: Path) -> None:
    """Compile the product's AOT artifacts (channels-last bf16, fused q/k/v; the fast preset's cache branch)."""
    pipe = build(size, torch.bfloat16)
    pipe.optimize_for_inference(dtype=torch.bfloat16, channels_last=size["device"] == "cuda")
    report.data["pipeline_settings"] = pipeline_settings(pipe)
    options = SamplingOptions.fast(window=size["window"], overlap=size["overlap"])

    def compile_all():
        t0 = time.perf_counter()
        parts = tuple(os.environ.get("FLAP_AOT_PARTS", ",".join(aot.PARTS)).split(","))
        manifest = pipe.compile_ahead_of_time(artifacts, window=options.window, decode_chunk=options.decode_chunk,
                                              cache_branch=options.deepcache_branch, parts=parts, log_fn=report.log)
        size_mb = {p.name: round(p.stat().st_size / 2**20, 1) for p in artifacts.glob("*.pt2")}
        return {"seconds": time.perf_counter() - t0, "per_part_s": manifest["compile_seconds"], "package_mb": size_mb,
                "target": manifest["target"]}

    report.section("aot_compile", compile_all)


def run_aot(size: dict, report: Report, artifacts: Path) -> None:
    """A fresh process: start-up (imports, model, loading the artifacts, first video) timed separately from the
    speed of the videos after it; AOT frames compared with eager frames of the same weights and seed."""
    startup = {"imports_s": time.perf_counter() - PROCESS_START}
    t = time.perf_counter()
    pipe = build(size, torch.bfloat16)  # random weights built on the GPU (a real model loads its safetensors here)
    startup["build_model_s"] = time.perf_counter() - t
    t = time.perf_counter()
    note = pipe.load_compiled(artifacts, dtype=torch.bfloat16)
    startup["load_compiled_s"] = time.perf_counter() - t
    startup["note"] = note
    report.log(note)
    if pipe._compiled is None:
        report.data["errors"]["load_compiled"] = note
        report.save()
        return
    report.data["pipeline_settings"] = pipeline_settings(pipe)
    image = portrait(pipe.resolution, seed=1)
    motion = talking_motion(size["frames"], seed=3)
    base = dict(window=size["window"], overlap=size["overlap"], guidance_scale=3.5)
    fast = SamplingOptions.fast(num_inference_steps=20, **base)
    t = time.perf_counter()
    first, _ = time_video(pipe, image, motion, fast, "first_video")
    startup["first_video_s"] = time.perf_counter() - t
    startup["first_video_s_per_frame"] = first.seconds_per_frame
    startup["process_start_to_first_video_done_s"] = time.perf_counter() - PROCESS_START
    report.data["sections"]["startup"] = startup
    report.log(f"startup: {startup}")
    report.save()
    state = pipe.prepare_reference(image)
    compiled, pipe._compiled = pipe._compiled, None  # counted eagerly: the flop counter cannot see into the AOT programs
    flops = measure_flops(pipe, state, frames=size["window"]) if size["device"] == "cuda" else None
    pipe._compiled = compiled
    variants = [("fast_20", fast), ("plain_20", SamplingOptions.plain(num_inference_steps=20, **base)),
                ("plain_4", SamplingOptions.plain(num_inference_steps=4, **base)),
                ("fast_20_overlap2", SamplingOptions.fast(num_inference_steps=20, **{**base, "overlap": size["overlap"] // 2}))]

    def aot_vs_eager():
        out = {}
        _, aot_frames = time_video(pipe, image, motion, fast, "aot", keep="frames")
        compiled, pipe._compiled = pipe._compiled, None
        try:
            run, eager_frames = time_video(pipe, image, motion, fast, "eager", keep="frames")
            run, eager_frames = time_video(pipe, image, motion, fast, "eager", keep="frames")  # after cuDNN tuning
        finally:
            pipe._compiled = compiled
        out["eager_fast_20_s_per_frame_same_process"] = run.seconds_per_frame
        out["psnr_aot_vs_eager_db"] = psnr(aot_frames, eager_frames)
        out["max_abs_diff"] = int(np.abs(aot_frames.astype(int) - eager_frames.astype(int)).max())
        return out

    report.section("video_timings", timings, pipe, size, flops, variants)
    report.section("aot_vs_eager", aot_vs_eager)
    long_variants = [("fast_20", fast), variants[-1]]
    report.section("long_video_speed", long_video_speed, pipe, size, flops, long_variants)
    report.section("long_video_memory", long_video, pipe, size,
                   SamplingOptions.plain(num_inference_steps=1, window=size["window"], overlap=size["overlap"]))
    report.section("kernel_profile", kernel_profile, pipe, size, fast)
    # the numerical check builds its own bf16 and fp32 models (eager: the same as the AOT programs, above)
    report.section("numerics_bf16_vs_fp32", numerics, size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["eager", "compiled", "aot-compile", "aot"])
    parser.add_argument("--artifacts", default=os.environ.get("FLAP_AOT_ARTIFACTS", "/tmp/flap_aot"),
                        help="folder of the AOT artifacts (aot-compile writes it, aot loads it)")
    parser.add_argument("--smoke", action="store_true", help="tiny model on the CPU (checks the script, not speed)")
    parser.add_argument("--out", default=os.environ.get("OUT", "bench_out"))
    parser.add_argument("--compile-backend", default=None,
                        help="torch.compile backend (default inductor; the CPU smoke run uses 'eager' to stay quick)")
    args = parser.parse_args()
    size = dict(SMOKE if args.smoke else FULL)
    if size["device"] == "cuda" and not torch.cuda.is_available():
        sys.exit("CUDA is not available: run with --smoke on a CPU")
    name = args.mode.replace("-", "_")
    report = Report(Path(args.out) / f"bench_{name}{'_smoke' if args.smoke else ''}.json", args.mode, args.smoke)
    report.log(f"{args.mode} benchmark on {size['device']} ({report.data['environment']})")
    if args.mode == "eager":
        run_eager(size, report)
    elif args.mode == "aot-compile":
        run_aot_compile(size, report, Path(args.artifacts))
    elif args.mode == "aot":
        run_aot(size, report, Path(args.artifacts))
    else:
        run_compiled(size, report, backend=args.compile_backend or ("eager" if args.smoke else "inductor"))
    report.log(f"done; results in {report.path}")


if __name__ == "__main__":
    main()
