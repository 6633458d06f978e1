"""The controllability experiment (issue 6): does FLAP's 3D-head conditioning give control, measurably?

On a GPU, within a fixed wall-clock budget: render a synthetic talking-head set from cached portrait states
(flap.training.synthetic), train a small pixel-space FLAP model through the three stages (flap.training.loop, the
same code as ``python -m flap.training train``), and generate frames for held-out motions with the model untrained
and after each stage.  The frames and the requested motions are written as compressed .npz files; the tracker
measures them afterwards on a machine with MediaPipe (``python -m flap.training evaluate``), against the
requested pose and mouth opening and against the ground-truth renders of the same motions.

Files written to ``out`` (8 at most, each well under 16 MB): heldout.npz (conditions, identities, clip ids,
references), ground_truth.npz, untrained.npz, stage1.npz, stage2.npz, stage3.npz, results.json.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from flap.training.synthetic import SyntheticSpec, identities_in, render_dataset


@dataclass
class ExperimentSpec:
    resolution: int = 64
    preset: str = "small"
    clips_per_identity: int = 16
    frames_per_clip: int = 100
    heldout_per_identity: int = 2
    eval_frames: int = 16  # frames generated per held-out clip (one temporal window)
    budget_s: float = 450.0  # the whole experiment, rendering and sampling included
    reserve_s: float = 25.0  # kept free at the end (writing, slack)
    stage_shares: tuple[float, float, float] = (0.45, 0.38, 0.17)  # stage 3 starts from stage 2's quality
    image_batch: int = 64
    video_batch: int = 4
    video_frames: int = 16
    lr_image: float = 2e-4
    lr_video: float = 1e-4
    warmup_steps: int = 100
    top_fraction: float = 0.25
    sample_steps: int = 25
    guidance: float = 2.0
    render_workers: int | None = None
    loader_workers: int = 6
    gradient_checkpointing: bool = False  # memory is plentiful at 64 px; recomputation would cost a third of the steps
    max_steps_per_stage: int = 1_000_000
    log_every: int = 25
    ema_decay: float | None = 0.999
    mouth_weight: float = 0.0  # DiffusionSpec.mouth_weight: extra loss weight of the mouth box's pixels
    identities: list[str] | None = None
    seed: int = 0
    smoke_mode: bool = False

    @classmethod
    def smoke(cls) -> "ExperimentSpec":
        """Tiny sizes and three steps per stage: the same code path, in a minute or two on a CPU."""
        return cls(resolution=32, preset="tiny", clips_per_identity=2, frames_per_clip=24, heldout_per_identity=1,
                   eval_frames=8, budget_s=900.0, image_batch=4, video_batch=2, video_frames=4, sample_steps=3,
                   render_workers=2, loader_workers=0, max_steps_per_stage=3, log_every=1, warmup_steps=0,
                   identities=["astronaut_orig", "hopper_mirror"], top_fraction=0.5, smoke_mode=True)


@dataclass
class HeldOut:
    conditions: np.ndarray  # (N, F, 120)
    frames: np.ndarray  # (N, F, R, R, 3) ground-truth renders
    references: np.ndarray  # (N, R, R, 3) neutral crops of the identities
    identities: list[str] = field(default_factory=list)
    clip_ids: list[str] = field(default_factory=list)


def held_out_set(data: Path, frames: int) -> HeldOut:
    from flap.motion.representation import MotionSequence
    from flap.training.manifest import ClipFrames, Manifest, clip_dir

    data = Path(data)
    manifest = Manifest.load(data)
    clips = manifest.select("test")
    conditions, videos, refs = [], [], []
    for clip in clips:
        conditions.append(MotionSequence.load(clip_dir(data, clip.id) / "motion.npz").to_condition()[:frames])
        videos.append(ClipFrames(data, clip).read(np.arange(frames)))
        refs.append(np.load(data / "references" / f"{clip.identity}.npy"))
    return HeldOut(np.stack(conditions), np.stack(videos), np.stack(refs), [c.identity for c in clips], [c.id for c in clips])


@dataclass
class RenderedSet:
    """The synthetic set rendered for an experiment, and its held-out clips (``render_set``)."""

    synth: SyntheticSpec
    manifest: object  # flap.training.manifest.Manifest
    heldout: HeldOut
    identities: list[str]  # training identities
    new_identities: list[str]  # held out entirely (test clips only)

    def dataset_info(self) -> dict:
        """What results.json says about the data."""
        m = self.manifest
        info = {"clips": len(m.clips), "train_clips": len(m.select("train")), "heldout_clips": len(self.heldout.clip_ids),
                "identities": self.identities, "train_frames": int(sum(c.num_frames for c in m.select("train"))),
                "render_seconds": m.meta.get("render_seconds"), "cache_matches_code": m.meta.get("cache_matches_code")}
        if self.new_identities or self.synth.crosstalk_probes:
            from flap.training.synthetic import PROBES

            info.update(new_identities=self.new_identities, probes=list(PROBES if self.synth.crosstalk_probes else ()))
        return info


def render_set(cache: str | Path, data: Path, out: Path, spec: ExperimentSpec, new_identities=(),
               clips_per_new_identity: int = 2, crosstalk_probes: bool = False) -> RenderedSet:
    """Render the synthetic set into ``data`` (CPU pool: call before CUDA starts, so forking is safe) and write
    ``out/heldout.npz``: the held-out clips' conditions, references, identities and clip ids (and, with probes or
    new identities, each clip's probe and whether its identity is new).  The ground truth is the caller's to save."""
    names = spec.identities or identities_in(cache)
    new = [n for n in new_identities if n in names]
    synth = SyntheticSpec(resolution=spec.resolution, clips_per_identity=spec.clips_per_identity,
                          frames_per_clip=spec.frames_per_clip, heldout_per_identity=spec.heldout_per_identity,
                          seed=spec.seed, crosstalk_probes=crosstalk_probes)
    manifest = render_dataset(cache, data, synth, workers=spec.render_workers, identities=names, new_identities=new,
                              clips_per_new_identity=clips_per_new_identity)
    heldout = held_out_set(data, spec.eval_frames)
    fields = dict(conditions=heldout.conditions, references=heldout.references, identities=np.array(heldout.identities),
                  clip_ids=np.array(heldout.clip_ids), fps=np.float32(manifest.fps))
    if new or crosstalk_probes:
        extra = {c.id: c.extra for c in manifest.select("test")}
        fields.update(probes=np.array([extra[c]["probe"] for c in heldout.clip_ids]),
                      new_identity=np.array([bool(extra[c]["new_identity"]) for c in heldout.clip_ids]))
    np.savez_compressed(Path(out) / "heldout.npz", **fields)
    return RenderedSet(synth, manifest, heldout, [n for n in names if n not in new], new)


def save_untrained(spec: ExperimentSpec, folder: Path):
    """The untrained model from ``spec.seed``: the exact weights every training of the experiment starts from."""
    import torch

    from flap.training.config import ModelSpec
    from flap.training.models import new_pipeline

    torch.manual_seed(spec.seed)
    pipe = new_pipeline(replace(ModelSpec(), preset=spec.preset, resolution=spec.resolution))
    pipe.save_pretrained(folder)
    return pipe


def stage_config(spec: ExperimentSpec, stage: int | str, data: Path, work: Path, init_from: Path, seconds: float):
    """One stage's TrainConfig (stage 1, 2, 3, or "all": everything at once on video clips, the ablation)."""
    from flap.training.config import TrainConfig

    image = stage in (1, 2)
    video = not image
    return TrainConfig.from_dict({
        "stage": str(stage),
        "model": {"init_from": str(init_from), "preset": spec.preset, "resolution": spec.resolution},
        "data": {"root": str(data), "head_motion_top_fraction": spec.top_fraction, "frames_per_clip": spec.video_frames,
                 "reference": "identity", "num_workers": spec.loader_workers},
        "optim": {"learning_rate": spec.lr_video if stage == 3 else spec.lr_image, "lr_warmup_steps": spec.warmup_steps},
        "run": {"output_dir": str(work / f"stage{stage}"), "batch_size": spec.image_batch if image else spec.video_batch,
                "max_steps": spec.max_steps_per_stage, "max_seconds": seconds, "checkpoint_every": 0, "resume": None,
                "gradient_checkpointing": spec.gradient_checkpointing, "log_every": spec.log_every,
                "seed": spec.seed + (stage if isinstance(stage, int) else 0),
                "report_to": "tensorboard", "ema_decay": spec.ema_decay},
        "diffusion": {"zero_init_temporal": video, "mouth_weight": spec.mouth_weight},  # untrained temporal layers start as the identity
    })


