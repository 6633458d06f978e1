"""Features to motion.  The embedded, rule-based generator lives here (CPU, no weights, imported eagerly because
it is light); the Audio-to-FLAME network is imported explicitly from ``flap.audio2motion.network`` so that this
package never pulls in torch by itself."""

from flap.audio2motion.embedded import EmbeddedMotionConfig, generate_motion

__all__ = ["EmbeddedMotionConfig", "generate_motion"]
