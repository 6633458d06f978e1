"""Ahead-of-time compiled denoiser, VAE decoder and ReferenceNet (``torch.export`` + AOTInductor).

Why: ``torch.compile`` costs a fresh process minutes before its first video (397 s measured on an H100), which a
ZeroGPU worker, fresh on every call, can never amortise.  AOTInductor compiles once, on a GPU like the one that
will run it, into ``.pt2`` packages that a fresh process loads in seconds.

The packages hold the weights they were compiled with (AOTInductor's default; kernels-only packages bound to the
live weights with ``package_constants_in_so=False`` crashed torch 2.11's CUDA loader, seen on an H200), so the
manifest keeps a fingerprint of them (names, shapes, dtypes and per-tensor sums): artifacts load only into a
model with the same weights, and other weights run eagerly with a note (recompile after fine-tuning).  The
compiled programs then hold a second copy of the weights on the GPU (the eager model stays for fallbacks).

What is compiled, with the shapes it was built for (``AOTTarget``):
- ``denoiser_full``: one full UNet pass over a window, returning the noise and the deep feature DeepCache keeps;
- ``denoiser_shallow``: the DeepCache pass (outer layers on the cached feature), for the target's cache branch;
- ``vae_decoder``: latents -> images, 1 to ``decode_chunk`` frames;
- ``reference_net`` (optional): the portrait latent -> ReferenceNet features, once per video.
Both denoiser programs take 1 or 2 rows (unguided / guided) of ``window`` frames and the reference keys/values
as inputs, so one compile serves every portrait.

Anything else (another GPU, torch version, dtype, resolution, window, cache branch, layout, architecture) runs
eagerly: ``load`` returns ``None`` with a note saying what differs, and a call whose shapes fall outside the
compiled ones (a video shorter than a window, say) runs that call eagerly.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from flap.engines.diffusion import speed
from flap.engines.diffusion.denoising_unet import DeepCache, FLAPDenoisingUNet, ReferenceKV

log = logging.getLogger("flap.diffusion.aot")

#: Subfolder of a saved pipeline where the artifacts live ("beside the weights").
AOT_FOLDER = "aot"
MANIFEST = "manifest.json"
PARTS = ("denoiser_full", "denoiser_shallow", "vae_decoder", "reference_net")
#: Inductor settings for AOTInductor (its defaults: weights inside the package).
INDUCTOR_CONFIGS: dict = {}
#: The C++ compiler the packages are built with: the system's g++, not whatever ``$CXX`` names.  The H200 image
#: sets CXX=/opt/gcc/bin/g++ (a wrapper, "g++-real 13.3.0"); every package Inductor built with it, even a
#: two-layer CPU module, segfaulted in torch 2.11's package loader, and the same packages built with /usr/bin/g++
#: load and match eager (scripts/gpu_aot_repro.sh, docs/results/aot_repro.log: 4 of 4 crash with the wrapper, 4 of 4
#: load with /usr/bin/g++; the wrapper's .so does not list libstdc++.so.6 among its needed libraries).
SYSTEM_CXX = ("/usr/bin/g++", "/usr/bin/c++")


def cpp_compiler() -> str:
    """The compiler for AOTInductor: the first of ``SYSTEM_CXX`` that exists, else g++ on the PATH."""
    for path in SYSTEM_CXX:
        if Path(path).is_file():
            return path
    return shutil.which("g++") or "g++"


@dataclass(frozen=True)
class AOTTarget:
    """What a set of artifacts was compiled for; loading checks every field against the running process."""

    torch_version: str
    device: str  # "cpu", or "cuda sm_XY": kernels are built for a compute capability (the GPU's name is only noted)
    dtype: str
    latent_shape: tuple[int, int, int]
    window: int
    decode_chunk: int
    cache_branch: int
    channels_last: bool
    fused_qkv: bool

    @classmethod
    def of(cls, pipe, *, window: int, decode_chunk: int, cache_branch: int) -> "AOTTarget":
        unet = pipe.denoising_unet
        weight = unet.unet.conv_in.weight
        return cls(torch_version=torch.__version__, device=device_name(pipe.device), dtype=str(weight.dtype),
                   latent_shape=tuple(pipe.latent_shape), window=window, decode_chunk=decode_chunk,
                   cache_branch=cache_branch, channels_last=weight.is_contiguous(memory_format=torch.channels_last)
                   and not weight.is_contiguous(), fused_qkv=fused_qkv(unet))

    @classmethod
    def from_json(cls, data: dict) -> "AOTTarget":
        names = {f.name for f in fields(cls)}
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in names}
        return cls(**values)

    def differences(self, other: "AOTTarget") -> list[str]:
        """'field: compiled X, here Y' for each field that differs (layout fields aside: ``load`` applies them)."""
        return [f"{f.name}: compiled for {getattr(self, f.name)!r}, here {getattr(other, f.name)!r}"
                for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)]


def device_name(device: torch.device | str) -> str:
    device = torch.device(device)
    if device.type != "cuda":
        return device.type
    major, minor = torch.cuda.get_device_capability(device)
    return f"cuda sm_{major}{minor}"


def gpu_name(device: torch.device | str) -> str | None:
    device = torch.device(device)
    return torch.cuda.get_device_name(device) if device.type == "cuda" else None


def fused_qkv(unet: FLAPDenoisingUNet) -> bool:
    modules = dict(unet.unet.named_modules())
    return any(modules[name].processor.qkv_weight is not None for name in unet.reference_layers)


# ---------------------------------------------------------------------- the exported functions
class DenoiserPass(nn.Module):
    """One denoiser call as a pure function of its tensors (what ``torch.export`` needs).

    sample (rows, C, F, h, w), timestep (0-d), tokens (rows, F, N, D), reference keys and values (one pair per
    reference layer) and, for the shallow pass, the cached deep feature (rows, F, ...).  Returns the noise and,
    for the full pass, the deep feature to cache."""

    def __init__(self, unet: FLAPDenoisingUNet, shallow: bool, cache_branch: int):
        super().__init__()
        self.unet = unet
        self.shallow = shallow
        self.cache_branch = cache_branch

    def forward(self, sample, timestep, tokens, keys, values, feature=None):
        modules = dict(self.unet.unet.named_modules())
        for name, key, value in zip(self.unet.reference_layers, keys, values):
            modules[name].processor.set_reference(key, value)
        cache = DeepCache(None if feature is None else feature.flatten(0, 1))
        eps = self.unet(sample, timestep, tokens=tokens.flatten(0, 1), cache=cache, shallow=self.shallow,
                        cache_branch=self.cache_branch)
        return eps if self.shallow else (eps, cache.feature)


class DecoderPass(nn.Module):
    """Scaled latents -> images in [-1, 1] (the pipeline's ``decode_latents`` after its dtype cast)."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, latents):
        return self.vae.decode(latents / self.vae.config.scaling_factor).sample


def reference_inputs(kv: ReferenceKV, layers: list[str]) -> tuple[tuple, tuple]:
    """The reference keys and values as the programs take them: in layer order, contiguous."""
    return (tuple(kv[name][0].contiguous() for name in layers), tuple(kv[name][1].contiguous() for name in layers))


# ---------------------------------------------------------------------- compiling
def compile_pipeline(pipe, folder: str | Path, *, window: int = 16, decode_chunk: int = 8, cache_branch: int = 0,
                     parts: tuple[str, ...] = PARTS, log_fn: Callable[[str], None] = print) -> dict:
    """Export and AOT-compile ``parts`` of an inference-ready pipeline (``optimize_for_inference`` first) into
    ``folder``; returns the manifest (target, parts, seconds per part).  Needs a GPU like the one that will run
    the artifacts (or a CPU for CPU artifacts) and a C++ compiler."""
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown parts {sorted(unknown)}; choose from {PARTS}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = AOTTarget.of(pipe, window=window, decode_chunk=decode_chunk, cache_branch=cache_branch)
    unet, device, dtype = pipe.denoising_unet, pipe.device, pipe.denoising_unet.dtype
    c, h, w = pipe.latent_shape
    rows = torch.export.Dim("rows", min=1, max=2)
    with torch.no_grad():
        reference = pipe.prepare_reference(torch.zeros(pipe.resolution, pipe.resolution, 3, dtype=torch.uint8).numpy())
    keys, values = reference_inputs(reference.kv, unet.reference_layers)
    n_tokens = unet.condition_encoder.config.head_tokens + unet.condition_encoder.config.expression_tokens
    sample = torch.randn(2, c, window, h, w, device=device)
    timestep = torch.tensor(500, device=device)
    tokens = torch.randn(2, window, n_tokens, unet.unet.config.cross_attention_dim, device=device, dtype=dtype)
    ref_dims = (tuple(None for _ in keys), tuple(None for _ in values))
    timings = {}
    cxx = cpp_compiler()
    manifest = {"target": asdict(target), "compiled_on": gpu_name(device), "compiler": cxx, "parts": {},
                "compile_seconds": timings}

    def build(name: str, module: nn.Module, args: tuple, dynamic_shapes) -> object:
        start = time.perf_counter()
        with torch.no_grad(), speed.attention_preference(device), torch._inductor.config.patch({"cpp.cxx": (cxx,)}):
            program = torch.export.export(module, args, dynamic_shapes=dynamic_shapes, strict=False)
            path = torch._inductor.aoti_compile_and_package(program, package_path=str(folder / f"{name}.pt2"),
                                                            inductor_configs=INDUCTOR_CONFIGS)
        timings[name] = round(time.perf_counter() - start, 2)
        manifest["parts"][name] = Path(path).name
        tensors = component_tensors(pipe, name)
        names = sorted(fqn for fqn in [*program.state_dict, *program.constants] if fqn in tensors)
        manifest.setdefault("weights", {})[name] = weights_fingerprint(tensors, names)
        log_fn(f"AOT {name}: compiled in {timings[name]:.1f} s")
        _write_manifest(folder, manifest)
        return program

    try:
        feature = None
        if "denoiser_full" in parts or "denoiser_shallow" in parts:
            with torch.no_grad():
                _, feature = DenoiserPass(unet, False, cache_branch)(sample, timestep, tokens, keys, values)
        if "denoiser_full" in parts:
            build("denoiser_full", DenoiserPass(unet, False, cache_branch), (sample, timestep, tokens, keys, values),
                  ({0: rows}, None, {0: rows}, *ref_dims))
        if "denoiser_shallow" in parts:
            feature = feature.unflatten(0, (2, window))
            build("denoiser_shallow", DenoiserPass(unet, True, cache_branch),
                  (sample, timestep, tokens, keys, values, feature), ({0: rows}, None, {0: rows}, *ref_dims, {0: rows}))
        if "vae_decoder" in parts and pipe.vae is not None:
            frames = torch.export.Dim("frames", min=1, max=decode_chunk)
            latents = torch.randn(min(2, decode_chunk), c, h, w, device=device, dtype=pipe.vae.dtype)
            build("vae_decoder", DecoderPass(pipe.vae), (latents,), ({0: frames},))
        if "reference_net" in parts:
            latent = torch.randn(1, c, h, w, device=device, dtype=pipe.reference_net.dtype)
            build("reference_net", pipe.reference_net, (latent,), None)
    finally:
        unet.set_reference(None)
    return manifest


def weights_fingerprint(tensors: dict[str, torch.Tensor], names: list[str]) -> dict:
    """What a program's weights were: a digest of their names, shapes and dtypes, and each tensor's sum and sum of
    squares (one reduction per tensor on its device; compared with a tolerance, so CPU and GPU sums agree)."""
    layout = hashlib.sha1("\n".join(f"{n}:{tuple(tensors[n].shape)}:{tensors[n].dtype}" for n in names).encode())
    with torch.no_grad():
        sums = torch.stack([torch.stack([tensors[n].float().sum(), tensors[n].float().square().sum()])
                            for n in names]).cpu() if names else torch.zeros(0, 2)
    return {"names": names, "layout": layout.hexdigest(), "sums": sums.tolist()}


def same_weights(tensors: dict[str, torch.Tensor], saved: dict | None) -> str | None:
    """None when ``tensors`` hold the weights ``saved`` describes, else what differs."""
    if not saved:
        return "no weight fingerprint in the manifest"
    missing = [n for n in saved["names"] if n not in tensors]
    if missing:
        return f"this model lacks {missing[0]} (another architecture)"
    here = weights_fingerprint(tensors, saved["names"])
    if here["layout"] != saved["layout"]:
        return "weight shapes or dtypes differ (another architecture)"
    a, b = torch.tensor(here["sums"]), torch.tensor(saved["sums"])
    if a.shape != b.shape or not torch.allclose(a, b, rtol=1e-3, atol=1e-4):
        return "the weights' values differ from the ones compiled in (other or fine-tuned weights: recompile)"
    return None


def _write_manifest(folder: Path, manifest: dict) -> None:
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    tmp.replace(folder / MANIFEST)


# ---------------------------------------------------------------------- loading
#: Each part's pipeline component, and the prefix its exported module puts before the component's tensor names.
_COMPONENT = {"denoiser_full": ("denoising_unet", "unet."), "denoiser_shallow": ("denoising_unet", "unet."),
              "vae_decoder": ("vae", "vae."), "reference_net": ("reference_net", "")}


@dataclass
class CompiledParts:
    """Loaded AOTInductor programs bound to a pipeline's weights (None where a part was not compiled)."""

    target: AOTTarget
    denoiser_full: object | None = None
    denoiser_shallow: object | None = None
    vae_decoder: object | None = None
    reference_net: object | None = None
    load_seconds: float = 0.0

    @property
    def loaded(self) -> list[str]:
        return [name for name in PARTS if getattr(self, name) is not None]

    def fits(self, pipe) -> bool:
        """Still the device and dtype the programs were built for (``.to()`` may have changed them)."""
        return (device_name(pipe.device) == self.target.device
                and str(pipe.denoising_unet.unet.conv_in.weight.dtype) == self.target.dtype)

    def decodes(self, latents: torch.Tensor) -> bool:
        return (self.vae_decoder is not None and 1 <= latents.shape[0] <= self.target.decode_chunk
                and tuple(latents.shape[1:]) == self.target.latent_shape)

    def encodes_reference(self, latent: torch.Tensor) -> bool:
        return self.reference_net is not None and tuple(latent.shape) == (1, *self.target.latent_shape)


class CompiledDenoiser:
    """Called by the sampler exactly like ``FLAPDenoisingUNet``; runs the compiled programs for the shapes they
    were built for and the eager model (with the same reference installed) for anything else."""

    def __init__(self, eager: FLAPDenoisingUNet, parts: CompiledParts, kv: ReferenceKV):
        self.eager = eager
        self.parts = parts
        self.keys, self.values = reference_inputs(kv, eager.reference_layers)
        self.dtype = eager.dtype
        self.compiled_calls = 0
        self.eager_calls = 0

    def fits(self, sample: torch.Tensor, shallow: bool, cache_branch: int, cache: DeepCache | None) -> bool:
        target = self.parts.target
        program = self.parts.denoiser_shallow if shallow else self.parts.denoiser_full
        return (program is not None and sample.shape[0] in (1, 2) and sample.shape[2] == target.window
                and (sample.shape[1], *sample.shape[3:]) == target.latent_shape and cache_branch == target.cache_branch
                and (not shallow or (cache is not None and cache.feature is not None)))

    def __call__(self, sample, timestep, *, tokens, cache: DeepCache | None = None, shallow: bool = False,
                 cache_branch: int = 0):
        if not self.fits(sample, shallow, cache_branch, cache):
            self.eager_calls += 1
            return self.eager(sample, timestep, tokens=tokens, cache=cache, shallow=shallow, cache_branch=cache_branch)
        self.compiled_calls += 1
        rows, frames = sample.shape[0], sample.shape[2]
        args = (sample.float().contiguous(), torch.as_tensor(timestep, device=sample.device).reshape(()),
                tokens.to(self.dtype).reshape(rows, frames, *tokens.shape[1:]).contiguous(), self.keys, self.values)
        if shallow:
            feature = cache.feature[: rows * frames].unflatten(0, (rows, frames)).contiguous()
            return self.parts.denoiser_shallow(*args, feature)
        eps, feature = self.parts.denoiser_full(*args)
        if cache is not None:
            cache.feature = feature
        return eps


def read_manifest(folder: str | Path) -> dict | None:
    path = Path(folder) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else None


def component_tensors(pipe, part: str) -> dict[str, torch.Tensor]:
    """The live parameters and buffers a part's program reads, under the program's own constant names."""
    component, prefix = _COMPONENT[part]
    model = getattr(pipe, component)
    if model is None:
        return {}
    return {prefix + name: tensor for name, tensor in list(model.named_parameters()) + list(model.named_buffers())
            if tensor is not None}


def load(pipe, folder: str | Path) -> tuple[CompiledParts | None, str]:
    """Load the artifacts in ``folder`` for ``pipe``, which must already have the manifest's layout
    (``FLAPPipeline.load_compiled`` does that).  Returns (parts, note); parts is None, and the note says why,
    when the folder has no artifacts or they were built for something else: the pipeline then runs eagerly."""
    start = time.perf_counter()
    try:
        manifest = read_manifest(folder)
    except (OSError, json.JSONDecodeError) as exc:
        return None, f"compiled artifacts in {folder} are unreadable ({exc}); running eagerly"
    if manifest is None:
        return None, f"no compiled artifacts in {folder} ({MANIFEST} missing); running eagerly"
    compiled = AOTTarget.from_json(manifest["target"])
    here = AOTTarget.of(pipe, window=compiled.window, decode_chunk=compiled.decode_chunk,
                        cache_branch=compiled.cache_branch)
    differences = compiled.differences(here)
    if differences:
        return None, (f"compiled artifacts in {folder} do not match this process ({'; '.join(differences)}); "
                      "running eagerly (recompile them here: python -m flap.engines.diffusion.aot)")
    parts = CompiledParts(target=compiled)
    for name, filename in manifest["parts"].items():
        if name not in PARTS:
            continue
        differs = same_weights(component_tensors(pipe, name), manifest.get("weights", {}).get(name))
        if differs:
            return None, f"compiled {name} in {folder} does not fit this model: {differs}; running eagerly"
        try:
            program = torch._inductor.aoti_load_package(str(Path(folder) / filename))
        except Exception as exc:  # a broken or foreign package must not stop the eager path
            return None, f"compiled {name} in {folder} could not be loaded ({type(exc).__name__}: {exc}); running eagerly"
        setattr(parts, name, program)
    parts.load_seconds = time.perf_counter() - start
    return parts, f"loaded compiled {', '.join(parts.loaded)} from {folder} in {parts.load_seconds:.1f} s"