def _device_name() -> str:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def run_experiment(cache: str | Path, out: str | Path, spec: ExperimentSpec = ExperimentSpec(),
                   work_dir: str | Path | None = None) -> dict:
    start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(work_dir) if work_dir else Path(tempfile.gettempdir()) / "flap_issue6_work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    timings: dict[str, float] = {}

    def mark(name: str, since: float) -> float:
        now = time.perf_counter()
        timings[name] = round(now - since, 2)
        print(f"[experiment] {name}: {timings[name]:.1f} s (total {now - start:.1f} s)", flush=True)
        return now

    # 1. data (CPU pool, before CUDA starts, so forking is safe)
    t = time.perf_counter()
    data = work / "data"
    rendered = render_set(cache, data, out, spec)
    heldout, synth = rendered.heldout, rendered.synth
    np.savez_compressed(out / "ground_truth.npz", frames=heldout.frames)
    t = mark("render_data", t)

    import torch

    from flap.engines.diffusion.pipeline import FLAPPipeline
    from flap.training.heldout import generate_clips
    from flap.training.loop import train
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    def sample(pipe, name: str, stage: int | None) -> None:
        frames = generate_clips(pipe.to(device), heldout.references, heldout.conditions, steps=spec.sample_steps,
                                guidance=spec.guidance, temporal=stage in (None, 3), drop_expression=stage == 1,
                                seed=spec.seed)
        np.savez_compressed(out / f"{name}.npz", frames=frames)

    # 2. the untrained model: the exact weights stage 1 starts from
    untrained = work / "untrained"
    pipe = save_untrained(spec, untrained)
    ts = time.perf_counter()
    sample(pipe, "untrained", None)
    sample_seconds = time.perf_counter() - ts  # includes CUDA start-up and cuDNN tuning: an upper bound
    del pipe
    t = mark("untrained_sampling", t)

    stages = []
    previous = untrained
    shares = list(spec.stage_shares)
    for k, stage in enumerate((1, 2, 3)):
        # Split what is left over the remaining stages, keeping time to sample after each and to finish.
        left = spec.budget_s - (time.perf_counter() - start) - spec.reserve_s - sample_seconds * (3 - k) - 8.0 * (3 - k)
        seconds = max(5.0, left * shares[k] / sum(shares[k:]))
        config = stage_config(spec, stage, data, work, previous, seconds)
        result = train(config)
        t = mark(f"stage{stage}_train", t)
        pipe = FLAPPipeline.from_pretrained(result.export_dir)
        ts = time.perf_counter()
        sample(pipe, f"stage{stage}", stage)
        sample_seconds = time.perf_counter() - ts
        del pipe
        t = mark(f"stage{stage}_sampling", t)
        stages.append({"stage": stage, "budget_s": round(seconds, 1), "steps": result.steps, "samples": result.samples,
                       "train_seconds": round(result.seconds, 1), "final_loss": result.final_loss,
                       "stopped_by": result.stopped_by, "description": result.description,
                       "loss_curve": [{k2: round(v, 5) if isinstance(v, float) else v for k2, v in r.items()}
                                      for r in result.history],
                       "config": config.to_dict()})
        previous = result.export_dir
        if device == "cuda":
            torch.cuda.empty_cache()

    results = {
        "experiment": "issue6 controllability", "device": _device_name(), "torch": torch.__version__,
        "python": sys.version.split()[0], "spec": asdict(spec), "synthetic": asdict(synth),
        "dataset": rendered.dataset_info(),
        "sampling": {"steps": spec.sample_steps, "guidance": spec.guidance, "scheduler": "DDIM (trailing)",
                     "stage1": "head condition only, temporal layers bypassed (as trained)",
                     "stage2": "full condition, temporal layers bypassed (as trained)",
                     "stage3": "full condition with temporal layers", "untrained": "full condition with temporal layers"},
        "stages": stages, "timings_s": timings, "total_seconds": round(time.perf_counter() - start, 1),
        "command": " ".join(sys.argv),
    }
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    return {k: results[k] for k in ("device", "total_seconds", "timings_s")} | {
        "stages": [{k: s[k] for k in ("stage", "steps", "final_loss", "train_seconds", "stopped_by")} for s in stages]}
