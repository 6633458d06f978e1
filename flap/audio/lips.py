"""Lip drivers from the sound alone (any language): how open, how spread or rounded, when the lips close, when
the lower lip tucks under the teeth.

- openness: the jaw follows the vowel-band loudness (open vowels are loud) and F1 (F1 rises as the jaw opens).
- spread: F2 against the speaker's own range: high F2 is spread /i e/, low F2 with low F1 is rounded /u o w/;
  the post-alveolar hush /sh/ (a protruded-lip sound) pulls toward rounding.
- closure: a stop or nasal is a sharp level dip inside speech (only its bottom counts, not the vowel
  shoulders); it is a lip closure when nothing hisses inside it (fricatives keep the lips apart) and the
  evidence says labial: a weak, low-frequency release burst or a nasal murmur.  Stops at other places close
  the jaw most of the way too, so an uncertain dip gets a partial value.
- labiodental: weak, flat-spectrum frication (f, v, and th, which looks alike) as opposed to the strong,
  high-peaked hiss of /s/.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flap.audio.features import FrameFeatures, moving_max, runs, smooth


@dataclass(frozen=True)
class LipConfig:
    closure_min_depth_db: float = 7.0  # level dip (against both neighbours) that counts as a closure
    closure_max_s: float = 0.28
    closure_min_s: float = 0.02
    closure_core_db: float = 4.0  # the closure is where the level is within this of the dip's minimum
    spread_octave_scale: float = 0.30  # F2 change (in octaves) for a full spread or rounding
    balance_reference_db: float = -11.0  # typical vowel balance (see FrameFeatures.balance_db)
    balance_scale_db: float = 6.0


@dataclass
class LipDrivers:
    openness: np.ndarray
    spread: np.ndarray
    closure: np.ndarray
    labiodental: np.ndarray


def lip_drivers(features: FrameFeatures, loudness: np.ndarray, speech: np.ndarray, voiced: np.ndarray,
                f0_hz: np.ndarray, config: LipConfig = LipConfig()) -> LipDrivers:
    hop = features.hop_s
    strong_voiced = voiced & speech & (loudness > 0.3)
    f1n = _speaker_scaled(features.f1_hz, strong_voiced, 0.5)

    openness = np.clip(loudness * (0.75 + 0.25 * f1n), 0.0, 1.0)
    closure = _closures(features, loudness, speech, voiced, config)
    labiodental = _labiodental(features, loudness, speech, voiced)
    spread = _spread(features, strong_voiced, f0_hz, speech, f1n, config)
    gate = speech.astype(np.float32)
    return LipDrivers(
        openness=(openness * gate).astype(np.float32),
        spread=(spread * smooth(gate, 0.03 / hop)).astype(np.float32),
        closure=closure.astype(np.float32),
        labiodental=labiodental.astype(np.float32),
    )


def _speaker_scaled(x: np.ndarray, mask: np.ndarray, default: float) -> np.ndarray:
    """x mapped to [0, 1] between the speaker's 10th and 90th percentiles over ``mask``; default elsewhere."""
    if mask.sum() < 10:
        return np.full(len(x), default, np.float32)
    lo, hi = np.percentile(x[mask], [10, 90])
    scaled = np.clip((x - lo) / max(hi - lo, 1e-3), 0, 1)
    return np.where(mask, scaled, default).astype(np.float32)


def _spread(features: FrameFeatures, voiced: np.ndarray, f0_hz: np.ndarray, speech: np.ndarray, f1n: np.ndarray,
            config: LipConfig) -> np.ndarray:
    """Two cues, each against a reference that is half the speaker's own median and half a population value
    (so a clip of a single vowel still reads right): the spectral balance (upper-mid vs low band; robust when F1
    and F2 merge, as in /u w o/) and the second formant."""
    hop = features.hop_s
    n = features.num_frames
    if voiced.sum() >= 3:
        weight = float(np.clip(voiced.sum() * hop / 6.0, 0.0, 0.5))  # trust the clip more when it is long
        bal = features.balance_db
        bal_ref = weight * float(np.median(bal[voiced])) + (1 - weight) * config.balance_reference_db
        by_balance = np.tanh((bal - bal_ref) / config.balance_scale_db)
        # Longer vocal tracts (lower voices) have lower formants: scale the population F2 by voice pitch.
        pitch = float(np.median(f0_hz[voiced])) if np.any(f0_hz[voiced] > 0) else 150.0
        population = 1500.0 * np.clip((pitch / 130.0) ** 0.25, 0.9, 1.25)
        f2_ref = np.exp(weight * np.log(np.median(features.f2_hz[voiced])) + (1 - weight) * np.log(population))
        by_f2 = np.tanh(np.log2(np.maximum(features.f2_hz, 100.0) / f2_ref) / config.spread_octave_scale)
        raw = 0.65 * by_balance + 0.35 * by_f2
        raw = np.where(raw < 0, raw * (1.0 - 0.75 * f1n), raw)  # open vowels (high F1) are not rounded
    else:
        raw = np.zeros(n, np.float32)
    conf = voiced.astype(np.float32)
    # Hushers (/sh/, /zh/, /ch/): energy peaks at 2.5-4.5 kHz above the sibilant band; lips protrude.
    hush = speech & ~voiced & (features.high_db - features.fric_db > 3.0) & (features.high_db - features.mid_db > 0.0)
    raw = np.where(hush, -0.6, raw)
    conf = np.where(hush, 0.8, conf)
    num = smooth(raw * conf, 0.04 / hop)
    den = smooth(conf, 0.04 / hop)
    return np.clip(np.where(den > 0.05, num / np.maximum(den, 1e-6), 0.0), -1.0, 1.0)


