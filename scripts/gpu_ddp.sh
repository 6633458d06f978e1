#!/usr/bin/env bash
# Issue 6: stage 1 with DDP on 2 GPUs against 1 GPU, same global batch, seed, learning rate and step count:
# loss curves and samples/s, written to $OUT/ddp_comparison.json (+ the two metrics.jsonl and a log).
#
#   GPU (2x):    OUT=/path scripts/gpu_ddp.sh
#   CPU smoke:   scripts/gpu_ddp.sh --smoke          (tiny model, 2 CPU processes over gloo, 3 steps)
#
# Needs the portrait cache .gpucache/issue6 (made here with MediaPipe:
# `.venv/bin/python -m flap.training synthetic cache --out .gpucache/issue6`); renders its data itself.
# Environment: PYTHON (default python3), OUT, WORK, STEPS (default 300), BATCH (per GPU in the 2-GPU run,
# default 64), RUN_SECONDS (each run's wall-clock cap, default 110), EXTRA_SETS (more "section.key=value" overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python3}
OUT=${OUT:-outputs/issue6_ddp}
WORK=${WORK:-/tmp/flap_issue6_ddp}
mkdir -p "$OUT"
SMOKE=0
[[ "${1:-}" == "--smoke" ]] && SMOKE=1
if [[ $SMOKE == 1 ]]; then
  STEPS=${STEPS:-3}; BATCH=${BATCH:-2}
  RENDER=(--resolution 32 --clips-per-identity 2 --frames-per-clip 12 --heldout-per-identity 0 --workers 2
          --identities astronaut_orig,hopper_mirror)
  MODEL=(--set model.preset=tiny --set model.resolution=32 --set data.num_workers=0 --set run.log_every=1)
  LAUNCH=(--cpu)
else
  STEPS=${STEPS:-300}; BATCH=${BATCH:-64}
  RENDER=(--resolution 64 --clips-per-identity 16 --frames-per-clip 100 --heldout-per-identity 0)
  # a safety net so the whole call stays near 5 minutes even if a step is slower than expected
  MODEL=(--set "run.max_seconds=${RUN_SECONDS:-110}")
  LAUNCH=(--mixed_precision bf16)
  $PY -c "import torch; n = torch.cuda.device_count(); print('GPUs:', n); assert n >= 2, 'this comparison needs 2 GPUs'"
fi
rm -rf "$WORK"
{
  echo "== render the synthetic set"
  $PY -m flap.training synthetic render --cache .gpucache/issue6 --out "$WORK/data" "${RENDER[@]}"
  EXTRA=()
  for kv in ${EXTRA_SETS:-}; do EXTRA+=(--set "$kv"); done  # e.g. EXTRA_SETS="run.gradient_checkpointing=false"
  COMMON=(-m flap.training train --config configs/ddp_stage1.yaml --set "data.root=$WORK/data"
          --set "run.max_steps=$STEPS" "${MODEL[@]}" "${EXTRA[@]}")
  echo "== 1 process, batch $((2 * BATCH))"
  $PY -m accelerate.commands.launch --num_machines 1 --num_processes 1 --dynamo_backend no "${LAUNCH[@]}" \
      "${COMMON[@]}" --set "run.output_dir=$WORK/gpu1" --set "run.batch_size=$((2 * BATCH))"
  echo "== 2 processes (DDP), batch $BATCH each"
  if [[ $SMOKE == 1 ]]; then
    # accelerate launch has no multi-CPU flag; torchrun starts the two gloo processes and accelerate picks them up
    ACCELERATE_USE_CPU=1 $PY -m torch.distributed.run --nproc_per_node 2 --master_port 29517 \
        "${COMMON[@]}" --set "run.output_dir=$WORK/gpu2" --set "run.batch_size=$BATCH"
  else
    $PY -m accelerate.commands.launch --num_machines 1 --num_processes 2 --multi_gpu --main_process_port 29517 \
        --dynamo_backend no "${LAUNCH[@]}" "${COMMON[@]}" --set "run.output_dir=$WORK/gpu2" --set "run.batch_size=$BATCH"
  fi
  echo "== compare"
  $PY scripts/ddp_compare.py "$WORK/gpu1" "$WORK/gpu2" --out "$OUT/ddp_comparison.json" \
      --batch-1gpu $((2 * BATCH)) --batch-2gpu "$BATCH" --command "scripts/gpu_ddp.sh (STEPS=$STEPS BATCH=$BATCH)"
  cp "$WORK/gpu1/metrics.jsonl" "$OUT/metrics_1gpu.jsonl"
  cp "$WORK/gpu2/metrics.jsonl" "$OUT/metrics_2gpu.jsonl"
} 2>&1 | tee "$OUT/ddp_log.txt"
