"""A synthetic talking-head training set rendered by the embedded engine, with known motion for every frame.

Two steps, so the GPU machine needs no MediaPipe:

1. ``build_cache`` (here, with MediaPipe): derive several identities from the bundled public-domain portraits
   (mirroring, colour and lighting changes, background recolouring), analyse each (flap.face.analyze_portrait) and
   prepare the embedded renderer (``EmbeddedRenderer.prepare``, pose calibration included); the prepared states are
   pickled (numpy arrays and dataclasses only) into the cache folder.
2. ``render_dataset`` (anywhere, numpy + OpenCV): sample motions (head turns of varied size, a speech-like jaw,
   blinks, gaze), render them from the cached states in a process pool, downsample to the training resolution
   and write a training set (flap.training.manifest) plus the identities' neutral crops (the references).

The stored condition uses the absolute head rotation (motion rotation composed with the photo's own pose), as
``prepare-data`` stores what the tracker sees; the renderer itself takes the rotation relative to the photo.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from flap.motion.representation import MotionSequence
from flap.training.manifest import ClipEntry, Manifest, clip_dir, head_motion_score, write_frames

CACHE_VERSION = 1
REPO_ROOT = Path(__file__).resolve().parents[2]
PORTRAITS = {"astronaut": REPO_ROOT / "examples/portraits/astronaut.jpg",
             "hopper": REPO_ROOT / "examples/portraits/grace_hopper.jpg"}
#: (name, mirror, colour gains RGB, gamma, side light, background colour or None).  Each changes what a model
#: must copy from the reference: skin tone, lighting direction, asymmetry, background.
VARIANTS = (
    ("orig", False, (1.0, 1.0, 1.0), 1.0, 0.0, None),
    ("mirror", True, (1.0, 1.0, 1.0), 1.0, 0.0, None),
    ("warm_bg", False, (1.12, 1.0, 0.82), 0.9, 0.0, (70, 120, 180)),
    ("cool_light", True, (0.88, 1.0, 1.15), 1.0, 0.35, None),
    ("dark_bg", False, (0.95, 0.95, 1.0), 1.25, -0.3, (40, 40, 48)),
    ("green_bg", True, (1.05, 1.0, 0.95), 0.85, 0.2, (60, 150, 90)),
)


def code_fingerprint() -> str:
    """A hash of the code the pickled states belong to (renderer, face analysis, motion): a cache made by other
    code may not unpickle or render the same, so rendering checks it."""
    import hashlib

    digest = hashlib.sha1()
    for folder in ("flap/engines/embedded", "flap/face", "flap/motion"):
        for path in sorted((REPO_ROOT / folder).glob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


# ---------------------------------------------------------------------------------------------- identities (CPU)
def derive_identity(photo: np.ndarray, mirror: bool, gains, gamma: float, side_light: float, background,
                    mask: np.ndarray | None) -> np.ndarray:
    """A new-looking person from a photo: mirrored, re-lit, re-coloured, with another background."""
    img = photo[:, ::-1] if mirror else photo
    img = img.astype(np.float32) / 255.0
    if mask is not None and mirror:
        mask = mask[:, ::-1]
    img = np.clip(img * np.asarray(gains, np.float32), 0, 1) ** gamma
    if side_light:
        ramp = np.linspace(1 - side_light, 1 + side_light, img.shape[1], dtype=np.float32)
        img = np.clip(img * np.clip(ramp, 0.4, 1.6)[None, :, None], 0, 1)
    if background is not None and mask is not None:
        h = img.shape[0]
        shade = np.linspace(1.15, 0.8, h, dtype=np.float32)[:, None, None]
        plate = np.clip(np.asarray(background, np.float32)[None, None] / 255.0 * shade, 0, 1)
        img = img * mask[..., None] + plate * (1 - mask[..., None])
    return np.ascontiguousarray((img * 255).round().astype(np.uint8))


def build_cache(out: str | Path, size: int = 256, variants=VARIANTS) -> dict:
    """Analyse and prepare every identity (needs MediaPipe); write <out>/identities/*.pkl.gz and cache.json."""
    from flap.engines.embedded.renderer import EmbeddedRenderer
    from flap.face.portrait import analyze_portrait
    from flap.face.segmentation import person_mask
    from flap.io.images import load_image

    out = Path(out)
    (out / "identities").mkdir(parents=True, exist_ok=True)
    renderer = EmbeddedRenderer()
    info = {"version": CACHE_VERSION, "size": size, "code": code_fingerprint(), "identities": {}}
    for person, path in PORTRAITS.items():
        photo, _ = load_image(path, max_side=1024)
        mask = person_mask(photo)
        for name, mirror, gains, gamma, light, background in variants:
            ident = f"{person}_{name}"
            image = derive_identity(photo, mirror, gains, gamma, light, background, mask)
            analysis = analyze_portrait(image, size=size)
            state = renderer.prepare(analysis)
            state.portrait.image = np.zeros((1, 1, 3), np.uint8)  # the full photo is not needed to render
            with gzip.open(out / "identities" / f"{ident}.pkl.gz", "wb", compresslevel=6) as fh:
                pickle.dump(state, fh, protocol=pickle.HIGHEST_PROTOCOL)
            info["identities"][ident] = {"photo": path.name, "variant": name,
                                         "photo_pose_deg": [round(float(v), 2) for v in analysis.euler_degrees],
                                         "pose_gains": state.pose_gains.round(3).ravel().tolist()}
    info["renderer_config"] = asdict(renderer.config)
    (out / "cache.json").write_text(json.dumps(info, indent=1, default=str))
    return info


def load_state(cache: str | Path, identity: str):
    with gzip.open(Path(cache) / "identities" / f"{identity}.pkl.gz", "rb") as fh:
        return pickle.load(fh)


# ---------------------------------------------------------------------------------------------- motions
@dataclass
class SyntheticSpec:
    resolution: int = 64
    render_size: int | None = None  # None: the cache's size
    clips_per_identity: int = 16
    frames_per_clip: int = 100
    heldout_per_identity: int = 1
    fps: float = 25.0
    max_yaw: float = 28.0  # degrees at amplitude 1
    max_pitch: float = 15.0
    max_roll: float = 10.0
    max_jaw: float = 0.35  # radians
    blink_rate: tuple[float, float] = (18.0, 32.0)  # per minute
    seed: int = 0
    # cross-talk probes: each held-out clip also rendered with its pose frozen (expression channels moving)
    # and with its expression channels frozen (pose moving); see ``probe_motion``
    crosstalk_probes: bool = False


#: Held-out clip variants: the sampled motion, its pose frozen, its expression channels frozen.
PROBES = ("motion", "fixed_pose", "fixed_expression")


def probe_motion(motion: MotionSequence, probe: str) -> MotionSequence:
    """``fixed_pose``: every frame keeps frame 0's head rotation while jaw, eyelids, gaze and expression move;
    ``fixed_expression``: those keep frame 0's values while the head moves.  A decoupled model moves only
    what changes."""
    if probe == "motion":
        return motion
    first = lambda a: np.repeat(a[:1], len(a), axis=0)  # noqa: E731
    if probe == "fixed_pose":
        return motion.replace(global_rotation=first(motion.global_rotation))
    if probe == "fixed_expression":
        return motion.replace(jaw=first(motion.jaw), eyelids=first(motion.eyelids), eyes=first(motion.eyes),
                              expression=first(motion.expression))
    raise ValueError(f"unknown probe {probe!r}; choose from {PROBES}")


def sample_motion(rng: np.random.Generator, spec: SyntheticSpec, amplitude: float) -> MotionSequence:
    """A talking-head motion (rotation relative to the photo): smooth head wander scaled by ``amplitude``,
    speech-like jaw with pauses, blinks, small gaze shifts.  Expression and named controls stay zero: the
    condition has no channel for the named controls, so nothing unexplained is rendered."""
    from flap.audio2motion.gaze import eyes_6d
    from flap.audio2motion.signals import coloured_noise
    from flap.motion.blinks import blink_curve
    from flap.motion.rotations import euler_to_axis_angle

    n, fps = spec.frames_per_clip, spec.fps
    limits = np.array([spec.max_yaw, spec.max_pitch, spec.max_roll])
    offset = rng.uniform(-0.6, 0.6, 3) * limits * amplitude
    wander = np.stack([coloured_noise(n, fps, rng, cutoff) for cutoff in (0.5, 0.6, 0.4)], 1) * 0.5
    euler = np.clip(offset + wander * limits * amplitude, -limits, limits)
    talking = coloured_noise(n, fps, rng, 0.3) > -0.6  # speech with pauses
    syllables = np.clip(0.5 + 0.6 * coloured_noise(n, fps, rng, 3.0), 0, 1)
    jaw = np.zeros((n, 3), np.float32)
    jaw[:, 0] = spec.max_jaw * syllables * np.convolve(talking.astype(np.float32), np.ones(3) / 3, mode="same")
    lids = blink_curve(n, fps, float(rng.uniform(*spec.blink_rate)), rng)
    gaze = np.stack([4.0 * coloured_noise(n, fps, rng, 0.5), 2.5 * coloured_noise(n, fps, rng, 0.5)], 1)
    motion = MotionSequence.neutral(n, fps)
    return motion.replace(global_rotation=euler_to_axis_angle(euler[:, 0], euler[:, 1], euler[:, 2]), jaw=jaw,
                          eyelids=np.repeat(lids[:, None], 2, axis=1), eyes=eyes_6d(gaze))


def absolute_motion(relative: MotionSequence, photo_rotation: np.ndarray) -> MotionSequence:
    """The motion as a tracker would report it: the rotation composed with the photo's own head pose."""
    from flap.motion.rotations import axis_angle_to_matrix, matrix_to_axis_angle

    rot = axis_angle_to_matrix(relative.global_rotation.astype(np.float64)) @ photo_rotation
    return relative.replace(global_rotation=matrix_to_axis_angle(rot),
                            meta=dict(relative.meta, rotation="absolute (motion rotation x photo pose)"))


# ---------------------------------------------------------------------------------------------- rendering
_STATES: dict[str, object] = {}


def _render_job(job: dict) -> dict:
    """Worker: render one clip and write it (frames.npy + motion.npz); returns its manifest entry."""
    import cv2 as _cv2

    _cv2.setNumThreads(1)
    from flap.engines.embedded.renderer import EmbeddedRenderer

    key = job["identity"]
    if key not in _STATES:
        _STATES[key] = load_state(job["cache"], key)
    state = _STATES[key]
    spec = SyntheticSpec(**job["spec"])
    rng = np.random.default_rng(job["seed"])
    relative = probe_motion(sample_motion(rng, spec, job["amplitude"]), job.get("probe", "motion"))
    renderer = EmbeddedRenderer()
    frames = np.stack([_resize(f, spec.resolution) for f in renderer.render_frames(state, relative)])
    boxes = mouth_boxes(renderer, state, relative, spec.resolution)
    motion = absolute_motion(relative, state.portrait.pose.rotation)
    motion.meta.update(identity=key, amplitude=job["amplitude"], seed=job["seed"], probe=job.get("probe", "motion"))
    folder = clip_dir(job["out"], job["clip_id"])
    write_frames(folder, frames, "npy")
    np.save(folder / MOUTH_BOXES_FILE, boxes)
    motion.save(folder / "motion.npz")
    entry = ClipEntry(id=job["clip_id"], num_frames=len(frames), identity=key, frames="npy",
                      head_motion=head_motion_score(motion.head_euler_degrees()), split=job["split"],
                      source="synthetic", extra={"amplitude": job["amplitude"], "seed": job["seed"],
                                                 "probe": job.get("probe", "motion"),
                                                 "new_identity": job.get("new_identity", False)})
    return asdict(entry)


#: Per clip, (T, 4) float32 x0, y0, x1, y1 of the mouth in the clip's frame pixels (see ``mouth_boxes``).
MOUTH_BOXES_FILE = "mouth_boxes.npy"


def mouth_boxes(renderer, state, motion: MotionSequence, resolution: int, pad: float = 0.25) -> np.ndarray:
    """(T, 4) the mouth's box on every rendered frame, from the posed lip and chin landmarks the renderer itself
    draws from (so it follows the head and the opening jaw exactly): the outer lips' bounds, widened by ``pad``
    of the lips' width on each side.  A mouth-weighted loss reads it: the mouth is ~1 % of
    a 96 px frame, too little for the plain denoising loss to learn lip motion soon."""
    from flap.face import landmark_groups as G
    from flap.face.geometry import image_to_camera

    cams = renderer.vertex_positions(state, motion)[:, : G.NUM_LANDMARKS]
    pts = np.stack([image_to_camera(c)[:, :2] for c in cams])
    lips = pts[:, list(G.UPPER_OUTER_LIP + G.LOWER_OUTER_LIP)]
    lo, hi = lips.min(axis=1), lips.max(axis=1)
    margin = pad * (hi[:, :1] - lo[:, :1])
    box = np.concatenate([lo - margin, hi + margin], axis=1) * (resolution / state.portrait.size)
    return np.clip(box, 0, resolution).astype(np.float32)


def _resize(frame: np.ndarray, resolution: int) -> np.ndarray:
    if frame.shape[0] == resolution:
        return frame
    return cv2.resize(frame, (resolution, resolution), interpolation=cv2.INTER_AREA)


def identities_in(cache: str | Path) -> list[str]:
    info = json.loads((Path(cache) / "cache.json").read_text())
    if int(info.get("version", 0)) != CACHE_VERSION:
        raise ValueError(f"{cache}: cache version {info.get('version')} is not {CACHE_VERSION}; rebuild it")
    if info.get("code") != code_fingerprint():
        import warnings

        warnings.warn(f"{cache} was built by other renderer/face code than this checkout's; rebuild it with "
                      f"`python -m flap.training synthetic cache --out {cache}` where MediaPipe is installed")
    return sorted(info["identities"])


def render_dataset(cache: str | Path, out: str | Path, spec: SyntheticSpec = SyntheticSpec(), workers: int | None = None,
                   identities: list[str] | None = None, new_identities: list[str] | None = None,
                   clips_per_new_identity: int = 2) -> Manifest:
    """Render the synthetic set into ``out``: training clips of evenly spread head-motion amplitudes per identity
    (so stage 1's top-motion share covers every identity) and held-out clips (split 'test') from other seeds.
    ``new_identities`` get held-out clips only (identities never seen in training); with
    ``spec.crosstalk_probes`` every held-out clip is also rendered as each of ``PROBES``."""
    import multiprocessing as mp

    start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    new = list(new_identities or [])
    names = [n for n in (identities or identities_in(cache)) if n not in new]
    probes = PROBES if spec.crosstalk_probes else ("motion",)
    jobs = []
    amplitudes = np.linspace(0.15, 1.0, spec.clips_per_identity) if spec.clips_per_identity > 1 else np.array([1.0])
    for k, name in enumerate(names):
        for c, amp in enumerate(amplitudes):
            jobs.append(dict(identity=name, cache=str(cache), spec=asdict(spec), seed=spec.seed * 100003 + k * 1009 + c,
                             amplitude=float(amp), out=str(out), clip_id=f"{name}_c{c:02d}", split="train"))
    for k, name in enumerate(names + new):
        for h in range(spec.heldout_per_identity if name in names else clips_per_new_identity):
            for probe in probes:
                suffix = "" if probe == "motion" else f"_{probe}"
                jobs.append(dict(identity=name, cache=str(cache), spec=asdict(spec),
                                 seed=10**7 + spec.seed * 7919 + k * 97 + h, amplitude=0.8, out=str(out),
                                 clip_id=f"{name}_heldout{h}{suffix}", split="test", probe=probe,
                                 new_identity=name in new))
    workers = max(1, min(workers or (os.cpu_count() or 2) - 1, len(jobs)))
    if workers == 1:
        entries = [_render_job(j) for j in jobs]
    else:
        with mp.get_context("fork" if hasattr(os, "fork") else "spawn").Pool(workers) as pool:
            entries = pool.map(_render_job, jobs, chunksize=1)
    (out / "references").mkdir(exist_ok=True)
    for name in names + new:
        state = load_state(cache, name)
        np.save(out / "references" / f"{name}.npy", _resize(state.portrait.crop, spec.resolution))
    clips = []
    for e in entries:
        e["crop_box"] = None
        clips.append(ClipEntry(**e))
    manifest = Manifest(fps=spec.fps, resolution=spec.resolution, clips=clips,
                        meta={"source": "synthetic (embedded engine)", "spec": asdict(spec), "identities": names,
                              "new_identities": new,
                              "cache_matches_code": json.loads((Path(cache) / "cache.json").read_text()).get("code")
                              == code_fingerprint(),
                              "render_seconds": round(time.perf_counter() - start, 2), "workers": workers})
    manifest.save(out)
    return manifest
