"""Speech in any format to per-frame features: decoding, voice activity, prosody, lip drivers, alignment."""

from flap.audio.loading import AudioClip, load_audio

__all__ = ["AudioClip", "load_audio"]
