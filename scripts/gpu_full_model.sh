#!/usr/bin/env bash
# Issue 5 (the full FLAP model) on one GPU, in one run of about 6-8 minutes on an H100:
#   1. the CUDA test run: the CPU tests' checks with FLAP_TEST_DEVICE=cuda
#   2. bf16 on CUDA against an fp32 reference, full-size architecture (random weights)
#   3. the bf16 matrix-multiply ceiling
#   4. 512x512 timings at 20 and 4 steps with guidance, plain and accelerated, eager and compiled
#      (s per output frame, peak memory, achieved TFLOP/s), and a 60 s (1500-frame) peak-memory run
# Results: $OUT/gpu_full_model.log, cuda_tests.log, bench_eager.json, bench_compiled.json, summary.md.
#
#   bash scripts/gpu_full_model.sh           # on the GPU machine; needs diffusers (importable, or .whl/diffusers-*.whl)
#   bash scripts/gpu_full_model.sh --smoke   # on a CPU: the same path with tiny models, to check the script
# Environment: OUT (results folder, default ./gpu_out), PYTHON (default python3), FLAP_GPU_BUDGET_S (default 470),
#   STAGES (default "tests eager compiled").  Compiling takes about 5 minutes, so where one command may run at
#   most 10 minutes run it twice: STAGES="tests eager", then STAGES=compiled (FLAP_GPU_BUDGET_S=570 for each).
set -u
SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-$PWD/gpu_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export FLAP_BENCH_CACHE=${FLAP_BENCH_CACHE:-/tmp/flap_bench}
PY=${PYTHON:-python3}
if [ $SMOKE = 1 ] && [ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ]; then PY=.venv/bin/python; fi
exec > >(tee -a "$OUT/gpu_full_model.log") 2>&1
START=$(date +%s)
BUDGET=${FLAP_GPU_BUDGET_S:-470}
left() { echo $(( BUDGET - ($(date +%s) - START) )); }
say() { echo "[$(( $(date +%s) - START ))s] $*"; }

say "FLAP issue 5 GPU run (smoke=$SMOKE) in $PWD, results in $OUT, budget ${BUDGET}s"
. scripts/gpu_env.sh && flap_gpu_pythonpath
if ! $PY -c "import torch, diffusers, transformers; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'diffusers', diffusers.__version__, 'transformers', transformers.__version__, 'gpu', torch.cuda.get_device_name() if torch.cuda.is_available() else None)"; then
  say "FATAL: torch/diffusers/transformers not importable (carry .whl/diffusers-0.42.1-py3-none-any.whl or set PYTHONPATH)"
  exit 1
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,memory.used,clocks.sm,clocks.max.sm,driver_version --format=csv
MODE=""
DEVICE=cuda
if [ $SMOKE = 1 ]; then MODE="--smoke"; DEVICE=cpu; fi

STAGES=${STAGES:-tests eager compiled}
has() { case " $STAGES " in *" $1 "*) return 0;; esac; return 1; }

if has tests; then
say "1/3 tests on $DEVICE"
FLAP_TEST_DEVICE=$DEVICE timeout 180 $PY -m pytest -q -p no:cacheprovider tests/test_diffusion_*.py tests/test_audio2flame*.py \
  > "$OUT/cuda_tests.log" 2>&1
say "tests exit code $? (0 = all passed); tail of $OUT/cuda_tests.log:"
tail -n 15 "$OUT/cuda_tests.log"
fi

if has eager; then
T=$(( $(left) - 120 ))
[ $T -gt 330 ] && T=330
say "2/3 eager benchmark (timeout ${T}s)"
timeout --signal=INT --kill-after=15 $T $PY benchmarks/bench_diffusion.py eager $MODE --out "$OUT"
say "eager benchmark exit code $?"
fi

T=$(( $(left) - 15 ))
if ! has compiled; then
  say "3/3 compiled benchmark not asked for"
elif [ $T -gt 45 ]; then
  say "3/3 compiled benchmark (timeout ${T}s; compile time counted in it)"
  timeout --signal=INT --kill-after=15 $T $PY benchmarks/bench_diffusion.py compiled $MODE --out "$OUT"
  say "compiled benchmark exit code $? (124 = out of time: see the compile section in bench_compiled.json)"
else
  say "3/3 compiled benchmark skipped: only $(left)s of the budget left"
fi

$PY scripts/gpu_full_model_summary.py "$OUT"
say "done"
