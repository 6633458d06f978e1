"""MediaPipe solution objects, created lazily once per process and guarded by a lock (they are not thread-safe).

MediaPipe's native code prints set-up chatter (TensorFlow Lite delegates, feedback tensors) straight to the
process's stderr while a graph starts; that is silenced for the first run of each model only, so real errors
later still show.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.machinery
import os
import sys
import threading
import types

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


#: MediaPipe's package imports its drawing helpers, and they import matplotlib.pyplot: 0.44 s of a cold CLI
#: start (python -X importtime), for modules FLAP never uses.  Placeholders stand in for them while mediapipe is
#: imported; the first use of one of their names imports the real module (importlib's LazyLoader cannot do this:
#: the import statements that find a lazy module in sys.modules read its __spec__, which loads it).
_UNUSED_AT_IMPORT = ("mediapipe.python.solutions.drawing_utils", "mediapipe.python.solutions.drawing_styles")


class _Deferred(types.ModuleType):
    """A module imported on the first access to one of its names (not dunders), then the real module's names."""

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        real = importlib.import_module(self.__name__)
        self.__dict__.update(real.__dict__)
        return getattr(real, attr)


@functools.lru_cache(maxsize=1)
def mediapipe():
    """The mediapipe package, imported without its drawing helpers (see _UNUSED_AT_IMPORT)."""
    if "mediapipe" not in sys.modules:
        for name in _UNUSED_AT_IMPORT:
            if name not in sys.modules:
                placeholder = _Deferred(name)
                placeholder.__spec__ = importlib.machinery.ModuleSpec(name, None)
                sys.modules[name] = placeholder
    import mediapipe as mp

    for name in _UNUSED_AT_IMPORT:  # as an eager import leaves them: attributes of their package
        parent, _, child = name.rpartition(".")
        if name in sys.modules and parent in sys.modules and child not in vars(sys.modules[parent]):
            setattr(sys.modules[parent], child, sys.modules[name])
    return mp


@functools.lru_cache(maxsize=None)
def face_detector(model_selection: int):
    mp = mediapipe()

    with _native_stderr_silenced():
        return mp.solutions.face_detection.FaceDetection(model_selection=model_selection, min_detection_confidence=0.5)


@functools.lru_cache(maxsize=None)
def face_mesh(static: bool):
    mp = mediapipe()

    with _native_stderr_silenced():
        return mp.solutions.face_mesh.FaceMesh(static_image_mode=static, max_num_faces=1, refine_landmarks=True,
                                               min_detection_confidence=0.4, min_tracking_confidence=0.5)


@functools.lru_cache(maxsize=1)
def selfie_segmenter():
    mp = mediapipe()

    with _native_stderr_silenced():
        return mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
