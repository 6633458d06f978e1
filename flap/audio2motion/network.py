"""Audio-to-FLAME: speech -> FLAP's per-frame 120-D condition, conditioned on emotion and talking style.

A wav2vec2-class audio encoder (transformers' ``Wav2Vec2Model``; pretrained weights by hub id, e.g.
``facebook/wav2vec2-base``) gives 50 Hz features, which are resampled to the video's frame times; a temporal
transformer encoder, told the emotion (one of ``EMOTION_NAMES`` times an intensity) and the speaker style (a
learned embedding per style id), predicts the condition.  Output heads are bounded so any weights produce a valid
``MotionSequence`` (head rotation within +-max_head_rotation rad, eye rotations near forward, jaw within
+-max_jaw rad, eyelids in [0, 1]).  FLAP uses it instead of the embedded rule-based generator when its weights are
present, and it exists to stop "reference-expression bias": the expression comes from the speech and the chosen
emotion, never from the portrait.

Saved as a diffusers-style folder (``config.json`` + ``diffusion_pytorch_model.safetensors``), so it is also a
component of ``FLAPPipeline``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import ModelMixin
from diffusers.configuration_utils import ConfigMixin, register_to_config
from torch import nn
from transformers import Wav2Vec2Config, Wav2Vec2Model

from flap.errors import AudioInputError, ControlRangeError
from flap.motion.emotions import EMOTION_NAMES
from flap.motion.representation import CONDITION_DIM, CONDITION_LAYOUT, MotionSequence
from flap.motion.rotations import IDENTITY_6D

DEFAULT_AUDIO_ENCODER = "facebook/wav2vec2-base"
ENV_AUDIO2FLAME = "FLAP_AUDIO2FLAME"
SUBFOLDER = "audio_to_flame"  # its folder inside a saved FLAPPipeline
_CONFIG_BOOKKEEPING = ("transformers_version", "architectures", "_name_or_path", "torch_dtype", "dtype", "model_type")


def tiny_audio_encoder_config() -> dict:
    """A ~30k-parameter wav2vec2 for tests (same structure as wav2vec2-base, tiny widths)."""
    return Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                          conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                          mask_time_prob=0.0).to_diff_dict()


def _encoder_config(config: dict | None) -> Wav2Vec2Config:
    values = {k: v for k, v in (config or {}).items() if k not in _CONFIG_BOOKKEEPING}
    return Wav2Vec2Config(**values)


def sinusoidal_positions(num: int, dim: int, device=None, dtype=torch.float32) -> torch.Tensor:
    position = torch.arange(num, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(num, dim, device=device)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq[: dim // 2])
    return table.to(dtype)


class Audio2FlameNetwork(ModelMixin, ConfigMixin):
    """(B, samples) 16 kHz speech -> (B, frames, 120) FLAP condition."""

    @register_to_config
    def __init__(self, audio_encoder_config: dict | None = None, audio_encoder_id: str = DEFAULT_AUDIO_ENCODER,
                 d_model: int = 256, num_layers: int = 4, num_heads: int = 4, ff_dim: int = 1024, dropout: float = 0.1,
                 num_styles: int = 32, emotions: tuple[str, ...] = EMOTION_NAMES, sample_rate: int = 16000,
                 max_head_rotation: float = 0.6, max_eye_offset: float = 0.3, max_jaw: float = 0.5,
                 expression_range: float = 3.0):
        super().__init__()
        self.audio_encoder = Wav2Vec2Model(_encoder_config(audio_encoder_config))
        self.audio_proj = nn.Linear(self.audio_encoder.config.hidden_size, d_model)
        self.emotion_proj = nn.Linear(len(emotions), d_model)
        self.style = nn.Embedding(num_styles, d_model)
        layer = nn.TransformerEncoderLayer(d_model, num_heads, ff_dim, dropout, batch_first=True, norm_first=True)
        self.temporal = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, CONDITION_DIM)
        self.register_buffer("identity_6d", torch.tensor(np.concatenate([IDENTITY_6D, IDENTITY_6D]), dtype=torch.float32),
                             persistent=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def tiny(cls, **overrides) -> "Audio2FlameNetwork":
        values = dict(audio_encoder_config=tiny_audio_encoder_config(), audio_encoder_id="", d_model=32, num_layers=2,
                      num_heads=2, ff_dim=64, num_styles=4)
        values.update(overrides)
        return cls(**values)

    @classmethod
    def from_audio_encoder(cls, audio_encoder: str = DEFAULT_AUDIO_ENCODER, token: str | None = None,
                           **kwargs) -> "Audio2FlameNetwork":
        """A new network whose audio encoder has pretrained weights (hub id or folder); the rest is random."""
        encoder = Wav2Vec2Model.from_pretrained(audio_encoder, token=token)
        model = cls(audio_encoder_config=encoder.config.to_diff_dict(), audio_encoder_id=str(audio_encoder), **kwargs)
        model.audio_encoder.load_state_dict(encoder.state_dict())
        return model

    def freeze_audio_feature_encoder(self) -> None:
        """Freeze the convolutional feature encoder (usual when fine-tuning wav2vec2 on little data)."""
        self.audio_encoder.freeze_feature_encoder()

    # ------------------------------------------------------------------ forward
    def emotion_vector(self, emotion: torch.Tensor, intensity: torch.Tensor) -> torch.Tensor:
        one_hot = F.one_hot(emotion.long(), len(self.config.emotions)).to(self.out.weight.dtype)
        return one_hot * intensity.to(one_hot.dtype)[:, None]

    def forward(self, waveform: torch.Tensor, num_frames: int, emotion: torch.Tensor | None = None,
                intensity: torch.Tensor | None = None, style: torch.Tensor | None = None) -> torch.Tensor:
        """waveform: (B, samples) normalised 16 kHz speech; emotion/style: (B,) indices; intensity: (B,) in [0, 1]."""
        batch = waveform.shape[0]
        device = waveform.device
        emotion = torch.zeros(batch, dtype=torch.long, device=device) if emotion is None else emotion.to(device)
        intensity = torch.ones(batch, device=device) if intensity is None else intensity.to(device)
        style = torch.zeros(batch, dtype=torch.long, device=device) if style is None else style.to(device)
        features = self.audio_encoder(waveform.to(self.out.weight.dtype)).last_hidden_state
        features = F.interpolate(features.transpose(1, 2), size=num_frames, mode="linear", align_corners=False).transpose(1, 2)
        x = self.audio_proj(features)
        x = x + sinusoidal_positions(num_frames, x.shape[-1], device, x.dtype)[None]
        x = x + (self.emotion_proj(self.emotion_vector(emotion, intensity)) + self.style(style))[:, None]
        return self.to_condition(self.out(self.norm(self.temporal(x))))

    def to_condition(self, raw: torch.Tensor) -> torch.Tensor:
        """Unbounded network outputs -> a valid condition (bounded rotations, eyelids in [0, 1])."""
        c = self.config
        parts = {}
        for name, (a, b) in CONDITION_LAYOUT.items():
            value = raw[..., a:b]
            if name == "global_rotation":
                value = c.max_head_rotation * torch.tanh(value)
            elif name == "eyes":
                value = self.identity_6d.to(value.dtype) + c.max_eye_offset * torch.tanh(value)
            elif name == "jaw":
                value = c.max_jaw * torch.tanh(value)
            elif name == "eyelids":
                value = torch.sigmoid(value)
            else:
                value = c.expression_range * torch.tanh(value / c.expression_range)
            parts[name] = value
        return torch.cat([parts[name] for name in CONDITION_LAYOUT], dim=-1)

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def generate(self, waveform: np.ndarray, sample_rate: int, fps: float = 25.0, emotion: str = "neutral",
                 intensity: float = 1.0, style: int = 0) -> MotionSequence:
        """Speech samples (mono or (samples, channels)) -> a MotionSequence at ``fps``."""
        emotion = str(emotion).strip().lower()
        if emotion not in self.config.emotions:
            raise ControlRangeError(f"unknown emotion '{emotion}'; choose one of: {', '.join(self.config.emotions)}")
        if not 0 <= int(style) < self.config.num_styles:
            raise ControlRangeError(f"talking style must be between 0 and {self.config.num_styles - 1}; got {style}")
        if not 0.0 <= float(intensity) <= 1.0:
            raise ControlRangeError(f"emotion intensity must be between 0 and 1; got {intensity}")
        wave = prepare_waveform(waveform, sample_rate, self.config.sample_rate)
        num_frames = max(1, int(round(len(wave) / self.config.sample_rate * fps)))
        device = self.out.weight.device
        was_training = self.training
        self.eval()
        try:
            condition = self(torch.from_numpy(wave)[None].to(device), num_frames,
                             torch.tensor([self.config.emotions.index(emotion)], device=device),
                             torch.tensor([float(intensity)], device=device), torch.tensor([int(style)], device=device))
        finally:
            self.train(was_training)
        meta = {"source": "audio2flame", "emotion": emotion, "intensity": float(intensity), "style": int(style)}
        return MotionSequence.from_condition(condition[0].float().cpu().numpy(), fps, meta)


def prepare_waveform(waveform: np.ndarray, sample_rate: int, target_rate: int) -> np.ndarray:
    """Mono float32 at ``target_rate``, zero mean and unit variance (what wav2vec2-base was trained on)."""
    wave = np.asarray(waveform, dtype=np.float32)
    if wave.ndim == 2:
        wave = wave.mean(axis=1)
    if wave.ndim != 1 or wave.size == 0:
        raise AudioInputError(f"speech must be a non-empty mono or (samples, channels) array; got shape {wave.shape}")
    if not np.all(np.isfinite(wave)):
        raise AudioInputError("speech samples contain NaN or Inf")
    if int(sample_rate) != int(target_rate):
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(int(sample_rate), int(target_rate))
        wave = resample_poly(wave, int(target_rate) // g, int(sample_rate) // g).astype(np.float32)
    # at least one wav2vec2 frame (400 samples receptive field)
    if wave.size < 400:
        wave = np.pad(wave, (0, 400 - wave.size))
    return ((wave - wave.mean()) / (wave.std() + 1e-7)).astype(np.float32)


def find_audio2flame(source: str | None = None) -> str | None:
    """Where trained Audio-to-FLAME weights are, without loading them: ``source``, else $FLAP_AUDIO2FLAME (a folder
    or hub id), else the ``audio_to_flame/`` folder of the full model ($FLAP_MODEL) when it is on this machine.
    None means the embedded motion generator should be used."""
    from pathlib import Path

    from flap.settings import settings

    source = source or settings().audio2flame
    if source:
        return str(source)
    from flap.weights import is_repo_id

    model = settings().model
    if not model:
        return None
    folder = Path(model).expanduser()
    if is_repo_id(model):
        try:
            from huggingface_hub import snapshot_download

            folder = Path(snapshot_download(model, local_files_only=True, allow_patterns=[f"{SUBFOLDER}/*"]))
        except Exception:  # not cached: do not download just to look
            return None
    return str(folder / SUBFOLDER) if (folder / SUBFOLDER / "config.json").is_file() else None


def load_audio2flame(source: str | None = None, device: str = "cpu") -> Audio2FlameNetwork | None:
    """The trained network (see ``find_audio2flame``) on ``device`` (CPU works), or None when there is none."""
    from flap.settings import settings

    location = find_audio2flame(source)
    if location is None:
        return None
    token = settings().hf_token
    return Audio2FlameNetwork.from_pretrained(location, token=token).to(device).eval()

