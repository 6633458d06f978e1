"""Voice activity: Silero VAD (a small neural detector that ignores noise, music and breaths) with a fast
energy/periodicity fallback that needs nothing but numpy.

Silero's stock ``audio_forward`` runs its network once per 32 ms chunk in a Python-level loop (~100 ms per 10 s
here).  Only the LSTM in it is sequential, so :func:`silero_probabilities` runs the same modules batched over all
chunks and the LSTM as one ``torch.nn.LSTM`` call with the model's own weights: identical probabilities
(max difference ~1e-4) in ~10 ms.  If a future silero-vad changes its internals, the stock loop is used.
Without torch: the same network in numpy (flap.audio.silero_numpy), which is what runs by default, since
importing torch alone takes about a second of a cold job.
"""

from __future__ import annotations

import functools
import threading
import warnings
from dataclasses import dataclass

import numpy as np

from flap.audio.features import FrameFeatures, moving_max, runs

SILERO_CHUNK = 512  # samples at 16 kHz = 32 ms
SILERO_CONTEXT = 64
_lock = threading.Lock()


@dataclass
class VadResult:
    speech: np.ndarray  # (N,) bool at the 10 ms analysis hop
    probability: np.ndarray  # (N,) float32 speech probability (energy method: a soft score)
    method: str  # "silero" or "energy"
    noise_floor_db: float


class _SileroRunner:
    """The packaged Silero model plus a batched forward pass over its own submodules."""

    def __init__(self) -> None:
        import torch

        threads = torch.get_num_threads()
        with warnings.catch_warnings():  # silero-vad 6 uses APIs that torch and importlib now deprecate
            warnings.simplefilter("ignore", DeprecationWarning)
            import silero_vad  # importing it calls torch.set_num_threads(1) for the whole process

            torch.set_num_threads(threads)
            self.model = silero_vad.load_silero_vad()
        self.torch = torch
        self.lstm = None
        try:
            inner = self.model._model
            rnn = inner.decoder.rnn
            lstm = torch.nn.LSTM(rnn.weight_ih.shape[1], rnn.weight_hh.shape[1])
            with torch.no_grad():
                lstm.weight_ih_l0.copy_(rnn.weight_ih)
                lstm.weight_hh_l0.copy_(rnn.weight_hh)
                lstm.bias_ih_l0.copy_(rnn.bias_ih)
                lstm.bias_hh_l0.copy_(rnn.bias_hh)
            self.inner, self.lstm = inner, lstm.eval()
            self._batched(np.zeros(SILERO_CHUNK * 2, np.float32))  # checks the layout once
        except Exception:  # internals differ: keep the stock per-chunk loop
            self.lstm = None

    def _batched(self, audio: np.ndarray, block: int = 1024) -> np.ndarray:
        """Encoder over blocks of chunks in parallel, LSTM over time carrying its state between blocks."""
        torch = self.torch
        n = (len(audio) + SILERO_CHUNK - 1) // SILERO_CHUNK
        padded = np.zeros(n * SILERO_CHUNK, np.float32)
        padded[: len(audio)] = audio
        chunks = padded.reshape(n, SILERO_CHUNK)
        context = np.zeros((n, SILERO_CONTEXT), np.float32)
        context[1:] = chunks[:-1, -SILERO_CONTEXT:]
        batch = np.concatenate([context, chunks], axis=1)
        out, state = [], None
        with torch.inference_mode():
            for i in range(0, n, block):
                x = torch.from_numpy(batch[i: i + block])
                feats = self.inner.encoder(self.inner.run_extractors(x)).squeeze(-1)
                hidden, state = self.lstm(feats.unsqueeze(1), state)
                prob = self.inner.decoder.decoder(hidden.squeeze(1).unsqueeze(-1))
                out.append(prob.squeeze(1).mean(dim=1).float().numpy())
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        torch = self.torch
        with _lock:
            # The network is tiny: one thread is fastest, and several threads on a busy machine spin-wait
            # (measured: 300 s of audio in 0.6 s on one thread, 11 s on two while other jobs ran).
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                if self.lstm is not None:
                    return self._batched(audio)
                self.model.reset_states()
                with torch.inference_mode():
                    probs = self.model.audio_forward(torch.from_numpy(np.ascontiguousarray(audio, np.float32)), 16000)
                self.model.reset_states()
                return probs.numpy().reshape(-1)
            finally:
                torch.set_num_threads(threads)


