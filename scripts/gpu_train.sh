#!/usr/bin/env bash
# Issue 6: the controllability experiment on one GPU.  Renders a synthetic talking-head set from the cached
# portrait states, trains a small FLAP model through the three stages within a wall-clock budget, and writes the
# held-out frames (untrained, after each stage, ground truth) and results.json to $OUT (7 files + log.txt).
#
#   GPU:        OUT=/path scripts/gpu_train.sh            (BUDGET_S=430 by default: ends within ~8 minutes)
#   CPU smoke:  scripts/gpu_train.sh --smoke              (tiny model, 3 steps per stage, same code path)
#
# Then, on the machine with MediaPipe:
#   .venv/bin/python -m flap.training evaluate --results $OUT --docs docs/training.md
#
# Needs the portrait cache .gpucache/issue6 (made here: `.venv/bin/python -m flap.training synthetic cache
# --out .gpucache/issue6`).  Environment: PYTHON (default python3), OUT, BUDGET_S, WORK, STAGE_SHARES (e.g. 0.3,0.55,0.15).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python3}
OUT=${OUT:-outputs/issue6}
WORK=${WORK:-/tmp/flap_issue6_work}
mkdir -p "$OUT"
ARGS=(--cache .gpucache/issue6 --out "$OUT" --work "$WORK")
if [[ "${1:-}" == "--smoke" ]]; then
  ARGS+=(--smoke)
else
  ARGS+=(--budget-s "${BUDGET_S:-430}")
  [[ -n "${STAGE_SHARES:-}" ]] && ARGS+=(--stage-shares "$STAGE_SHARES")
  $PY -c "import torch, diffusers; print('torch', torch.__version__, 'diffusers', diffusers.__version__, 'cuda', torch.cuda.is_available())"
fi
$PY -m flap.training experiment "${ARGS[@]}" 2>&1 | tee "$OUT/log.txt"
