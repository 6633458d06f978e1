"""MediaPipe solution objects, created lazily once per process and guarded by a lock (they are not thread-safe).

MediaPipe's native code prints set-up chatter (TensorFlow Lite delegates, feedback tensors) straight to the
process's stderr while a graph starts; that is silenced for the first run of each model only, so real errors
later still show.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

_LOCK = threading.RLock()
_STARTED: set[int] = set()


@contextlib.contextmanager
def _native_stderr_silenced():
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (e.g. captured): nothing to silence
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def run(model, image):
    """``model.process(image)`` under the lock, quiet on the model's first run."""
    with _LOCK:
        if id(model) in _STARTED:
            return model.process(image)
        with _native_stderr_silenced():
            result = model.process(image)
        _STARTED.add(id(model))
        return result


@functools.lru_cache(maxsize=None)
def face_detector(model_selection: int):
    import mediapipe as mp

    with _native_stderr_silenced():
        return mp.solutions.face_detection.FaceDetection(model_selection=model_selection, min_detection_confidence=0.5)


@functools.lru_cache(maxsize=None)
def face_mesh(static: bool):
    import mediapipe as mp

    with _native_stderr_silenced():
        return mp.solutions.face_mesh.FaceMesh(static_image_mode=static, max_num_faces=1, refine_landmarks=True,
                                               min_detection_confidence=0.4, min_tracking_confidence=0.5)


@functools.lru_cache(maxsize=1)
def selfie_segmenter():
    import mediapipe as mp

    with _native_stderr_silenced():
        return mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
