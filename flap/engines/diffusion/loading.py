"""Where the full model's weights come from, and whether this machine can run it, with messages that say how to fix.

Weights: a Hugging Face repo id or a local folder written by ``FLAPPipeline.save_pretrained``, named by the
``FLAP_MODEL`` environment variable (or passed explicitly); a private or gated repo also needs ``HF_TOKEN``.
Everything here is cheap: no weights are read, so the app can ask before it offers the engine.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from flap.errors import EngineUnavailableError
from flap.settings import settings

ENV_MODEL = "FLAP_MODEL"
ENV_TOKEN = "HF_TOKEN"
#: Free GPU memory the full model needs at 512x512: bf16 weights (~4.6 GB) plus one guided 16-frame window and
#: VAE decoding; docs/full-model.md has the measured peak.
MIN_FREE_GPU_GB = 16.0
REQUIRED_COMPONENTS = ("reference_net", "denoising_unet", "scheduler")
_WEIGHT_PATTERN = re.compile(r"^(diffusion_pytorch_model|model)(\.[\w-]+)?(-\d+-of-\d+)?\.(safetensors|bin)(\.index\.json)?$")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_HOW_TO = (f"Set {ENV_MODEL} to a Hugging Face repo id (e.g. 'your-org/flap') or to a local folder written by "
           f"FLAPPipeline.save_pretrained (model_index.json with reference_net/, denoising_unet/, vae/, scheduler/); "
           f"for a private or gated repo also set {ENV_TOKEN}.")


def weights_source(source: str | os.PathLike | None = None) -> str:
    """The configured weights (argument, else $FLAP_MODEL); a clear error when there are none."""
    value = str(source) if source is not None else (settings().model or "")
    if not value:
        raise EngineUnavailableError(f"The full FLAP model has no weights configured: {ENV_MODEL} is not set. {_HOW_TO}")
    return value


def is_repo_id(source: str) -> bool:
    """'org/name' that is not an existing path; anything path-like is treated as a folder."""
    return bool(_REPO_ID.match(source)) and not Path(source).expanduser().exists() and not source.startswith((".", "/", "~"))


def check_pipeline_folder(folder: str | os.PathLike) -> Path:
    """Check a saved pipeline has every component's config and weights; name the first thing missing."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise EngineUnavailableError(f"The full FLAP model's weights folder {folder} does not exist. {_HOW_TO}")
    index = folder / "model_index.json"
    if not index.is_file():
        raise EngineUnavailableError(f"{index} is missing: {folder} is not a saved FLAP pipeline. {_HOW_TO}")
    try:
        components = json.loads(index.read_text())
    except json.JSONDecodeError as exc:
        raise EngineUnavailableError(f"{index} is not valid JSON ({exc}); re-save or re-download the model") from exc
    for name in REQUIRED_COMPONENTS:
        entry = components.get(name)
        if not isinstance(entry, list) or entry[0] is None:
            raise EngineUnavailableError(f"{index} lists no '{name}' component; re-save the pipeline with FLAPPipeline.save_pretrained")
    for name, entry in components.items():
        if name.startswith("_") or not isinstance(entry, list) or entry[0] is None:
            continue
        sub = folder / name
        config = sub / ("scheduler_config.json" if name == "scheduler" else "config.json")
        if not config.is_file():
            raise EngineUnavailableError(f"The full FLAP model is incomplete: {config} is missing. Re-download or re-save it. {_HOW_TO}")
        if name != "scheduler" and not any(_WEIGHT_PATTERN.match(p.name) for p in sub.iterdir()):
            raise EngineUnavailableError(f"The full FLAP model is incomplete: no weights file (diffusion_pytorch_model.safetensors) "
                                         f"in {sub}. Re-download or re-save it. {_HOW_TO}")
    return folder


