"""Channel mixing: take some channels from an imported motion and keep the rest from the audio-driven one.

Channels: head_pose (rotation, translation, zoom), jaw, eyelids, expression (FLAME expression coefficients and
the named controls), eyes (gaze).  User controls are applied afterwards, on the mixed motion, as for any motion.
"""

from __future__ import annotations

from typing import Iterable

from flap.errors import MotionFormatError
from flap.motion.channels import CHANNEL_FIELDS, CHANNELS, parse_channels
from flap.motion.representation import MotionSequence

def mix_channels(base: MotionSequence, imported: MotionSequence, take: Iterable[str] | str) -> MotionSequence:
    """``base`` with the chosen channels replaced by ``imported``'s.  Both must have the same fps and length:
    import with ``import_motion(path, target_fps=base.fps, num_frames=base.num_frames)``."""
    channels = parse_channels(take)
    if abs(base.fps - imported.fps) > 1e-6:
        raise MotionFormatError(f"cannot mix motions at {base.fps:g} and {imported.fps:g} fps; import the file with "
                                f"target_fps={base.fps:g}")
    if base.num_frames != imported.num_frames:
        raise MotionFormatError(f"cannot mix a {base.num_frames}-frame motion with a {imported.num_frames}-frame one; import "
                                f"the file with num_frames={base.num_frames} (and a fit mode: trim, hold or loop)")
    updates = {field: getattr(imported, field) for channel in channels for field in CHANNEL_FIELDS[channel]}
    meta = dict(base.meta)
    meta["mixed"] = {"from_file": channels, "from_audio": [c for c in CHANNELS if c not in channels],
                     "file": imported.meta.get("source", "")}
    return base.replace(meta=meta, **updates)
