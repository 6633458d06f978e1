"""Where FLAP's trained weights are, without reading them: the full model (``FLAP_MODEL``: a Hugging Face repo id
or a folder written by ``FLAPPipeline.save_pretrained``; ``HF_TOKEN`` for a private or gated repo) and the parts
inside it.  A neutral low module: the renderer (engines.diffusion) and the motion network (audio2motion) both use it,
so neither imports the other to find weights.  Everything here is cheap unless it downloads (``locate_weights``).
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
