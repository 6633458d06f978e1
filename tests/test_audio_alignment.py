"""Transcript alignment (pocketsphinx en-us): phonemes in order inside the clip, drivers from them, and a
warning plus the sound-only path when the text cannot be used."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import make_speech
from flap.audio import analyze_audio, load_audio
from flap.audio.alignment import guess_pronunciation, normalize_transcript
from flap.audio.visemes import viseme_drivers


@pytest.fixture(scope="module")
def clip(speech_wav):
    return load_audio(speech_wav)


@pytest.fixture(scope="module")
def aligned(clip, speech_text):
    return analyze_audio(clip, transcript=speech_text)


def test_phonemes_in_order_within_the_clip(aligned, clip):
    phones = aligned.phonemes
    assert phones, aligned.warnings
    assert aligned.warnings == []
    starts = np.array([p[0] for p in phones])
    ends = np.array([p[1] for p in phones])
    assert np.all(np.diff(starts) >= 0) and np.all(ends >= starts)
    assert starts[0] >= 0 and ends[-1] <= clip.duration + 0.05
    speech_phones = [p for _, _, p in phones if p != "SIL"]
    assert speech_phones[:4] == ["HH", "AH", "L", "OW"]  # "hello"
    assert len(speech_phones) > 60


def test_aligned_phones_sit_on_speech(aligned):
    on = []
    for start, end, phone in aligned.phonemes:
        if phone != "SIL":
            frame = min(int((start + end) / 2 * aligned.fps), aligned.num_frames - 1)
            on.append(aligned.speech[frame])
    assert np.mean(on) > 0.9


def test_bilabials_in_the_transcript_close_the_lips(aligned):
    mids = [(s + e) / 2 for s, e, p in aligned.phonemes if p in ("P", "B", "M") and e - s >= 0.04]
    assert mids, "the test sentence has 'portrait', 'system', 'move', 'time', 'pause'"
    frames = np.minimum((np.array(mids) * aligned.fps).astype(int), aligned.num_frames - 1)
    assert np.mean(aligned.closure[frames]) > 0.6


def test_mismatched_text_falls_back_with_a_warning(clip):
    a = analyze_audio(clip, transcript="The quick brown fox jumps over the lazy dog near the river bank today.")
    assert a.phonemes is None
    assert a.warnings and "transcript" in a.warnings[0] and "sound alone" in a.warnings[0]
    assert a.openness.max() > 0.3  # the sound-only path still drives the mouth


def test_non_english_text_falls_back(tmp_path):
    text = "Guten Tag. Das ist ein kurzer Test des sprechenden Portraits. Die Lippen sollen sich bewegen."
    clip = load_audio(make_speech(tmp_path / "de.wav", text, voice="de"))
    a = analyze_audio(clip, transcript=text)
    assert a.phonemes is None
    assert a.warnings and "English" in a.warnings[0]


def test_unknown_words_and_numbers_still_align(tmp_path):
    text = "Zorblax paid 42 dollars for the blue map."
    clip = load_audio(make_speech(tmp_path / "oov.wav", text))
    a = analyze_audio(clip, transcript=text)
    assert a.phonemes, a.warnings
    assert normalize_transcript(text)[:5] == ["zorblax", "paid", "forty", "two", "dollars"]
    assert guess_pronunciation("zorblax").split()[0] == "Z"


@pytest.mark.parametrize("voice, speed", [("en-us", 130), ("en-gb", 175)])
def test_text_that_falls_out_of_the_first_beam_still_aligns(tmp_path, voice, speed):
    """This sentence failed with the first beam for four of six espeak-ng voice/speed pairs; the wider retries
    align it, and its fourteen bilabial stops and nasals close the lips."""
    text = "My brother brought a bag of apples home by bus, and Pam made maple muffins."
    clip = load_audio(make_speech(tmp_path / "pbm.wav", text, voice=voice, speed=speed))
    a = analyze_audio(clip, transcript=text)
    assert a.phonemes, a.warnings
    bilabials = [p for _, _, p in a.phonemes if p in ("P", "B", "M")]
    assert len(bilabials) == 14
    assert a.closure.max() > 0.9


def test_viseme_targets():
    phones = [(0.0, 0.2, "SIL"), (0.2, 0.3, "M"), (0.3, 0.5, "IY"), (0.5, 0.6, "F"), (0.6, 0.8, "UW"), (0.8, 1.0, "SIL")]
    v = viseme_drivers(phones, 100, 0.01)
    assert v.closure[25] > 0.9 and v.closure[40] < 0.1
    assert v.labiodental[55] > 0.9
    assert v.spread[40] > 0.5 and v.spread[70] < -0.5
    assert v.openness[5] < 0.05 and v.openness[40] > v.openness[25]
