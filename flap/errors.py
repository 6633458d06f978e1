"""Errors that reach users.  Every message says what is wrong and what to do; the app shows them as-is."""


class FlapError(Exception):
    """Base class for every error FLAP raises on purpose."""


class InputError(FlapError, ValueError):
    """The user's input cannot be used (bad image, audio, file or control value)."""


class FaceNotFoundError(InputError):
    """No usable face in the portrait."""


class AudioInputError(InputError):
    """The speech recording cannot be decoded or is unusable."""


class ControlRangeError(InputError):
    """A control value is outside its allowed range."""


class MotionFormatError(InputError):
    """A motion file or array does not follow the expected layout."""


class EngineUnavailableError(FlapError, RuntimeError):
    """An engine cannot run here (missing weights, no CUDA, too little memory); the message says how to fix it."""