@functools.lru_cache(maxsize=1)
def _silero():
    """The numpy runner on the package's own model file (milliseconds to load), else the torch one."""
    from flap.audio.silero_numpy import NumpySilero, weights_path

    path = weights_path()
    if path is not None:
        try:
            return NumpySilero(path)
        except Exception:  # a silero-vad whose model file has another layout: torch runs it
            pass
    return _SileroRunner()


def silero_available() -> bool:
    """True when the Silero model loads (numpy: a few ms, once; through torch: ~1-2 s, once)."""
    try:
        _silero()
        return True
    except Exception:
        return False


def silero_probabilities(samples: np.ndarray) -> np.ndarray:
    """Speech probability per 32 ms chunk of a 16 kHz signal."""
    return _silero()(samples)


def silero_vad(samples: np.ndarray, num_frames: int, hop_s: float, features: FrameFeatures,
               threshold: float = 0.5) -> VadResult:
    """Silero's decision with hysteresis, trimmed where the signal is near digital silence (Silero keeps
    'speech' on for ~100 ms after the voice stops; a mouth must close there)."""
    # Silero's decisions depend on the absolute level; bring quiet recordings up (at most +40 dB) first.
    peak = float(np.percentile(np.abs(samples), 99.9)) if samples.size else 0.0
    gain = min(0.5 / peak, 100.0) if peak > 0 else 1.0
    probs = silero_probabilities(np.clip(samples * gain, -1.0, 1.0) if gain > 1.0 else samples)
    chunk_t = (np.arange(len(probs)) + 0.5) * SILERO_CHUNK / 16000.0
    frame_t = np.arange(num_frames) * hop_s
    prob = np.interp(frame_t, chunk_t, probs).astype(np.float32)
    speech = _hysteresis(prob, threshold, threshold - 0.15)
    floor = noise_floor_db(features.level_db)
    active = features.level_db > floor + 6.0
    speech &= moving_max(active, int(round(0.08 / hop_s))).astype(bool)
    speech = _clean_mask(speech, hop_s)
    return VadResult(speech, prob, "silero", floor)


def energy_vad(features: FrameFeatures, voiced: np.ndarray) -> VadResult:
    """Level above an adaptive noise floor, confirmed by periodicity nearby: noise bursts without a voice are
    rejected, unvoiced consonants next to vowels are kept."""
    level = features.level_db
    floor = noise_floor_db(level)
    peak = float(np.percentile(level, 97))
    span = max(peak - floor, 1e-3)
    # Threshold: a share of the dynamic range above the floor, at least 6 dB.
    thr_hi = floor + max(6.0, 0.35 * span)
    thr_lo = floor + max(4.0, 0.22 * span)
    score = np.clip((level - floor) / span, 0, 1)
    loud = _hysteresis(level, thr_hi, thr_lo)
    hop = features.hop_s
    periodic = voiced & (level > thr_lo)
    near_voice = moving_max(periodic, int(round(0.25 / hop))).astype(bool)
    speech = loud & near_voice
    speech = _clean_mask(speech, hop)
    prob = np.where(speech, np.maximum(score, 0.5), np.minimum(score, 0.49)).astype(np.float32)
    return VadResult(speech, prob, "energy", floor)


def noise_floor_db(level_db: np.ndarray) -> float:
    """The quiet end of the level distribution (background noise, or -90 dB for digital silence)."""
    if level_db.size == 0:
        return -90.0
    return float(max(np.percentile(level_db, 5), -90.0))


def _hysteresis(x: np.ndarray, high: float, low: float) -> np.ndarray:
    """On above ``high``; stays on while above ``low``."""
    above_low = x > low
    out = np.zeros(len(x), dtype=bool)
    for a, b in runs(above_low):
        if np.any(x[a:b] > high):
            out[a:b] = True
    return out


def _clean_mask(mask: np.ndarray, hop_s: float, min_gap_s: float = 0.12, min_run_s: float = 0.06) -> np.ndarray:
    """Bridge gaps shorter than a stop closure and drop blips shorter than a syllable fragment."""
    out = mask.copy()
    for a, b in runs(~out):
        if a > 0 and b < len(out) and (b - a) * hop_s < min_gap_s:
            out[a:b] = True
    for a, b in runs(out):
        if (b - a) * hop_s < min_run_s:
            out[a:b] = False
    return out
