"""Forced alignment of an English transcript with pocketsphinx's packaged en-us model: phonemes with times.

Alignment only works with very wide beams (`Decoder(bestpath=False, beam=1e-120, ...)`): set_align_text,
decode, set_alignment, decode again, get_alignment.  Even then a matching text can fall out of the beam (one
espeak-ng sentence in six did), so a failed pass is retried with the beams wider still (1e-200, then 1e-300:
practically no pruning; alignment costs about 0.04 s per second of speech either way).  Words missing from
CMUdict get a letter-to-sound guess (names, brands); numbers are spelled out.  The result is checked against the voice-activity mask, because a
wrong transcript can still "align": phones must sit on speech and speech must be covered by phones.

The aligner's memory grows with the length of the utterance times the length of the text, so long speech is
aligned in pieces of at most MAX_CHUNK_S, cut in pauses, each given the words its share of the speech holds:
memory stays flat in length and time grows linearly.  A transcript with far more words than the audio could
hold (MAX_WORDS_PER_SECOND) is refused before any decoding.
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
MAX_CHUNK_S = 20.0  # longest piece of audio aligned at once
MIN_CUT_PAUSE_S = 0.12  # pauses at least this long are where pieces are cut
MAX_WORDS_PER_SECOND = 6.0  # fast speech is about 4; more words than this per second of audio is not its transcript
SAMPLE_RATE = 16000


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
    seconds = len(samples) / SAMPLE_RATE
    check_transcript_length(len(words), seconds)
    try:
        decoder = _decoder(BEAMS[0])
    except Exception as exc:
        raise AlignmentError(f"the pocketsphinx aligner is not available ({type(exc).__name__})") from None
    with _lock:
        oov = [w for w in words if decoder.lookup_word(w) is None]
        if len(oov) > MAX_OOV_SHARE * len(words):
            raise AlignmentError(f"{len(oov)} of {len(words)} words are not English dictionary words; the aligner "
                                 "knows English only")
        words = _add_guessed_words(decoder, words, oov)
        if not words:
            raise AlignmentError("no usable words in the transcript")
        weights = [len((decoder.lookup_word(w) or "x").split()) for w in words]  # phones per word
    phones: list[tuple[float, float, str]] = []
    for (start, end), (first, last) in zip(*plan_pieces(speech, hop_s, seconds, weights)):
        if first == last:  # a piece without words: silence, as the aligner itself would mark it
            phones.append((start, end, "SIL"))
            continue
        piece = samples[int(start * SAMPLE_RATE): int(end * SAMPLE_RATE)]
        raw = (np.clip(piece, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        with _lock:
            aligned = _align_widening(decoder, words[first:last], raw)
        phones += [(start + a, start + b, p) for a, b, p in aligned]
    if not any(p not in NON_SPEECH_PHONES for _, _, p in phones):
        raise AlignmentError("the aligner found no words in the speech")
    if speech is not None:
        _check_against_speech(phones, speech, hop_s)
    return phones


def check_transcript_length(words: int, seconds: float) -> None:
    """Refuse, before any decoding, a transcript with far more words than the audio could hold."""
    most = max(8, int(MAX_WORDS_PER_SECOND * seconds))
    if words > most:
        raise AlignmentError(f"the transcript has {words} words, far more than {seconds:.1f} s of speech can hold "
                             f"(at most {most}); it is not the transcript of this recording")


def plan_pieces(speech: np.ndarray | None, hop_s: float, seconds: float, weights: list[int],
                max_piece_s: float = MAX_CHUNK_S) -> tuple[list[tuple[float, float]], list[tuple[int, int]]]:
    """Cut the audio into pieces of at most ``max_piece_s`` in its longest pauses, and share the words (weighted by
    their phone counts) among the pieces in proportion to the speech each holds.  Returns ((start_s, end_s) per
    piece, (first, last) word index per piece); one piece when the audio is short or no speech mask is given."""
    n_words = len(weights)
    if speech is None or seconds <= max_piece_s or not np.any(speech):
        return [(0.0, seconds)], [(0, n_words)]
    speech = np.asarray(speech, bool)
    n = len(speech)
    max_len = max(1, int(max_piece_s / hop_s))
    quiet = np.concatenate([[False], ~speech, [False]])
    edges = np.flatnonzero(np.diff(quiet.astype(np.int8)))
    runs = [(a, b) for a, b in zip(edges[::2], edges[1::2]) if b - a >= MIN_CUT_PAUSE_S / hop_s]
    cuts = [0]
    while n - cuts[-1] > max_len:
        start = cuts[-1]
        window = [(b - a, (a + b) // 2) for a, b in runs if start + 0.4 * max_len <= (a + b) // 2 <= start + max_len]
        cuts.append(max(window)[1] if window else start + max_len)  # no pause at all: a hard cut
    cuts.append(n)
    frames = [(a, b) for a, b in zip(cuts[:-1], cuts[1:])]
    speech_share = np.cumsum([speech[a:b].sum() for a, b in frames]) / max(int(speech.sum()), 1)
    word_share = np.concatenate([[0.0], np.cumsum(weights) / max(sum(weights), 1)])  # share of the first k words
    inner = [int(np.argmin(np.abs(word_share - share))) for share in speech_share[:-1]]  # the nearest word boundary
    bounds = list(np.maximum.accumulate([0] + inner + [n_words]))
    times = [(a * hop_s, min(b * hop_s, seconds)) for a, b in frames]
    return times, [(int(bounds[i]), int(bounds[i + 1])) for i in range(len(frames))]


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
