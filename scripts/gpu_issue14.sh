#!/usr/bin/env bash
# Issue 14's whole GPU session in three device commands on one warm H200 (device files persist between calls
# while the machine stays warm; long jobs run in their own process session so they outlive a command):
#   1. bash scripts/gpu_issue14.sh start    the decoupling ablation and the AOT compile start in the background,
#                                           then the compiler repro (scripts/gpu_aot_repro.sh) runs in the foreground
#   2. bash scripts/gpu_issue14.sh wait     waits for the decoupling run, returns its files
#   3. bash scripts/gpu_issue14.sh bench    waits for the compile, then the AOT benchmark in a fresh process (the
#                                           GPU otherwise idle), returns its files
# Each command ends within ~9.5 minutes and writes what it has to $OUT (at most 8 files: logs go into one .tgz).
# Environment: OUT, PYTHON, DEC_BUDGET_S (the decoupling's wall-clock budget, default 1050), DEC_STEPS (per
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
if ! $PY -c "import diffusers" 2>/dev/null && [ ! -d /tmp/flap_deps/diffusers ]; then
  $PY -m pip install -q --no-deps --no-index --no-compile --target /tmp/flap_deps .whl/diffusers-*.whl
fi
export PYTHONPATH="/tmp/flap_deps:$PWD${PYTHONPATH:+:$PYTHONPATH}"
pack() {  # the logs in one archive
  tar czf "$OUT/logs_$PHASE.tgz" -C "$S" --exclude='*.npz' --exclude='work' . 2>/dev/null
}

case $PHASE in
start)
  nvidia-smi --query-gpu=name,memory.used,clocks.sm,clocks.max.sm,driver_version --format=csv | tee -a "$S/session.log"
  say "decoupling in the background (budget ${DEC_BUDGET_S:-1050} s, ${DEC_STEPS:-2000} steps per model)"
  mkdir -p "$S/decoupling"
  setsid env OUT="$S/decoupling" WORK=/root/flap_decoupling_work BUDGET_S="${DEC_BUDGET_S:-1050}" \
    STEPS="${DEC_STEPS:-2000}" RESOLUTION="${RESOLUTION:-96}" \
    bash -c "bash scripts/gpu_decoupling.sh > '$S/decoupling_stdout.log' 2>&1; echo \$? > '$S/decoupling.rc'" &
  say "AOT compile in the background"
  OUT="$S/aot" START_ONLY=1 bash scripts/gpu_full_model_aot.sh
  say "compiler repro"
  OUT="$S" bash scripts/gpu_aot_repro.sh
  cp "$S/aot_repro.log" "$OUT/"
  while [ $(( $(date +%s) - T0 )) -lt 540 ]; do sleep 10; done
  say "$(tail -n 3 "$S/decoupling/decoupling.log" 2>/dev/null)"
  say "$(tail -n 2 /tmp/flap_aot_state/compile.log 2>/dev/null)"
  pack ;;
wait)
  while [ ! -f "$S/decoupling.rc" ] && [ $(( $(date +%s) - T0 )) -lt 555 ]; do sleep 5; done
  say "decoupling exit code: $(cat "$S/decoupling.rc" 2>/dev/null || echo 'still running')"
  mkdir -p "$OUT/decoupling"
  cp "$S"/decoupling/*.npz "$S"/decoupling/results.json "$OUT/decoupling/" 2>/dev/null
  say "$(tail -n 2 /tmp/flap_aot_state/compile.log 2>/dev/null)"
  pack ;;
bench)
  say "AOT benchmark"
  OUT="$S/aot" FLAP_GPU_BUDGET_S=560 bash scripts/gpu_full_model_aot.sh
  cp "$S"/aot/*.json "$OUT/" 2>/dev/null
  pack ;;
esac
say "phase $PHASE done"
