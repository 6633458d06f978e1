"""Training FLAP on your own talking videos: data preparation, the three progressively focused stages of the
paper (head motion, expression, video), Audio-to-FLAME, checkpoints and export, plus the synthetic-data
experiment that measures controllability.  ``python -m flap.training --help`` lists the commands;
docs/training.md is the guide.

Importing this package is cheap; torch, diffusers and MediaPipe load only in the modules that need them.
"""
