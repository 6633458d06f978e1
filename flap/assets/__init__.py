"""Data files the package reads at run time, shipped inside it so that an installed ``flap`` finds them."""

from __future__ import annotations

from pathlib import Path

#: MediaPipe's canonical face (Apache-2.0, NOTICE.md there): the OBJ mesh and the pose landmarks' weights.
FACE_GEOMETRY_DIR = Path(__file__).resolve().parent / "face_geometry"