def locate_weights(source: str | os.PathLike | None = None, token: str | None = None,
                   local_files_only: bool = False) -> Path:
    """A checked local folder for the weights, downloading a Hub repo (configs, safetensors and the ahead-of-time
    compiled ``aot/*.pt2`` artifacts when the repo has them) if needed."""
    source = weights_source(source)
    if not is_repo_id(source):
        return check_pipeline_folder(source)
    from huggingface_hub import snapshot_download

    token = token or settings().hf_token
    try:
        folder = snapshot_download(source, token=token, local_files_only=local_files_only,
                                   allow_patterns=["*.json", "*.safetensors", "*.txt", "*.pt2"])
    except Exception as exc:  # offline, 404, gated, auth: huggingface_hub raises several types
        raise EngineUnavailableError(_hub_failure(source, exc, token)) from exc
    return check_pipeline_folder(folder)


def _hub_failure(repo: str, exc: Exception, token: str | None) -> str:
    kind = type(exc).__name__
    text = str(exc).splitlines()[0] if str(exc) else kind
    if "LocalEntryNotFound" in kind or "offline" in text.lower() or "connect" in text.lower():
        reason = "it is not in the local Hugging Face cache and the Hub cannot be reached"
    elif "Gated" in kind or "401" in text or "403" in text:
        reason = "the repo is private or gated" + ("" if token else f" and {ENV_TOKEN} is not set")
    elif "RepositoryNotFound" in kind or "404" in text:
        reason = "no such repo on the Hub (check the id)" + ("" if token else f", or it is private and {ENV_TOKEN} is not set")
    else:
        reason = f"{kind}: {text}"
    return f"Could not get the full FLAP model's weights from the Hugging Face repo '{repo}': {reason}. {_HOW_TO}"


def cuda_problem(min_free_gb: float = MIN_FREE_GPU_GB) -> str | None:
    """Why CUDA cannot run the model here (no GPU, or too little free memory), or None."""
    import torch

    if not torch.cuda.is_available():
        return (f"the full FLAP model needs an NVIDIA GPU with CUDA, and PyTorch {torch.__version__} sees none here "
                f"(torch.cuda.is_available() is False; a CPU-only PyTorch build or no driver). Use the embedded engine, "
                f"or run on a machine with a CUDA GPU with at least {min_free_gb:.0f} GB free")
    if settings().zero_gpu:
        return None  # ZeroGPU lends the GPU per call (>= 40 GB); the main process cannot query its memory
    try:
        free, total = torch.cuda.mem_get_info()
    except RuntimeError:  # a driver that cannot report memory: let loading itself say if it does not fit
        return None
    if free < min_free_gb * 2**30:
        name = torch.cuda.get_device_name()
        return (f"the full FLAP model needs about {min_free_gb:.0f} GB of free GPU memory; {name} has "
                f"{free / 2**30:.1f} GB free of {total / 2**30:.1f} GB. Close other GPU programs or use a larger GPU")
    return None


def weights_problem(source: str | os.PathLike | None = None) -> tuple[str | None, str]:
    """(problem or None, note) about the weights, without reading them or downloading anything."""
    try:
        source = weights_source(source)
        if not is_repo_id(source):
            check_pipeline_folder(source)
            return None, f"weights: {source}"
        try:
            locate_weights(source, local_files_only=True)
            return None, f"weights: {source} (in the local Hugging Face cache)"
        except EngineUnavailableError:
            pass
        from huggingface_hub import constants

        if constants.HF_HUB_OFFLINE or settings().hub_offline:
            return (f"the weights '{source}' are not in the local Hugging Face cache and HF_HUB_OFFLINE is set. {_HOW_TO}", "")
        from huggingface_hub import HfApi

        try:
            HfApi().model_info(source, token=settings().hf_token, timeout=5)
        except Exception as exc:
            return _hub_failure(source, exc, settings().hf_token), ""
        return None, f"weights: {source} (downloaded from the Hub on first use)"
    except EngineUnavailableError as exc:
        return str(exc), ""


def availability(source: str | os.PathLike | None = None, min_free_gb: float = MIN_FREE_GPU_GB) -> tuple[bool, str]:
    """(can run, why not / what it will use): every problem is listed, each with its fix."""
    problems = []
    cuda = cuda_problem(min_free_gb)
    if cuda:
        problems.append(cuda)
    weights, note = weights_problem(source)
    if weights:
        problems.append(weights)
    if problems:
        return False, "The full FLAP engine cannot run here: " + " Also: ".join(p.rstrip(".") + "." for p in problems)
    return True, f"The full FLAP engine is ready ({note})."