def _closures(features: FrameFeatures, loudness: np.ndarray, speech: np.ndarray, voiced: np.ndarray,
              config: LipConfig) -> np.ndarray:
    hop = features.hop_s
    n = features.num_frames
    level = smooth(np.maximum(features.level_db, features.total_db), 0.012 / hop)
    reach = int(round(0.12 / hop))
    left_peak = moving_max(np.concatenate([np.full(reach, -200.0), level])[:n], reach)  # max over [i-2r, i]
    right_peak = moving_max(np.concatenate([level, np.full(reach, -200.0)])[reach:], reach)  # max over [i, i+2r]
    depth = np.minimum(left_peak, right_peak) - level
    near_speech = moving_max(speech, int(round(0.05 / hop))).astype(bool)
    dip = (depth >= config.closure_min_depth_db) & near_speech
    out = np.zeros(n, np.float32)
    for a, b in runs(dip):
        # The closure is the bottom of the dip (within a few dB of its minimum), not the vowel shoulders.
        floor = level[a:b].min()
        core = np.flatnonzero(level[a:b] <= floor + config.closure_core_db) + a
        a, b = int(core[0]), int(core[-1]) + 1
        dur = (b - a) * hop
        if dur < config.closure_min_s or dur > config.closure_max_s:
            continue
        centre = a + int(np.argmax(depth[a:b]))
        labial = _labial_evidence(features, voiced, a, b, float(level[centre] + depth[centre]))
        strength = np.clip((depth[centre] - config.closure_min_depth_db) / 10.0 + 0.6, 0.0, 1.0)
        value = strength * float(np.clip(0.1 + 1.2 * labial, 0.0, 1.0))
        out[a:b] = np.maximum(out[a:b], value)
    return np.clip(smooth(out, 0.01 / hop) * 1.15, 0.0, 1.0)


def _labial_evidence(features: FrameFeatures, voiced: np.ndarray, a: int, b: int, around_db: float) -> float:
    """0..1: how much the level dip [a, b) sounds like a lip closure (p, b, m) rather than another obstruent;
    ``around_db`` is the level of the speech around it."""
    hop = features.hop_s
    n = features.num_frames
    inner = slice(a + (b - a) // 4, max(a + (b - a) // 4 + 1, b - (b - a) // 4))
    # A closure is silent or a low voice bar; frication noise in the dip means a fricative (f, v, s, th),
    # whose lips are apart (f/v have their own lower-lip tuck).
    frication = float(np.median(features.fric_db[inner] - features.mid_db[inner]))
    audible = float(np.median(features.fric_db[inner])) > around_db - 30.0  # band ratios in silence mean nothing
    not_fricative = 1.0 / (1.0 + np.exp((frication + 10.0) / 3.0)) if audible else 1.0
    evidence = []
    # Release burst: the strongest spectral onset within 40 ms after the dip; labial bursts are weak and
    # low-centred, alveolar and velar ones carry more energy above 2.5 kHz.
    hi = min(n, b + int(round(0.04 / hop)))
    if hi > b:
        k = b + int(np.argmax(features.flux[b:hi]))
        tilt = 0.5 * (features.fric_db[k] + features.high_db[k]) - features.mid_db[k]
        evidence.append(float(np.clip(0.5 - (tilt + 10.0) / 16.0, 0.0, 1.0)))
    # Nasal murmur: voiced inside the dip with the energy concentrated below 400 Hz (m, n, ng).
    if voiced[inner].mean() > 0.5:
        murmur = float(np.median(features.low_db[inner] - features.mid_db[inner]))
        evidence.append(float(np.clip((murmur - 2.0) / 10.0, 0.0, 1.0)))
    labial = float(np.mean(evidence)) if evidence else 0.5
    return not_fricative * labial


def _labiodental(features: FrameFeatures, loudness: np.ndarray, speech: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    hop = features.hop_s
    hf_dominance = 0.5 * (features.high_db + features.fric_db) - features.mid_db  # > 0: fricative, not vowel
    fric = 1.0 / (1.0 + np.exp(-(hf_dominance + 4.0) / 3.0))
    flat = np.clip((features.hf_flatness - 0.25) / 0.35, 0.0, 1.0)
    # /s/ concentrates its energy above 4.5 kHz, strongly: not labiodental.
    sibilant = np.clip((features.fric_db - features.high_db - 4.0) / 8.0, 0.0, 1.0)
    weak = np.clip((0.75 - loudness) / 0.45, 0.0, 1.0)
    near_speech = moving_max(speech, int(round(0.06 / hop))).astype(bool)
    score = fric * flat * (1.0 - sibilant) * weak * near_speech
    score = np.where(voiced & (hf_dominance < -8.0), 0.0, score)  # plain vowels
    # A fricative is sustained; the aspiration after a stop release (t, k, p) is as flat and weak but follows
    # a silent closure and lasts only a few tens of ms.
    level = np.maximum(features.level_db, features.total_db)
    before = np.concatenate([np.full(3, level[0]), level[:-3]])  # 30 ms earlier
    for a, b in runs(score > 0.3):
        if (b - a) * hop < 0.035:
            score[a:b] *= 0.3
        elif before[a] < level[a:b].max() - 18.0:
            score[a:b] *= 0.4  # starts out of a silent closure: a stop's aspiration
    return np.clip(smooth(score, 0.015 / hop) * 1.6, 0.0, 1.0)
