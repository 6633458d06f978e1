#!/usr/bin/env bash
# The decoupling ablation (issue 14) on one GPU: render the synthetic set at 96 px (training identities, new
# identities, cross-talk probes), train the small model twice with the same time (progressive stages 1-3, and
# all at once), sample the held-out clips; JPEG frames + results.json in $OUT (6 files + decoupling.log).
#
#   GPU:        OUT=/path scripts/gpu_decoupling.sh            (BUDGET_S=540 by default: ends within ~9.5 minutes)
#   CPU smoke:  scripts/gpu_decoupling.sh --smoke              (tiny model, 3 steps per stage, same code path)
# Then, on the machine with MediaPipe:
#   .venv/bin/python -m flap.training evaluate-decoupling --results $OUT --docs docs/training.md
#
# Needs the portrait cache .gpucache/issue6 (`.venv/bin/python -m flap.training synthetic cache --out
# .gpucache/issue6`; rebuild it whenever flap/engines/embedded changes).  Environment: PYTHON, OUT, BUDGET_S,
# WORK, RESOLUTION, STEPS (per model), SKIP_UNTRAINED=1 (reuse an untrained.npz of the same set).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
. scripts/gpu_env.sh && flap_gpu_pythonpath
OUT=${OUT:-outputs/decoupling}
WORK=${WORK:-/tmp/flap_decoupling_work}
mkdir -p "$OUT"
ARGS=(--cache .gpucache/issue6 --out "$OUT" --work "$WORK")
if [[ "${1:-}" == "--smoke" ]]; then
  ARGS+=(--smoke)
else
  ARGS+=(--budget-s "${BUDGET_S:-540}")
  [[ -n "${RESOLUTION:-}" ]] && ARGS+=(--resolution "$RESOLUTION")
  [[ -n "${STEPS:-}" ]] && ARGS+=(--steps "$STEPS")
  [[ -n "${SKIP_UNTRAINED:-}" ]] && ARGS+=(--skip-untrained)
  $PY -c "import torch, diffusers; print('torch', torch.__version__, 'diffusers', diffusers.__version__, 'gpu', torch.cuda.get_device_name() if torch.cuda.is_available() else None)"
fi
$PY -m flap.training decoupling "${ARGS[@]}" 2>&1 | grep --line-buffered -v "Warning\|warn(" | tee "$OUT/decoupling.log"
