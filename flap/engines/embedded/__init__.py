"""The embedded engine: a 3D-guided warp of the portrait, on the CPU, with no downloaded weights."""

from flap.engines.embedded.renderer import EmbeddedRenderer, EmbeddedRendererConfig, PreparedPortrait

__all__ = ["EmbeddedRenderer", "EmbeddedRendererConfig", "PreparedPortrait"]
