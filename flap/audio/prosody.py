"""Prosody: speech-normalised loudness, syllable nuclei, stressed syllables / pitch accents, pauses and phrases.

Head nods and brow raises in real speakers line up with pitch accents (stressed syllables that are louder,
longer and higher or moving in pitch), and head turns happen around phrase boundaries; these are the events the
motion generator hangs its gestures on.  Everything is relative to the speaker's own ranges, so it works for
any voice, language and recording level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flap.audio.features import FrameFeatures, runs, smooth


@dataclass(frozen=True)
class ProsodyConfig:
    loudness_range_db: float = 36.0  # dB below the speech peak that map to loudness 0
    min_pause_s: float = 0.25  # silence this long inside speech is a pause (blinks go there, head calms)
    min_phrase_break_s: float = 0.12  # a shorter break still ends a phrase
    long_phrase_s: float = 2.8  # split longer uninterrupted runs at their deepest level dip
    min_syllable_gap_s: float = 0.10
    min_stress_gap_s: float = 0.45
    stress_threshold: float = 0.55  # strength in [0, 1] above which a syllable counts as stressed


@dataclass
class Prosody:
    loudness: np.ndarray  # (N,) [0, 1]
    syllable_times_s: np.ndarray
    syllable_strength: np.ndarray
    stress_times_s: np.ndarray
    stress_strength: np.ndarray
    pause_starts_s: np.ndarray
    pause_ends_s: np.ndarray
    phrase_boundaries_s: np.ndarray


def speech_loudness(level_db: np.ndarray, speech: np.ndarray, floor_db: float, range_db: float = 36.0) -> np.ndarray:
    """Level mapped to [0, 1] against the speaker's own loud end (95th percentile of speech frames), so a quiet
    phone recording and a hot studio take give the same curve; the background floor maps to 0."""
    ref = level_db[speech] if speech.any() else level_db
    top = float(np.percentile(ref, 95)) if ref.size else 0.0
    bottom = max(top - range_db, floor_db + 3.0)
    if top - bottom < 6.0:  # nothing stands out from the background: no speech loudness
        bottom = top - 6.0
        if not speech.any():
            return np.zeros_like(level_db, dtype=np.float32)
    return np.clip((level_db - bottom) / (top - bottom), 0.0, 1.0).astype(np.float32)


def analyze_prosody(features: FrameFeatures, speech: np.ndarray, f0_hz: np.ndarray, voiced: np.ndarray,
                    floor_db: float, config: ProsodyConfig = ProsodyConfig()) -> Prosody:
    hop = features.hop_s
    loudness = speech_loudness(features.level_db, speech, floor_db, config.loudness_range_db)
    syl_idx, syl_prom, syl_width = _syllable_nuclei(features, loudness, speech, voiced, config)
    strength = _stress_strength(syl_idx, syl_prom, syl_width, loudness, f0_hz, voiced, speech, hop)
    stress_idx, stress_str = _pick_stresses(syl_idx, strength, config, hop)
    pause_s, pause_e, phrases = _pauses_and_phrases(speech, features.level_db, hop, config)
    return Prosody(
        loudness=loudness,
        syllable_times_s=(syl_idx * hop).astype(np.float32),
        syllable_strength=strength.astype(np.float32),
        stress_times_s=(stress_idx * hop).astype(np.float32),
        stress_strength=stress_str.astype(np.float32),
        pause_starts_s=pause_s,
        pause_ends_s=pause_e,
        phrase_boundaries_s=phrases,
    )


def _syllable_nuclei(features: FrameFeatures, loudness: np.ndarray, speech: np.ndarray, voiced: np.ndarray,
                     config: ProsodyConfig):
    """Peaks of the smoothed vowel-band envelope inside speech: one per syllable (Mermelstein-style)."""
    hop = features.hop_s
    env = smooth(np.clip((features.mid_db - features.mid_db.max()) / 40.0 + 1.0, 0, 1), 0.025 / hop)
    n = len(env)
    if n < 3 or not speech.any():
        return np.zeros(0, int), np.zeros(0), np.zeros(0)
    peak = (env[1:-1] > env[:-2]) & (env[1:-1] >= env[2:])
    cand = np.flatnonzero(peak) + 1
    cand = cand[speech[cand] & (loudness[cand] > 0.25)]
    # Prominence: height above the deeper of the two minima to the neighbouring candidates.
    keep, prom, width = [], [], []
    bounds = np.concatenate([[0], cand, [n - 1]])
    for k, i in enumerate(cand):
        left = env[bounds[k]: i + 1].min()
        right = env[i: bounds[k + 2] + 1].min()
        p = env[i] - max(left, right)
        if p >= 0.04:
            keep.append(i)
            prom.append(p)
            half = env[i] - 0.5 * p
            lo = i
            while lo > 0 and env[lo - 1] > half:
                lo -= 1
            hi = i
            while hi < n - 1 and env[hi + 1] > half:
                hi += 1
            width.append((hi - lo + 1) * hop)
    keep, prom, width = np.array(keep, int), np.array(prom), np.array(width)
    # Enforce a minimum syllable spacing, keeping the more prominent peak.
    min_gap = int(round(config.min_syllable_gap_s / hop))
    order = np.argsort(-prom)
    taken = np.zeros(len(keep), bool)
    for j in order:
        if not np.any(taken & (np.abs(keep - keep[j]) < min_gap)):
            taken[j] = True
    return keep[taken], prom[taken], width[taken]


def _stress_strength(idx, prom, width, loudness, f0_hz, voiced, speech, hop) -> np.ndarray:
    """Stressed syllables stand out from their neighbourhood in loudness, pitch (height or movement) and length.
    Each cue is a z-score against the speaker's own distribution; the sum is squashed to [0, 1]."""
    if len(idx) == 0:
        return np.zeros(0)
    semis = np.where(voiced, 12.0 * np.log2(np.maximum(f0_hz, 1.0) / 100.0), np.nan)
    speaker = np.nanmedian(semis) if np.any(voiced) else 0.0
    spread = np.nanstd(semis) if np.sum(voiced) > 5 else 2.0
    spread = max(spread, 1.0)
    r = int(round(0.08 / hop))
    pitch_height, pitch_move = np.zeros(len(idx)), np.zeros(len(idx))
    for k, i in enumerate(idx):
        seg = semis[max(0, i - r): i + r + 1]
        seg = seg[~np.isnan(seg)]
        if seg.size >= 3:
            pitch_height[k] = (np.median(seg) - speaker) / spread
            pitch_move[k] = (seg.max() - seg.min()) / spread
    loud = np.array([loudness[i] for i in idx])
    # Local loudness contrast: against the mean of nuclei within +-1 s.
    times = idx * hop
    local = np.array([loud[np.abs(times - t) < 1.0].mean() for t in times])
    z_loud = (loud - local) / 0.12 + (prom - prom.mean()) / (prom.std() + 1e-3) * 0.5
    z_len = (width - width.mean()) / (width.std() + 1e-3)
    score = 0.9 * z_loud + 0.8 * np.clip(pitch_height, -2, 3) + 0.6 * np.clip(pitch_move, 0, 3) + 0.4 * z_len
    # Relative to this speaker's typical syllable: a monotone reader still has accents, and an animated
    # speaker does not get one on every syllable.
    return 1.0 / (1.0 + np.exp(-1.2 * (score - np.median(score)) + 0.2))


