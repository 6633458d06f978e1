"""Issue 6: compare a 1-process and a 2-process (DDP) run of stage 1 from their metrics.jsonl files.

    python scripts/ddp_compare.py RUN_1GPU RUN_2GPU --out comparison.json    (on the GPU machine)
    python scripts/ddp_compare.py --from-json comparison.json --docs docs/training.md   (here)

Both runs use the same global batch, learning rate, seed and number of steps, so their loss curves should agree
up to sampling noise; the throughput ratio is samples/s of the 2-GPU run over the 1-GPU run (ideal: 2).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

START, END = "<!-- issue6-ddp:start -->", "<!-- issue6-ddp:end -->"


def read_run(folder: Path) -> dict:
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line.strip()]
    config = (folder / "config.yaml").read_text() if (folder / "config.yaml").is_file() else ""
    steps = np.array([r["step"] for r in records])
    loss = np.array([r["loss"] for r in records])
    speed = np.array([r["samples_per_s"] for r in records])
    steady = speed[min(3, len(speed) - 1):]  # the first windows include start-up (cuDNN tuning, workers)
    tail = loss[int(len(loss) * 0.8):] if len(loss) > 4 else loss
    return {"steps": int(steps[-1]), "loss_curve": [[int(s), float(v)] for s, v in zip(steps, loss)],
            "first_loss": float(loss[0]), "final_loss_mean_last20pct": float(tail.mean()),
            "samples_per_s_median": float(np.median(steady)), "elapsed_s": float(records[-1]["elapsed_s"]),
            "samples": int(records[-1]["samples"]), "config_yaml": config}


def ema(values: np.ndarray, alpha: float = 0.1) -> np.ndarray:
    out = np.empty_like(values)
    acc = values[0]
    for i, v in enumerate(values):
        acc = alpha * v + (1 - alpha) * acc
        out[i] = acc
    return out


def compare(one: dict, two: dict) -> dict:
    a = dict(one["loss_curve"])
    b = dict(two["loss_curve"])
    common = sorted(set(a) & set(b))
    la, lb = ema(np.array([a[s] for s in common])), ema(np.array([b[s] for s in common]))
    return {
        "common_logged_steps": len(common),
        "smoothed_loss_mean_abs_diff": float(np.mean(np.abs(la - lb))),
        "smoothed_loss_mean_rel_diff": float(np.mean(np.abs(la - lb) / np.maximum(np.abs(la), 1e-8))),
        "smoothed_loss_pearson_r": float(np.corrcoef(la, lb)[0, 1]) if len(common) > 2 else None,
        "final_loss_1gpu": one["final_loss_mean_last20pct"], "final_loss_2gpu": two["final_loss_mean_last20pct"],
        "throughput_ratio_2gpu_over_1gpu": two["samples_per_s_median"] / one["samples_per_s_median"],
    }


def markdown(data: dict) -> str:
    one, two, cmp = data["run_1gpu"], data["run_2gpu"], data["comparison"]
    return "\n".join([
        f"- machine: **{data.get('device', '?')}**; stage 1 of the small 64 px model, global batch {data.get('global_batch', '?')} "
        f"in both runs (1 process x {data.get('batch_1gpu', '?')}, 2 processes x {data.get('batch_2gpu', '?')}), same seed and "
        f"learning rate; command: `{data.get('command', 'scripts/gpu_ddp.sh')}`",
        "",
        "| run | steps | samples/s (median) | first loss | final loss (mean of last 20%) | wall time of the loop (s) |",
        "|---|---|---|---|---|---|",
        f"| 1 GPU | {one['steps']} | {one['samples_per_s_median']:.0f} | {one['first_loss']:.4f} | {one['final_loss_mean_last20pct']:.4f} | {one['elapsed_s']:.1f} |",
        f"| 2 GPUs (DDP) | {two['steps']} | {two['samples_per_s_median']:.0f} | {two['first_loss']:.4f} | {two['final_loss_mean_last20pct']:.4f} | {two['elapsed_s']:.1f} |",
        "",
        f"Throughput ratio 2 GPUs / 1 GPU: **{cmp['throughput_ratio_2gpu_over_1gpu']:.2f}x**.  Smoothed loss curves "
        f"(EMA 0.1) over {cmp['common_logged_steps']} logged steps: mean absolute difference "
        f"{cmp['smoothed_loss_mean_abs_diff']:.4f} ({100 * cmp['smoothed_loss_mean_rel_diff']:.1f}% relative), Pearson r "
        f"{cmp['smoothed_loss_pearson_r']:.3f}.",
    ])


def write_docs(path: Path, text: str) -> None:
    body = path.read_text() if path.is_file() else "# Training FLAP\n"
    block = f"{START}\n{text}\n{END}"
    if START in body and END in body:
        body = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: block, body, flags=re.S)
    else:
        body = body.rstrip() + "\n\n## DDP: 2 GPUs against 1 (issue 6)\n\n" + block + "\n"
    path.write_text(body)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="*", help="the 1-process run folder, then the 2-process one")
    parser.add_argument("--out", help="comparison JSON to write")
    parser.add_argument("--from-json", help="read a comparison JSON instead of run folders")
    parser.add_argument("--docs", help="write the comparison into this Markdown file")
    parser.add_argument("--device", default=None)
    parser.add_argument("--batch-1gpu", type=int, default=None)
    parser.add_argument("--batch-2gpu", type=int, default=None)
    parser.add_argument("--command", default="scripts/gpu_ddp.sh")
    args = parser.parse_args()
    if args.from_json:
        data = json.loads(Path(args.from_json).read_text())
    else:
        one, two = (read_run(Path(p)) for p in args.runs)
        device = args.device
        if device is None:
            import torch

            device = (f"{torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}" if torch.cuda.is_available()
                      else "CPU")
        data = {"device": device, "batch_1gpu": args.batch_1gpu, "batch_2gpu": args.batch_2gpu,
                "global_batch": args.batch_1gpu, "command": args.command, "run_1gpu": one, "run_2gpu": two,
                "comparison": compare(one, two)}
    if args.out:
        Path(args.out).write_text(json.dumps(data, indent=1))
    text = markdown(data)
    print(text)
    if args.docs:
        write_docs(Path(args.docs), text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
