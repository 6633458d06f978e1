"""Summarise scripts/gpu_full_model.sh results: a short table on stdout and OUT/summary.md.

    python scripts/gpu_full_model_summary.py OUT
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from flap.engines.diffusion.sampling import plan_windows  # noqa: E402


def load(out: Path, mode: str) -> dict:
    for name in (f"bench_{mode}.json", f"bench_{mode}_smoke.json"):
        path = out / name
        if path.exists():
            return json.loads(path.read_text())
    return {}


def fmt(value, spec=".3f", unit=""):
    return "-" if value is None else f"{value:{spec}}{unit}"


def main(out: Path) -> str:
    eager, compiled = load(out, "eager"), load(out, "compiled")
    lines = ["# FLAP full model: GPU run (scripts/gpu_full_model.sh)", ""]
    env = eager.get("environment") or compiled.get("environment") or {}
    lines.append(f"GPU: {env.get('gpu', 'none (smoke run on CPU)')}; torch {env.get('torch')}, CUDA {env.get('cuda')}, "
                 f"diffusers {env.get('diffusers')}, transformers {env.get('transformers')}")
    tests = out / "cuda_tests.log"
    if tests.exists():
        found = re.findall(r"^=*\s*(\d+ (?:passed|failed).*?)\s*=*$", tests.read_text(), re.M)
        lines.append(f"Tests on the device: {found[-1] if found else 'no pytest summary line (see cuda_tests.log)'}")
    sections = eager.get("sections", {})
    ceiling = sections.get("matmul_ceiling_tflops")
    lines.append(f"bf16 matmul ceiling: {fmt(ceiling, '.0f', ' TFLOP/s')}")
    numerics = sections.get("numerics_bf16_vs_fp32")
    if numerics:
        lines.append(f"bf16 vs fp32: UNet noise rel. error {numerics['unet_eps_rel_err']:.2e}, sampled latents "
                     f"{numerics['video_latents_rel_err']:.2e}, frames PSNR {numerics['video_frames_psnr_db']:.1f} dB "
                     f"-> {'PASS' if numerics['pass'] else 'FAIL'} ({numerics['tolerance']})")
        lines.append(f"Parameters (millions): {numerics['parameters_million']}")
    flops = sections.get("flops_per_frame")
    if flops:
        lines.append(f"FLOPs per frame: UNet full {flops['unet_full'] / 1e12:.3f} T, shallow "
                     f"{ {int(k): round(v / flops['unet_full'], 3) for k, v in flops['unet_shallow'].items()} } of full, "
                     f"VAE decode {flops['vae_decode'] / 1e12:.3f} T, reference once {flops['reference'] / 1e12:.3f} T")
    forward = sections.get("unet_forward_s")
    if forward:
        lines.append(f"One guided 16-frame UNet pass ({forward['rows_x_frames']} frame rows): {forward}")
    for name in ("vae_decode_s", "sdpa_backends"):
        if sections.get(name):
            lines.append(f"{name}: {sections[name]}")
    for mode, data in (("eager", eager), ("compiled", compiled)):
        if data.get("pipeline_settings"):
            lines.append(f"Pipeline settings, {mode} (FLAPPipeline.optimize_for_inference): {data['pipeline_settings']}")
    compile_info = compiled.get("sections", {}).get("compile")
    if compile_info:
        lines.append(f"torch.compile (regional, dynamic shapes): {compile_info['compile_and_first_run_s']:.0f} s to compile and run once")
    elif compiled:
        lines.append(f"torch.compile: did not finish ({'; '.join(compiled.get('errors', {})) or 'out of time'})")
    lines += ["", "| run | s / output frame | long-video estimate | peak GPU memory (GB) | TFLOP/s (% of ceiling) | "
                  "PSNR vs plain (dB) | PSNR vs eager (dB) |", "|---|---|---|---|---|---|---|"]
    for mode, data in (("eager", eager), ("compiled", compiled)):
        for label, run in (data.get("sections", {}).get("video_timings") or {}).items():
            share = f" ({100 * run['tflops_per_s'] / ceiling:.0f}%)" if ceiling and run.get("tflops_per_s") else ""
            window, overlap = run["options"]["window"], run["options"]["overlap"]
            slots = sum(b - a for a, b in plan_windows(run["frames"], window, overlap))
            long_factor = (window / (window - overlap)) / (slots / run["frames"])
            lines.append(f"| {mode} {label} | {run['seconds_per_frame']:.4f} | <= {run['seconds_per_frame'] * long_factor:.4f} | "
                         f"{fmt(run['peak_allocated_gb'], '.2f')} | "
                         f"{fmt(run.get('tflops_per_s'), '.0f')}{share} | {fmt(run.get('psnr_vs_plain_db'), '.1f')} | "
                         f"{fmt(run.get('psnr_vs_eager_db'), '.1f')} |")
    lines.append("")
    lines.append("s / output frame: a short clip (on the GPU 40 frames: 3 windows of 16 overlapping by 4, 48 frame slots "
                 "for 40 frames). A long video needs window/(window-overlap) slots per frame (16/12); the long-video "
                 "estimate scales the whole time by that ratio (an upper bound: decoding and reference preparation do "
                 "not grow with it).")
    csections = compiled.get("sections", {})
    speed = csections.get("long_video_speed")
    if speed:
        lines += ["", "Measured on long videos (compiled):", "",
                  "| run | frames | windows (window/overlap) | s / output frame | TFLOP/s |", "|---|---|---|---|---|"]
        for label, run in speed.items():
            o = run["options"]
            lines.append(f"| {label} | {run['frames']} | {run['stats']['windows']} ({o['window']}/{o['overlap']}) | "
                         f"{run['seconds_per_frame']:.4f} | {fmt(run.get('tflops_per_s'), '.0f')} |")
    for name in ("vae_decode_eager_s",):
        if sections.get(name):
            lines.append(f"{name}: {sections[name]}")
    if csections.get("vae_decode_compiled_s"):
        lines.append(f"vae_decode_compiled_s: {csections['vae_decode_compiled_s']}")
    profile = csections.get("kernel_profile")
    if profile:
        lines.append(f"GPU kernel time of one {profile['window_frames']}-frame fast window (compiled): "
                     f"{profile['gpu_kernel_s']:.3f} s; share by kind {profile['share']}")
        for k in profile["top"][:8]:
            lines.append(f"  {k['s']:.4f} s  {k['kind']:<13} x{k['calls']:<5} {k['kernel']}")
    long_run = sections.get("long_video_memory")
    if long_run:
        lines.append("")
        for label, run in long_run.items():
            lines.append(f"Peak memory, {label.replace('_', ' ')} (1 step, guided): {fmt(run['peak_allocated_gb'], '.2f')} GB "
                         f"allocated, {fmt(run['peak_reserved_gb'], '.2f')} GB reserved; {run['seconds']:.1f} s")
    for mode, data in (("eager", eager), ("compiled", compiled)):
        for name, error in data.get("errors", {}).items():
            lines.append(f"ERROR in {mode}/{name}: {error.splitlines()[0]}")
    text = "\n".join(lines) + "\n"
    (out / "summary.md").write_text(text)
    return text


if __name__ == "__main__":
    print(main(Path(sys.argv[1] if len(sys.argv) > 1 else "gpu_out")))
