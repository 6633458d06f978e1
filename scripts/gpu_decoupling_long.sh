#!/usr/bin/env bash
# The decoupling ablation (issue 14) trained for ~20 minutes per model across three device commands of one warm
# H200 (flap/training/decoupling_long.py).  The trainers run in their own process sessions, so they outlive a
# command while the machine stays warm (30 s between commands at most); state lives in $STATE on the device.
#   1. bash scripts/gpu_decoupling_long.sh start   render, start both trainers (deadline: TRAIN_S from now) and
#                                                  the untrained model's sampling; watch; heldout/GT/untrained -> $OUT
#   2. bash scripts/gpu_decoupling_long.sh mid     watch; MID_AT s in, sample both models' latest exports
#                                                  -> $OUT/*_mid.npz (a result even if the third command never runs);
#                                                  `start` does this too when MID_AT is set (two commands in all)
#   3. bash scripts/gpu_decoupling_long.sh final   wait for the trainers (at most WAIT_S), sample both, results.json
# Every command ends within CALL_S seconds (default 555) and writes at most 8 files to $OUT.
# Then, on the machine with MediaPipe:
#   .venv/bin/python -m flap.training evaluate-decoupling --results <files> --docs docs/training.md
# CPU check of the same path: SMOKE=1 TRAIN_S=60 CALL_S=90 OUT=/tmp/x bash scripts/gpu_decoupling_long.sh start; ...
set -u
cd "$(dirname "$0")/.."
PHASE=${1:-start}
OUT=${OUT:-$PWD/gpu_out}
S=${STATE:-/root/flap_decoupling_long}
W=$S/work
R=$S/out
CALL_S=${CALL_S:-555}
mkdir -p "$OUT" "$S" "$R"
export PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore
PY=${PYTHON:-python3}
T0=$(date +%s)
. scripts/gpu_env.sh && flap_gpu_pythonpath
M="$PY -m flap.training.decoupling_long"
say() { echo "[$PHASE +$(( $(date +%s) - T0 ))s] $*" | tee -a "$S/session.log"; }
left() { echo $(( CALL_S - ($(date +%s) - T0) )); }
bg() { local log=$1; shift; setsid nohup "$@" > "$log" 2>&1 < /dev/null & }
sample() {  # export name: -> $R/name.npz, written under another name first so a copy never takes half a file;
  # one sampler at a time (flock): each takes ~50 GB of GPU memory at 96 px, and three at once ran out of memory
  bg "$S/sample_$2.log" flock "$S/sample.lock" bash -c "$M sample --work $W --export $1 --out $R/$2.part.npz && mv $R/$2.part.npz $R/$2.npz"
}
watch() {  # print progress every 30 s until $1 seconds into the command or until $2 exists
  while [ "$(( $(date +%s) - T0 ))" -lt "$1" ]; do
    [ -n "${2:-}" ] && eval "$2" && break
    sleep 15
    for m in progressive all_at_once; do say "$m: $(grep -a '^\[' "$S/$m.log" 2>/dev/null | tail -n 1 | cut -c1-150)"; done
  done
}
mid_sample() {  # MID_AT s into the command, sample both models' latest exports -> $OUT/*_mid.npz
  watch "${MID_AT:-370}"
  for m in progressive all_at_once; do
    for e in final latest; do [ -d "$W/$m/$e" ] && { sample "$W/$m/$e" "${m}_mid"; break; }; done
  done
  watch $(( CALL_S - 10 )) '[ -f $R/progressive_mid.npz ] && [ -f $R/all_at_once_mid.npz ]'
  for m in progressive all_at_once; do
    [ -f "$R/${m}_mid.npz" ] && cp "$R/${m}_mid.npz" "$OUT/"
    cp "$W/$m/final/training_info.json" "$OUT/${m}_mid_info.json" 2>/dev/null ||
      cp "$W/$m/latest/training_info.json" "$OUT/${m}_mid_info.json" 2>/dev/null
  done
}
pack() { tar czf "$OUT/logs_$PHASE.tgz" -C "$S" --exclude=work --exclude=out . 2>/dev/null; }

case $PHASE in
start)
  nvidia-smi --query-gpu=name,memory.used,clocks.sm,clocks.max.sm,driver_version --format=csv 2>&1 | tee -a "$S/session.log"
  $PY -c "import torch, diffusers; print('torch', torch.__version__, 'diffusers', diffusers.__version__)" | tee -a "$S/session.log"
  if [ -n "${SMOKE:-}" ]; then P=(--smoke); else P=(--resolution "${RESOLUTION:-96}"); fi
  P+=(--mouth-weight "${MOUTH_WEIGHT:-0}")  # extra loss weight of the mouth box, both models (e.g. 10)
  [ -n "${LR:-}" ] && P+=(--lr "$LR")       # image-stage learning rate, both models
  $M prepare --cache .gpucache/issue6 --work "$W" --out "$R" "${P[@]}" 2>&1 | grep -a '^{' | tee -a "$S/session.log"
  UNTIL=$(( $(date +%s) + ${TRAIN_S:-1290} ))
  echo "$UNTIL" > "$S/until"
  say "training both models until $(date -u -d @"$UNTIL" +%T) ($(( UNTIL - $(date +%s) )) s)"
  for m in progressive all_at_once; do
    bg "$S/$m.log" $M train --work "$W" --model "$m" --until "$UNTIL" --export-every "${EXPORT_EVERY:-240}"
  done
  sample "$W/untrained" untrained
  if [ -n "${MID_AT:-}" ]; then mid_sample; else watch $(( CALL_S - 10 )); fi
  cp "$R"/heldout.npz "$R"/ground_truth.npz "$OUT/"
  [ -f "$R/untrained.npz" ] && cp "$R/untrained.npz" "$OUT/"
  pack ;;
mid)
  mid_sample
  [ -f "$R/untrained.npz" ] && cp "$R/untrained.npz" "$OUT/"
  pack ;;
final)
  watch "${WAIT_S:-300}" '[ -f $W/progressive/run.json ] && [ -f $W/all_at_once/run.json ]'
  for m in progressive all_at_once; do
    if [ -d "$W/$m/final" ]; then sample "$W/$m/final" "$m"; else say "$m: no final export, sampling latest"; sample "$W/$m/latest" "$m"; fi
  done
  watch $(( CALL_S - 15 )) '[ -f $R/progressive.npz ] && [ -f $R/all_at_once.npz ]'
  $M results --work "$W" --out "$R" --extra "{\"command\": \"scripts/gpu_decoupling_long.sh (TRAIN_S=${TRAIN_S:-1290})\"}" 2>&1 | tail -n 3
  cp "$R"/heldout.npz "$R"/ground_truth.npz "$R"/results.json "$OUT/" 2>/dev/null
  for f in untrained progressive all_at_once; do [ -f "$R/$f.npz" ] && cp "$R/$f.npz" "$OUT/"; done
  pack ;;
esac
say "phase $PHASE done; files: $(ls "$OUT" | tr '\n' ' ')"
