"""Face analysis on photos and video frames: detection, the 478-point mesh, head pose, measures and masks."""
