"""Speech in any format to per-frame features: decoding, voice activity, prosody, lip drivers, alignment.

    clip = load_audio("speech.mp3")
    analysis = analyze_audio(clip, fps=25, transcript=None)
"""

from flap.audio.analysis import AudioAnalysis, AudioAnalysisConfig, analyze_audio
from flap.audio.loading import AudioClip, load_audio

__all__ = ["AudioAnalysis", "AudioAnalysisConfig", "AudioClip", "analyze_audio", "load_audio"]