def _pick_stresses(idx, strength, config: ProsodyConfig, hop):
    if len(idx) == 0:
        return np.zeros(0, int), np.zeros(0)
    sel = strength >= config.stress_threshold
    cand, st = idx[sel], strength[sel]
    gap = int(round(config.min_stress_gap_s / hop))
    taken = np.zeros(len(cand), bool)
    for j in np.argsort(-st):
        if not np.any(taken & (np.abs(cand - cand[j]) < gap)):
            taken[j] = True
    order = np.argsort(cand[taken])
    return cand[taken][order], st[taken][order]


def _pauses_and_phrases(speech: np.ndarray, level_db: np.ndarray, hop: float, config: ProsodyConfig):
    speech_runs = runs(speech)
    pause_starts, pause_ends, phrases = [], [], []
    n = len(speech)
    for k, (a, b) in enumerate(speech_runs):
        gap_end = speech_runs[k + 1][0] if k + 1 < len(speech_runs) else n
        gap = (gap_end - b) * hop
        if gap >= config.min_phrase_break_s or gap_end == n:
            phrases.append(b * hop)
        if gap >= config.min_pause_s:
            pause_starts.append(b * hop)
            pause_ends.append(gap_end * hop)
        # Long uninterrupted stretches: a breath-group boundary at the deepest level dip.
        start = a
        while (b - start) * hop > config.long_phrase_s:
            lo, hi = start + int(1.0 / hop), min(b, start + int(config.long_phrase_s / hop)) - int(0.3 / hop)
            if hi <= lo:
                break
            cut = lo + int(np.argmin(smooth(level_db[lo:hi], 3)))
            phrases.append(cut * hop)
            start = cut
    return (np.array(pause_starts, np.float32), np.array(pause_ends, np.float32),
            np.array(sorted(phrases), np.float32))
