"""Data files the package reads at run time, shipped inside it so that an installed ``flap`` finds them.

MediaPipe's canonical face (Apache-2.0; NOTICE.md here): the 468-vertex mesh and the landmark weights that
MediaPipe's pose estimate uses.
"""

from __future__ import annotations

from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent
CANONICAL_FACE_OBJ = ASSETS_DIR / "canonical_face_model.obj"
FACE_GEOMETRY_METADATA = ASSETS_DIR / "geometry_pipeline_metadata_landmarks.pbtxt"
