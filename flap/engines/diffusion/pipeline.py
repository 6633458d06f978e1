"""``FLAPPipeline``: reference portrait + motion (MotionSequence or (T, 120) condition) -> video frames.

Components (each a subfolder of a saved pipeline): ``reference_net`` (FLAPReferenceNet), ``denoising_unet``
(FLAPDenoisingUNet, which holds the FLAME condition encoder), ``scheduler`` (DDIM), ``vae`` (AutoencoderKL, or
None for pixel-space models) and optionally ``audio_to_flame`` (Audio2FlameNetwork).

Three ways to get one: ``from_pretrained(repo id or folder)`` (checked first, with clear errors), ``from_parts``
(SD-1.5 UNet + VAE, an AnimateDiff motion adapter and a wav2vec2 encoder by hub id: the starting point for
training) and ``from_model_config`` (random weights, any size: tests, benchmarks, small experiments).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from diffusers import AutoencoderKL, DDIMScheduler, DiffusionPipeline, MotionAdapter, UNet2DConditionModel, UNetMotionModel
from PIL import Image

from flap.engines.diffusion import aot, speed
from flap.engines.diffusion.compose import image_to_tensor, paste_back, tensor_to_frames
from flap.engines.diffusion.config import ConditionEncoderConfig, FLAPModelConfig
from flap.engines.diffusion.denoising_unet import FLAPDenoisingUNet, ReferenceKV
from flap.engines.options import FullModelOptions
from flap.engines.diffusion.reference_net import FLAPReferenceNet
from flap.engines.diffusion.sampling import Progress, SamplingOptions, SamplingStats, frame_noise, sample_latents
from flap.errors import MotionFormatError
from flap.motion.representation import CONDITION_DIM, MotionSequence
from flap.weights import locate_weights

_DEFAULTS = FullModelOptions()

#: Stage -> parameter groups trained (FLAP's Progressively Focused Training; the ReferenceNet trains in 1 and 2).
#: Stage 0 is the ablation's baseline: everything at once, on video clips with the full condition.
ALL_AT_ONCE = 0
TRAINING_STAGES: dict[int, tuple[str, ...]] = {
    ALL_AT_ONCE: ("head_motion", "expression", "spatial", "reference", "temporal"),
    1: ("head_motion", "expression", "spatial", "reference"),  # head-motion image stage: all layers (expression tokens dropped)
    2: ("expression", "spatial", "reference"),  # expression image stage: head-motion attention frozen
    3: ("temporal",),  # video stage: temporal layers only
}


def default_scheduler() -> DDIMScheduler:
    """SD-1.5's noise schedule with DDIM; 'trailing' spacing so that 4-step sampling starts from pure noise."""
    return DDIMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                         clip_sample=False, set_alpha_to_one=False, steps_offset=1, prediction_type="epsilon",
                         timestep_spacing="trailing")


@dataclass
class ReferenceState:
    """Everything about the portrait that sampling needs, computed once per video."""

    kv: ReferenceKV
    size: tuple[int, int]  # (H, W) of the portrait crop given; output frames come back at this size


@dataclass
class FLAPOutput:
    frames: np.ndarray  # (T, H, W, 3) uint8


