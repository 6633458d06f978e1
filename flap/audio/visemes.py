"""Aligned phonemes (ARPAbet) to lip-driver curves, with co-articulation.

Each phone has a lip target (opening, spread/rounding) and a dominance: how strongly it holds its shape against
its neighbours (Cohen & Massaro's dominance model).  Bilabials and labiodentals must reach their target; the
lips are free during alveolar and velar consonants, so those take the rounding of the nearby vowel ("t" in "two"
is rounded), which is what makes speech look continuous instead of a chain of poses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flap.audio.alignment import NON_SPEECH_PHONES
from flap.audio.features import smooth

# phone: (opening 0..1, spread -1..1, dominance for opening, dominance for spread)
_V = 1.0
PHONE_TARGETS: dict[str, tuple[float, float, float, float]] = {
    "AA": (1.00, 0.00, _V, _V), "AE": (0.85, 0.35, _V, _V), "AH": (0.60, 0.00, _V, 0.6), "AO": (0.80, -0.45, _V, _V),
    "EH": (0.65, 0.35, _V, _V), "ER": (0.45, -0.35, _V, _V), "IH": (0.45, 0.50, _V, _V), "IY": (0.35, 0.85, _V, 1.2),
    "UH": (0.40, -0.60, _V, _V), "UW": (0.30, -0.95, _V, 1.3),
    "B": (0.0, 0.0, 3.0, 0.3), "P": (0.0, 0.0, 3.0, 0.3), "M": (0.0, 0.0, 3.0, 0.3),
    "F": (0.10, 0.0, 2.0, 0.4), "V": (0.10, 0.0, 2.0, 0.4), "W": (0.15, -1.0, 1.5, 2.0),
    "TH": (0.20, 0.10, 0.8, 0.3), "DH": (0.20, 0.10, 0.8, 0.3),
    "S": (0.12, 0.45, 1.0, 0.8), "Z": (0.12, 0.45, 1.0, 0.8),
    "SH": (0.15, -0.55, 1.0, 1.2), "ZH": (0.15, -0.55, 1.0, 1.2), "CH": (0.15, -0.55, 1.0, 1.2), "JH": (0.15, -0.55, 1.0, 1.2),
    "T": (0.20, 0.10, 0.6, 0.1), "D": (0.20, 0.10, 0.6, 0.1), "N": (0.20, 0.10, 0.6, 0.1), "L": (0.30, 0.10, 0.5, 0.1),
    "K": (0.25, 0.0, 0.5, 0.1), "G": (0.25, 0.0, 0.5, 0.1), "NG": (0.25, 0.0, 0.5, 0.1),
    "R": (0.20, -0.40, 0.7, 0.8), "Y": (0.20, 0.60, 0.7, 0.8), "HH": (0.40, 0.0, 0.05, 0.05),
}
#: Diphthongs: first-half and second-half targets.
DIPHTHONGS: dict[str, tuple[str, str]] = {"AW": ("AA", "UH"), "AY": ("AA", "IY"), "EY": ("EH", "IY"),
                                          "OW": ("AO", "UW"), "OY": ("AO", "IY")}
BILABIALS = frozenset({"B", "P", "M"})
LABIODENTALS = frozenset({"F", "V"})
_SILENCE = (0.0, 0.0, 2.0, 0.5)


@dataclass
class VisemeDrivers:
    openness: np.ndarray
    spread: np.ndarray
    closure: np.ndarray
    labiodental: np.ndarray


def _segments(phonemes):
    """Split diphthongs into two targets; strip stress digits; unknown phones count as neutral vowels."""
    out = []
    for start, end, phone in phonemes:
        name = phone.rstrip("012").upper()
        if name in DIPHTHONGS:
            mid = 0.5 * (start + end)
            a, b = DIPHTHONGS[name]
            out += [(start, mid, a), (mid, end, b)]
        else:
            out.append((start, end, name))
    return out


def viseme_drivers(phonemes: list[tuple[float, float, str]], num_frames: int, hop_s: float,
                   loudness: np.ndarray | None = None, open_tau_s: float = 0.045, spread_tau_s: float = 0.09) -> VisemeDrivers:
    """Curves at the analysis hop.  ``loudness`` (same hop) scales the opening so stressed vowels open wider."""
    segs = _segments(phonemes)
    t = np.arange(num_frames) * hop_s
    if not segs:
        z = np.zeros(num_frames, np.float32)
        return VisemeDrivers(z, z.copy(), z.copy(), z.copy())
    starts = np.array([s for s, _, _ in segs])
    ends = np.array([max(e, s + hop_s) for s, e, _ in segs])
    targets = np.array([_SILENCE if p in NON_SPEECH_PHONES else PHONE_TARGETS.get(p, (0.4, 0.0, 0.5, 0.3))
                        for _, _, p in segs])
    # Each curve blends the phone targets, a phone fully holding its own span and fading outside it.  The blend is
    # computed in blocks of frames over the phones near each block, so memory stays flat in the clip's length.
    reach = 12.0 * max(open_tau_s, spread_tau_s)  # exp(-12): phones farther away weigh nothing

    def blend(value_col: int, dom_col: int, tau: float) -> np.ndarray:
        out = np.empty(num_frames)
        for first in range(0, num_frames, _BLOCK_FRAMES):
            tb = t[first:first + _BLOCK_FRAMES]
            near = _near(starts, ends, tb[0] - reach, tb[-1] + reach)
            dist = np.maximum(np.abs(tb[None, :] - centres[near, None]) - half[near, None], 0.0)
            dom = targets[near, dom_col][:, None] * np.exp(-dist / tau)
            out[first:first + len(tb)] = (dom * targets[near, value_col][:, None]).sum(axis=0) / np.maximum(dom.sum(axis=0), 1e-9)
        return out

    centres = 0.5 * (starts + ends)
    half = 0.5 * (ends - starts)
    openness = blend(0, 2, open_tau_s)
    spread = blend(1, 3, spread_tau_s)
    if loudness is not None:
        openness = openness * (0.35 + 0.65 * smooth(loudness, 0.03 / hop_s))
    closure = _mask_curve(segs, BILABIALS, t, hop_s)
    labiodental = _mask_curve(segs, LABIODENTALS, t, hop_s)
    return VisemeDrivers(np.clip(openness, 0, 1).astype(np.float32), np.clip(spread, -1, 1).astype(np.float32),
                         closure, labiodental)


_BLOCK_FRAMES = 1000  # 10 s at the 10 ms hop


def _near(starts: np.ndarray, ends: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Indices of the segments that reach into [lo, hi], plus the nearest one on each side (which dominate a long
    gap between phones)."""
    inside = np.flatnonzero((ends >= lo) & (starts <= hi))
    before = np.flatnonzero(ends < lo)
    after = np.flatnonzero(starts > hi)
    picks = [inside]
    if before.size:
        picks.append(before[[np.argmax(ends[before])]])
    if after.size:
        picks.append(after[[np.argmin(starts[after])]])
    return np.unique(np.concatenate(picks))


def _mask_curve(segs, phones: frozenset, t: np.ndarray, hop_s: float) -> np.ndarray:
    out = np.zeros(len(t), np.float32)
    for start, end, phone in segs:
        if phone in phones:  # the frames with start - hop/2 <= t < end
            out[np.searchsorted(t, start - 0.5 * hop_s): np.searchsorted(t, end)] = 1.0
    return np.clip(smooth(out, 0.012 / hop_s) * 1.3, 0, 1).astype(np.float32)
