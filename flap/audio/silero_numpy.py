"""Silero VAD's network run in numpy, with the weights read from the package's TorchScript file without torch.

Importing torch costs about a second on a 2-core machine, most of a cold job's start; the network is small (an
STFT, four 3-tap convolutions, an LSTM cell and a 1x1 output layer), so numpy runs it about as fast.  The layout
below is silero-vad 6's 16 kHz model (read off its TorchScript code; the package's .safetensors file holds other
weights than the .jit model that silero-vad loads).  A TorchScript file is a zip of a pickle whose tensors are raw
storages, so a small unpickler rebuilds them as numpy arrays.  ``tests/test_audio_analysis.py`` checks the
probabilities against the packaged torch model.
"""

from __future__ import annotations

import collections
import importlib.util
import pickle
import zipfile
from pathlib import Path

import numpy as np

CHUNK, CONTEXT, HOP, WINDOW = 512, 64, 128, 256
_STRIDES = (1, 2, 2, 1)


def weights_path() -> Path | None:
    """The model file inside the installed silero-vad package, found without importing it (it imports torch)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "silero_vad.jit"
    return path if path.is_file() else None


_STORAGE = {"FloatStorage": np.float32, "HalfStorage": np.float16, "DoubleStorage": np.float64, "LongStorage": np.int64,
            "IntStorage": np.int32, "BoolStorage": np.bool_}


class _Module:
    def __setstate__(self, state) -> None:
        self.state = state


def _rebuild_tensor(storage, offset, size, stride, *_):
    strides = [s * storage.itemsize for s in stride]
    return np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size), strides=strides).copy()


class _TorchScriptUnpickler(pickle.Unpickler):
    """Tensors and modules of a TorchScript archive as numpy arrays and attribute dicts; anything else is refused."""

    def __init__(self, archive: zipfile.ZipFile, prefix: str):
        super().__init__(archive.open(f"{prefix}/data.pkl"))
        self.archive, self.prefix = archive, prefix

    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE:
            return name
        if module.startswith("__torch__"):
            return type(name, (_Module,), {})
        if module == "torch.jit._pickle" and name.startswith("build_"):
            return lambda value: value
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"unexpected {module}.{name} in a TorchScript archive")

    def persistent_load(self, pid):
        _, storage, key, _, _ = pid
        return np.frombuffer(self.archive.read(f"{self.prefix}/data/{key}"), dtype=_STORAGE[storage])


def torchscript_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every tensor attribute of a TorchScript model file, by dotted name ("_model.encoder.0.reparam_conv.weight")."""
    with zipfile.ZipFile(path) as archive:
        prefix = archive.namelist()[0].split("/")[0]
        root = _TorchScriptUnpickler(archive, prefix).load()
    arrays: dict[str, np.ndarray] = {}

    def walk(module, path: str) -> None:
        for key, value in getattr(module, "state", {}).items():
            if isinstance(value, np.ndarray):
                arrays[path + key] = value
            elif isinstance(value, _Module):
                walk(value, path + key + ".")

    walk(root, "")
    return arrays


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # no overflow for large negative x


class NumpySilero:
    """Speech probability per 32 ms chunk of 16 kHz audio, as silero-vad's model computes it."""

    def __init__(self, path: Path) -> None:
        w = {k.removeprefix("_model."): v for k, v in torchscript_arrays(path).items() if k.startswith("_model.")}
        self.basis = np.ascontiguousarray(w["stft.forward_basis_buffer"][:, 0, :].T)  # (256, 258): real, imaginary
        self.convs = []
        for i in range(4):
            weight = w[f"encoder.{i}.reparam_conv.weight"]  # (out, in, 3) -> (3 * in, out), taps outermost as below
            self.convs.append((np.ascontiguousarray(weight.transpose(2, 1, 0).reshape(-1, weight.shape[0])),
                               w[f"encoder.{i}.reparam_conv.bias"]))
        self.w_ih = np.ascontiguousarray(w["decoder.rnn.weight_ih"].T)
        self.w_hh = np.ascontiguousarray(w["decoder.rnn.weight_hh"].T)
        self.b = w["decoder.rnn.bias_ih"] + w["decoder.rnn.bias_hh"]
        self.out_w = w["decoder.decoder.2.weight"][0, :, 0]
        self.out_b = float(w["decoder.decoder.2.bias"][0])
        if self.basis.shape != (WINDOW, 2 * (WINDOW // 2 + 1)) or self.w_hh.shape[1] != 4 * self.w_hh.shape[0]:
            raise ValueError("unexpected silero-vad weights layout")

    def features(self, batch: np.ndarray) -> np.ndarray:
        """(n, 576) chunks with their context -> (n, 128) encoder outputs (every chunk independent)."""
        x = np.pad(batch, ((0, 0), (0, CONTEXT)), mode="reflect")
        frames = (x.shape[1] - WINDOW) // HOP + 1
        windows = np.stack([x[:, i * HOP: i * HOP + WINDOW] for i in range(frames)], axis=1)  # (n, 4, 256)
        spectrum = windows @ self.basis
        half = spectrum.shape[-1] // 2
        h = np.sqrt(spectrum[..., :half] ** 2 + spectrum[..., half:] ** 2)  # (n, time, 129)
        for (weight, bias), stride in zip(self.convs, _STRIDES):
            padded = np.pad(h, ((0, 0), (1, 1), (0, 0)))
            steps = (padded.shape[1] - 3) // stride + 1
            cols = np.concatenate([padded[:, k: k + stride * (steps - 1) + 1: stride] for k in range(3)], axis=2)
            h = np.maximum(cols @ weight + bias, 0.0)
        return h[:, 0, :]

    def __call__(self, audio: np.ndarray, block: int = 4096) -> np.ndarray:
        n = (len(audio) + CHUNK - 1) // CHUNK
        padded = np.zeros(n * CHUNK, np.float32)
        padded[: len(audio)] = audio
        chunks = padded.reshape(n, CHUNK)
        size = self.w_hh.shape[0]
        h = np.zeros(size, np.float32)
        c = np.zeros(size, np.float32)
        out = np.empty(n, np.float32)
        for start in range(0, n, block):  # blocks keep memory flat in the audio's length
            stop = min(n, start + block)
            context = np.zeros((stop - start, CONTEXT), np.float32)
            lo = max(start, 1)
            context[lo - start:] = chunks[lo - 1: stop - 1, -CONTEXT:]  # each chunk sees the end of the one before
            gates_in = self.features(np.concatenate([context, chunks[start:stop]], axis=1)) @ self.w_ih + self.b
            hidden = np.empty((stop - start, size), np.float32)
            for t in range(stop - start):  # the LSTM cell (gates i, f, g, o), as few numpy calls per step as can be
                g = gates_in[t] + h @ self.w_hh
                s = _sigmoid(g)
                c = s[size: 2 * size] * c + s[:size] * np.tanh(g[2 * size: 3 * size])
                h = s[3 * size:] * np.tanh(c)
                hidden[t] = h
            out[start:stop] = _sigmoid(np.maximum(hidden, 0.0) @ self.out_w + self.out_b)
        return out
