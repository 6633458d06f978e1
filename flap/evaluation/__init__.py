"""Measuring outputs: pose, blinks, lip sync, identity and background, on the frames of a produced video."""
