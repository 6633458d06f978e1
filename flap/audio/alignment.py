"""Forced alignment of an English transcript with pocketsphinx's packaged en-us model: phonemes with times.

Alignment only works with very wide beams (`Decoder(bestpath=False, beam=1e-120, ...)`): set_align_text,
decode, set_alignment, decode again, get_alignment.  Even then a matching text can fall out of the beam (one
espeak-ng sentence in six did), so a failed pass is retried with the beams wider still (1e-200, then 1e-300:
practically no pruning; alignment costs about 0.04 s per second of speech either way).  Words missing from
CMUdict get a letter-to-sound guess (names, brands); numbers are spelled out.  The result is checked against the voice-activity mask, because a
wrong transcript can still "align": phones must sit on speech and speech must be covered by phones.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata

import numpy as np

_lock = threading.Lock()
NON_SPEECH_PHONES = frozenset({"SIL", "+NSN+", "+SPN+", "+BREATH+", "+COUGH+", "+NOISE+", "+UM+", "+UH+", "+SMACK+"})
MAX_OOV_SHARE = 0.4


class AlignmentError(Exception):
    """The transcript cannot be aligned; the message says why in plain words."""


BEAMS = (1e-120, 1e-200, 1e-300)  # tried in turn until the alignment succeeds


@functools.lru_cache(maxsize=len(BEAMS))
def _decoder(beam: float):
    from pocketsphinx import Decoder

    return Decoder(bestpath=False, beam=beam, wbeam=min(beam, 1e-100), pbeam=beam, loglevel="FATAL")


def align_transcript(samples: np.ndarray, transcript: str, speech: np.ndarray | None = None,
                     hop_s: float = 0.01) -> list[tuple[float, float, str]]:
    """(start_s, end_s, ARPAbet phone) for 16 kHz ``samples``; SIL segments included.  Raises AlignmentError."""
    words = normalize_transcript(transcript)
    if not words:
        raise AlignmentError("the transcript has no words")
    try:
        decoder = _decoder(BEAMS[0])
    except Exception as exc:
        raise AlignmentError(f"the pocketsphinx aligner is not available ({type(exc).__name__})") from None
    raw = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
    with _lock:
        oov = [w for w in words if decoder.lookup_word(w) is None]
        if len(oov) > MAX_OOV_SHARE * len(words):
            raise AlignmentError(f"{len(oov)} of {len(words)} words are not English dictionary words; the aligner "
                                 "knows English only")
        words = _add_guessed_words(decoder, words, oov)
        if not words:
            raise AlignmentError("no usable words in the transcript")
        phones = _align_widening(decoder, words, raw)
    if not any(p not in NON_SPEECH_PHONES for _, _, p in phones):
        raise AlignmentError("the aligner found no words in the speech")
    if speech is not None:
        _check_against_speech(phones, speech, hop_s)
    return phones


def _add_guessed_words(decoder, words: list[str], oov: list[str]) -> list[str]:
    """Give out-of-dictionary words a letter-to-sound pronunciation; the words left without one are dropped."""
    for word in dict.fromkeys(oov):
        pron = guess_pronunciation(word)
        try:
            if not pron:
                raise ValueError(word)
            decoder.add_word(word, pron, True)
        except Exception:
            words = [w for w in words if w != word]
    return words


def _align_widening(first, words: list[str], raw: bytes) -> list[tuple[float, float, str]]:
    """Align with each beam of BEAMS in turn (``first`` is the first beam's decoder, which knows every word)."""
    for beam in BEAMS:
        try:
            decoder = _decoder(beam)
            for word in words:
                if decoder.lookup_word(word) is None:
                    decoder.add_word(word, first.lookup_word(word), True)
            return _align(decoder, words, raw)
        except Exception:
            continue
    raise AlignmentError("the text does not match the speech")


def _align(decoder, words: list[str], raw: bytes) -> list[tuple[float, float, str]]:
    """One word pass then one phone pass; raises when the text falls out of the beam."""
    decoder.set_align_text(" ".join(words))
    decoder.start_utt()
    decoder.process_raw(raw, full_utt=True)
    decoder.end_utt()
    decoder.set_alignment()
    decoder.start_utt()
    decoder.process_raw(raw, full_utt=True)
    decoder.end_utt()
    frate = 100.0
    return [(p.start / frate, (p.start + p.duration) / frate, str(p.name)) for p in decoder.get_alignment().phones()]


def _check_against_speech(phones, speech: np.ndarray, hop_s: float) -> None:
    n = len(speech)
    aligned = np.zeros(n, bool)
    for start, end, phone in phones:
        if phone not in NON_SPEECH_PHONES:
            aligned[int(start / hop_s): max(int(start / hop_s) + 1, int(end / hop_s))] = True
    from flap.audio.features import moving_max

    loose_speech = moving_max(speech, int(round(0.12 / hop_s))).astype(bool)
    loose_aligned = moving_max(aligned, int(round(0.12 / hop_s))).astype(bool)
    on_speech = (aligned & loose_speech).sum() / max(aligned.sum(), 1)
    covered = (speech & loose_aligned).sum() / max(speech.sum(), 1)
    if on_speech < 0.75 or covered < 0.7:
        raise AlignmentError(f"the text does not seem to match the speech ({covered:.0%} of the speech matched)")


_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen " \
        "seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _number_words(n: int) -> list[str]:
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])
    if n < 1000:
        return [_ONES[n // 100], "hundred"] + (_number_words(n % 100) if n % 100 else [])
    if n < 1_000_000:
        return _number_words(n // 1000) + ["thousand"] + (_number_words(n % 1000) if n % 1000 else [])
    return [w for d in str(n) for w in _number_words(int(d))]


def normalize_transcript(text: str) -> list[str]:
    """Lower-case words (accents folded, numbers spelled out) in the aligner's vocabulary style."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.replace("&", " and ").replace("%", " percent ")
    words: list[str] = []
    for token in re.findall(r"[a-z']+|\d+", text):
        if token.isdigit():
            words.extend(_number_words(int(token)))
        else:
            token = token.strip("'")
            if token:
                words.append(token)
    return words


_G2P_RULES = [
    ("tch", "CH"), ("sch", "S K"), ("igh", "AY"), ("ough", "AO"), ("tion", "SH AH N"), ("sion", "ZH AH N"),
    ("ch", "CH"), ("sh", "SH"), ("th", "TH"), ("ph", "F"), ("wh", "W"), ("ck", "K"), ("ng", "NG"), ("qu", "K W"),
    ("ee", "IY"), ("ea", "IY"), ("ie", "IY"), ("oo", "UW"), ("ou", "AW"), ("ow", "OW"), ("oi", "OY"), ("oy", "OY"),
    ("ai", "EY"), ("ay", "EY"), ("au", "AO"), ("aw", "AO"), ("ei", "EY"), ("ey", "IY"), ("eu", "Y UW"),
    ("a", "AE"), ("e", "EH"), ("i", "IH"), ("o", "AA"), ("u", "AH"), ("b", "B"), ("d", "D"), ("f", "F"),
    ("g", "G"), ("h", "HH"), ("j", "JH"), ("k", "K"), ("l", "L"), ("m", "M"), ("n", "N"), ("p", "P"), ("q", "K"),
    ("r", "R"), ("s", "S"), ("t", "T"), ("v", "V"), ("w", "W"), ("x", "K S"), ("z", "Z"),
]


def guess_pronunciation(word: str) -> str:
    """A rough ARPAbet spelling for a word CMUdict lacks; good enough to keep the alignment in step."""
    w = re.sub(r"[^a-z]", "", word.lower())
    if len(w) > 2 and w.endswith("e") and w[-2] not in "aeiouy":
        w = w[:-1]  # silent final e
    w = re.sub(r"([bcdfgklmnprstvz])\1", r"\1", w)  # double consonants
    out: list[str] = []
    i = 0
    while i < len(w):
        if w[i] == "c":
            out.append("S" if i + 1 < len(w) and w[i + 1] in "eiy" else "K")
            i += 1
            continue
        if w[i] == "y":
            out.append("Y" if i == 0 else ("IY" if i == len(w) - 1 else "IH"))
            i += 1
            continue
        for graph, phones in _G2P_RULES:
            if w.startswith(graph, i):
                out.extend(phones.split())
                i += len(graph)
                break
        else:
            i += 1
    return " ".join(out)