class FLAPPipeline(DiffusionPipeline):
    model_cpu_offload_seq = "reference_net->denoising_unet->vae"
    _optional_components = ["vae", "audio_to_flame"]
    _compiled = None  # flap.engines.diffusion.aot.CompiledParts once load_compiled succeeded

    def __init__(self, reference_net: FLAPReferenceNet, denoising_unet: FLAPDenoisingUNet, scheduler: DDIMScheduler,
                 vae: AutoencoderKL | None = None, audio_to_flame=None):
        super().__init__()
        self.register_modules(reference_net=reference_net, denoising_unet=denoising_unet, scheduler=scheduler, vae=vae,
                              audio_to_flame=audio_to_flame)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_model_config(cls, config: FLAPModelConfig | None = None, audio_to_flame=None,
                          device: str | torch.device | None = None, dtype: torch.dtype = torch.float32) -> "FLAPPipeline":
        """Random weights at any size (build under ``device`` directly: no slow CPU initialisation of big models)."""
        config = config or FLAPModelConfig.sd15()
        with torch.device(device or "cpu"):
            reference_net = FLAPReferenceNet(unet_config=config.unet.unet2d_kwargs(),
                                             context_tokens=config.reference_context_tokens)
            denoising_unet = FLAPDenoisingUNet(unet_config=config.unet.motion_unet_kwargs(),
                                               condition_config=asdict(config.condition))
            vae = None
            if config.vae:
                n = len(config.vae_block_out_channels)
                vae = AutoencoderKL(in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * n,
                                    up_block_types=["UpDecoderBlock2D"] * n,
                                    block_out_channels=list(config.vae_block_out_channels),
                                    layers_per_block=2 if n == 4 else 1, latent_channels=config.unet.in_channels,
                                    norm_num_groups=config.vae_norm_num_groups, sample_size=config.resolution)
        pipe = cls(reference_net=reference_net, denoising_unet=denoising_unet, scheduler=default_scheduler(), vae=vae,
                   audio_to_flame=audio_to_flame)
        if dtype != torch.float32:
            pipe.to(dtype=dtype)
        for model in pipe._models():
            model.eval()
        return pipe

    @classmethod
    def from_parts(cls, base_model: str, motion_adapter: str, audio_encoder: str | None = None, *,
                   condition: ConditionEncoderConfig | None = None, token: str | None = None,
                   dtype: torch.dtype | None = None, **audio_kwargs) -> "FLAPPipeline":
        """Compose from standard parts to start training: an SD-1.5-layout model (``unet/`` and ``vae/`` subfolders,
        e.g. a hub id of SD 1.5), an AnimateDiff ``MotionAdapter`` and, optionally, a wav2vec2 encoder (hub ids or
        folders).  ReferenceNet and the denoiser's spatial layers both start from the SD UNet."""
        kwargs = {"token": token} if token else {}
        sd_unet = UNet2DConditionModel.from_pretrained(base_model, subfolder="unet", **kwargs)
        vae = AutoencoderKL.from_pretrained(base_model, subfolder="vae", **kwargs)
        adapter = MotionAdapter.from_pretrained(motion_adapter, **kwargs)
        condition = condition or ConditionEncoderConfig(token_dim=sd_unet.config.cross_attention_dim)
        denoising_unet = FLAPDenoisingUNet.from_motion_unet(UNetMotionModel.from_unet2d(sd_unet, adapter), condition)
        reference_net = FLAPReferenceNet.from_unet2d(sd_unet)
        audio_to_flame = None
        if audio_encoder:
            from flap.audio2motion.network import Audio2FlameNetwork

            audio_to_flame = Audio2FlameNetwork.from_audio_encoder(audio_encoder, token=token, **audio_kwargs)
        pipe = cls(reference_net=reference_net, denoising_unet=denoising_unet, scheduler=default_scheduler(), vae=vae,
                   audio_to_flame=audio_to_flame)
        if dtype is not None:
            pipe.to(dtype=dtype)
        return pipe

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike | None = None, **kwargs) -> "FLAPPipeline":
        """Load from a hub repo id or a folder ($FLAP_MODEL when not given; $HF_TOKEN for private repos).

        The folder is checked first, so a missing component or file is named in an EngineUnavailableError
        instead of surfacing as a loader traceback."""
        folder = locate_weights(pretrained_model_name_or_path, token=kwargs.pop("token", None),
                                local_files_only=kwargs.pop("local_files_only", False))
        index = json.loads((Path(folder) / "model_index.json").read_text())
        if (index.get("audio_to_flame") or [None])[0]:
            import flap.audio2motion.network  # noqa: F401  (diffusers resolves custom classes from sys.modules)
        return super().from_pretrained(folder, **kwargs)

    def _models(self) -> list[torch.nn.Module]:
        return [m for m in (self.reference_net, self.denoising_unet, self.vae, self.audio_to_flame) if m is not None]

    # ------------------------------------------------------------------ geometry
    @property
    def latent_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1) if self.vae is not None else 1

    @property
    def resolution(self) -> int:
        return self.denoising_unet.unet.config.sample_size * self.latent_factor

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        side = self.denoising_unet.unet.config.sample_size
        return (self.denoising_unet.unet.config.in_channels, side, side)

    # ------------------------------------------------------------------ images <-> latents
    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [-1, 1] -> latents (the image itself in pixel space)."""
        image = image.to(self.device, self.denoising_unet.dtype)
        if self.vae is None:
            return image
        return self.vae.encode(image.to(self.vae.dtype)).latent_dist.mode() * self.vae.config.scaling_factor

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """(N, C, h, w) latents -> (N, 3, H, W) images in [-1, 1]."""
        if self.vae is None:
            return latents.float()
        compiled = self._compiled_parts()
        if compiled is not None and compiled.decodes(latents):
            return compiled.vae_decoder(latents.to(self.vae.dtype).contiguous())
        with speed.attention_preference(self.device):
            return self.vae.decode(latents.to(self.vae.dtype) / self.vae.config.scaling_factor).sample

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def prepare_reference(self, image: np.ndarray | Image.Image) -> ReferenceState:
        """Encode the portrait crop once: VAE latent, ReferenceNet features, and their keys/values in every
        reference-attention layer of the denoiser (shared by all steps, windows and both guidance branches)."""
        size = (image.height, image.width) if isinstance(image, Image.Image) else tuple(np.asarray(image).shape[:2])
        with speed.attention_preference(self.device):
            latent = self.encode_image(image_to_tensor(image, self.resolution)).to(self.reference_net.dtype)
            compiled = self._compiled_parts()
            if compiled is not None and compiled.encodes_reference(latent):
                features = compiled.reference_net(latent.contiguous())
            else:
                features = self.reference_net(latent)
        return ReferenceState(kv=self.denoising_unet.project_reference(features), size=size)

    def motion_condition(self, motion: MotionSequence | np.ndarray) -> np.ndarray:
        condition = motion.to_condition() if isinstance(motion, MotionSequence) else np.asarray(motion, dtype=np.float32)
        if condition.ndim != 2 or condition.shape[1] != CONDITION_DIM or condition.shape[0] < 1:
            raise MotionFormatError(f"the motion must be a MotionSequence or a (frames, {CONDITION_DIM}) condition; "
                                    f"got shape {condition.shape}")
        return condition

    @torch.no_grad()
    def stream(self, reference: ReferenceState | np.ndarray | Image.Image, motion: MotionSequence | np.ndarray, *,
               options: SamplingOptions | None = None, seed: int = 0, progress: Progress | None = None,
               output: str = "frames", stats: SamplingStats | None = None, **option_changes) -> Iterator:
        """Yield the video frame by frame as windows finish: (H, W, 3) uint8 frames at the reference crop's size
        (``output="frames"``), or (C, h, w) latents (``output="latents"``).  Memory does not grow with length.

        ``option_changes`` override fields of ``options`` (e.g. ``num_inference_steps=4, guidance_scale=2.0``).
        """
        options = replace(options or SamplingOptions(), **option_changes).validated()
        if not isinstance(reference, ReferenceState):
            reference = self.prepare_reference(reference)
        condition = torch.from_numpy(self.motion_condition(motion)).to(self.device)
        unet = self.denoising_unet
        unet.set_reference(reference.kv)
        compiled = self._compiled_parts()
        model = unet if compiled is None else aot.CompiledDenoiser(unet, compiled, reference.kv)
        shape = self.latent_shape

        def tokens_for(a: int, b: int) -> torch.Tensor:
            return unet.encode_condition(condition[None, a:b])

        def noise_for(a: int, b: int) -> torch.Tensor:
            return frame_noise(seed, a, b, shape).to(self.device)

        chunk = max(1, options.decode_chunk)
        for _, latents in sample_latents(model, self.scheduler, condition.shape[0], tokens_for, noise_for, options,
                                         progress=progress, stats=stats):
            latents = latents[0].transpose(0, 1)  # (n, C, h, w)
            if output == "latents":
                yield from latents
                continue
            for i in range(0, latents.shape[0], chunk):
                yield from tensor_to_frames(self.decode_latents(latents[i: i + chunk]), reference.size)

    def __call__(self, reference: ReferenceState | np.ndarray | Image.Image, motion: MotionSequence | np.ndarray, *,
                 num_inference_steps: int = _DEFAULTS.steps, guidance_scale: float = _DEFAULTS.guidance, seed: int = 0,
                 options: SamplingOptions | None = None, progress: Progress | None = None,
                 photo: np.ndarray | None = None, crop_box: tuple[int, int, int, int] | None = None) -> FLAPOutput:
        """The whole video at once; with ``photo`` and ``crop_box`` the frames are pasted back into the photo."""
        frames = []
        for frame in self.stream(reference, motion, options=options, seed=seed, progress=progress,
                                 num_inference_steps=num_inference_steps, guidance_scale=guidance_scale):
            frames.append(paste_back(frame, photo, crop_box) if photo is not None else frame)
        return FLAPOutput(frames=np.stack(frames))

    def motion_from_audio(self, waveform: np.ndarray, sample_rate: int, fps: float = 25.0, emotion: str = "neutral",
                          intensity: float = 1.0, style: int = 0) -> MotionSequence:
        """Audio-to-FLAME, when this pipeline has its weights."""
        if self.audio_to_flame is None:
            from flap.errors import EngineUnavailableError

            raise EngineUnavailableError("this FLAP model has no Audio-to-FLAME weights (no audio_to_flame/ folder); "
                                         "use the embedded motion generator or add a trained Audio2FlameNetwork")
        return self.audio_to_flame.generate(waveform, sample_rate, fps=fps, emotion=emotion, intensity=intensity,
                                            style=style)

    # ------------------------------------------------------------------ speed
    def optimize_for_inference(self, dtype: torch.dtype = torch.bfloat16, fuse_qkv: bool = True,
                               channels_last: bool | None = None, compile: bool = False,
                               **compile_kwargs) -> "FLAPPipeline":
        """bf16 weights, fused q/k/v in the reference self-attentions, cuDNN autotuning, and with ``compile``
        regional ``torch.compile`` of the denoiser's blocks and of the VAE decoder.  ``channels_last`` (NHWC
        convolutions in the two UNets) defaults to on exactly when compiling, where it measured faster (see
        ``speed``).  Attention always prefers cuDNN's fused kernel (``speed.attention_preference``)."""
        if channels_last is None:
            channels_last = compile  # NHWC pays compiled and costs eager (speed.py)
        for model in (self.reference_net, self.denoising_unet, self.vae):
            if model is not None:
                model.to(dtype=dtype)
        for model in (self.reference_net, self.denoising_unet):
            model.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        if fuse_qkv:
            self.denoising_unet.fuse_qkv_projections()
        speed.tune_convolutions(self.device)
        if compile:
            # dynamic shapes, as benchmarked: guided (2 rows) and unguided (1 row) passes share one graph per block
            compile_kwargs = {"dynamic": True, **compile_kwargs}
            self.denoising_unet.compile_blocks(**compile_kwargs)
            self.compile_decoder(**compile_kwargs)
        return self

    def compile_ahead_of_time(self, folder: str | os.PathLike, **kwargs) -> dict:
        """AOTInductor-compile the denoiser, VAE decoder and ReferenceNet into ``folder`` (``aot.compile_pipeline``;
        call ``optimize_for_inference`` first: the artifacts keep its dtype and layout).  Returns the manifest."""
        return aot.compile_pipeline(self, folder, **kwargs)

    def load_compiled(self, folder: str | os.PathLike | None = None, dtype: torch.dtype = torch.bfloat16) -> str:
        """Make the pipeline inference-ready as the artifacts in ``folder`` (default: ``aot/`` beside the weights)
        were compiled (dtype, layout, fused q/k/v) and run them from now on.  Returns a note saying what was
        loaded, or why the pipeline runs eagerly instead (no artifacts; another GPU, torch, dtype or shape)."""
        folder = Path(folder) if folder is not None else Path(self.name_or_path or ".") / aot.AOT_FOLDER
        self._compiled = None
        try:
            manifest = aot.read_manifest(folder)
        except (OSError, ValueError):
            manifest = None
        layout = aot.AOTTarget.from_json(manifest["target"]) if manifest and "target" in manifest else None
        self.optimize_for_inference(dtype=dtype, channels_last=layout.channels_last if layout else None,
                                    fuse_qkv=layout.fused_qkv if layout else True)
        self._compiled, note = aot.load(self, folder)
        return note

    def _compiled_parts(self):
        """The loaded AOT programs, or None; dropped (eager from then on) once the pipeline moved to another device
        or dtype than they were built for."""
        if self._compiled is not None and not self._compiled.fits(self):
            self._compiled = None
            import logging

            logging.getLogger("flap.diffusion.aot").warning(
                "the pipeline moved to another device or dtype than its compiled artifacts; running eagerly")
        return self._compiled

    def compile_decoder(self, **compile_kwargs) -> bool:
        """``torch.compile`` the VAE decoder in place: its GroupNorm + SiLU pairs fuse and it is a sixth of the
        per-frame work of the fast sampler.  Dynamic shapes, so a short last chunk does not recompile."""
        if self.vae is None:
            return False
        self.vae.decoder.compile(**{"dynamic": True, **compile_kwargs})
        return True

    # ------------------------------------------------------------------ training
    def parameter_groups(self) -> dict[str, dict[str, torch.nn.Parameter]]:
        """Denoiser groups (``head_motion``, ``expression``, ``temporal``, ``spatial``) plus ``reference``
        (the ReferenceNet); names are prefixed with the component."""
        groups = {name: {f"denoising_unet.{k}": p for k, p in params.items()}
                  for name, params in self.denoising_unet.parameter_groups().items()}
        groups["reference"] = {f"reference_net.{k}": p for k, p in self.reference_net.named_parameters()}
        return groups

    def set_training_stage(self, stage: int) -> list[torch.nn.Parameter]:
        """Set ``requires_grad`` for a FLAP training stage (1 head motion, 2 expression, 3 video; 0 everything at
        once, the ablation's baseline) and return the trainable parameters.  The VAE and Audio-to-FLAME stay frozen."""
        if stage not in TRAINING_STAGES:
            raise ValueError(f"training stage must be one of {sorted(TRAINING_STAGES)}; got {stage}")
        trainable = []
        for group, params in self.parameter_groups().items():
            on = group in TRAINING_STAGES[stage]
            for p in params.values():
                p.requires_grad_(on)
                if on:
                    trainable.append(p)
        for model in (self.vae, self.audio_to_flame):
            if model is not None:
                model.requires_grad_(False)
        return trainable
