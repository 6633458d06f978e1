#!/usr/bin/env bash
# Issue 14's whole GPU session in three device commands on one warm H200 (device files persist between calls
# while the machine stays warm, 30 s idle at most; long jobs run in their own process session so they outlive a
# command).  Every call carries .whl and .gpucache (carry=[".whl", ".gpucache"]): a path not carried is gone there.
#   1. bash scripts/gpu_issue14.sh start    the AOT compile in the background, the compiler repro
#                                           (scripts/gpu_aot_repro.sh) in the foreground, then waits for the compile
#   2. bash scripts/gpu_issue14.sh bench    the AOT benchmark in a fresh process, the GPU otherwise idle
#   3. bash scripts/gpu_issue14.sh decouple the decoupling ablation (DEC_BUDGET_S <= 540 fits one command), its files
# Nothing may share the GPU with the compile: it peaks near 80 GB and a training run beside it ran out of memory.
# Each command ends within ~9.5 minutes and writes what it has to $OUT (at most 8 files: logs go into one .tgz).
# Environment: OUT, PYTHON, DEC_BUDGET_S (the decoupling's wall-clock budget, default 540), DEC_STEPS (per
# model, default 2000), RESOLUTION (default 96).
set -u
cd "$(dirname "$0")/.."
PHASE=${1:-start}
OUT=${OUT:-$PWD/gpu_out}
S=/root/flap14
mkdir -p "$OUT" "$S"
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
T0=$(date +%s)
say() { echo "[$PHASE $(( $(date +%s) - T0 ))s] $*" | tee -a "$S/session.log"; }
. scripts/gpu_env.sh && flap_gpu_pythonpath
pack() {  # the logs in one archive
  tar czf "$OUT/logs_$PHASE.tgz" -C "$S" --exclude='*.npz' --exclude='work' . 2>/dev/null
}

case $PHASE in
start)
  nvidia-smi --query-gpu=name,memory.used,clocks.sm,clocks.max.sm,driver_version --format=csv | tee -a "$S/session.log"
  say "AOT compile in the background"
  OUT="$S/aot" START_ONLY=1 bash scripts/gpu_full_model_aot.sh
  say "compiler repro"
  OUT="$S" bash scripts/gpu_aot_repro.sh
  cp "$S/aot_repro.log" "$OUT/"
  while [ ! -f /tmp/flap_aot_state/compile.done ] && [ $(( $(date +%s) - T0 )) -lt 555 ]; do sleep 5; done
  say "$(tail -n 2 /tmp/flap_aot_state/compile.log 2>/dev/null)"
  pack ;;
bench)
  say "AOT benchmark"
  OUT="$S/aot" FLAP_GPU_BUDGET_S=560 bash scripts/gpu_full_model_aot.sh
  cp "$S"/aot/*.json "$OUT/" 2>/dev/null
  pack ;;
decouple)
  say "decoupling (budget ${DEC_BUDGET_S:-540} s, ${DEC_STEPS:-2000} steps per model)"
  rm -rf "$S/decoupling"; mkdir -p "$S/decoupling" "$OUT/decoupling"
  timeout 580 env OUT="$S/decoupling" WORK=/root/flap_decoupling_work BUDGET_S="${DEC_BUDGET_S:-540}" \
    STEPS="${DEC_STEPS:-2000}" RESOLUTION="${RESOLUTION:-96}" bash scripts/gpu_decoupling.sh > "$S/decoupling_stdout.log" 2>&1
  say "decoupling exit code: $?"
  cp "$S"/decoupling/*.npz "$S"/decoupling/results.json "$OUT/decoupling/" 2>/dev/null
  pack ;;
esac
say "phase $PHASE done"
