"""MediaPipe solution objects, created lazily once per process and guarded by a lock (they are not thread-safe)."""

from __future__ import annotations

import contextlib
import functools
import os
import threading

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

_LOCK = threading.RLock()


@contextlib.contextmanager
def mediapipe_lock():
    with _LOCK:
        yield


@functools.lru_cache(maxsize=None)
def face_detector(model_selection: int):
    import mediapipe as mp

    return mp.solutions.face_detection.FaceDetection(model_selection=model_selection, min_detection_confidence=0.5)


@functools.lru_cache(maxsize=None)
def face_mesh(static: bool):
    import mediapipe as mp

    return mp.solutions.face_mesh.FaceMesh(static_image_mode=static, max_num_faces=1, refine_landmarks=True,
                                           min_detection_confidence=0.4, min_tracking_confidence=0.5)


@functools.lru_cache(maxsize=1)
def selfie_segmenter():
    import mediapipe as mp

    return mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
