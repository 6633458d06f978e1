#!/usr/bin/env bash
# Why did AOTInductor packages segfault on load on the GPU machine (issue 14)?  The suspect: the C++ compiler.
# The H200 image sets CXX=/opt/gcc/bin/g++ (a wrapper), which Inductor uses when torch._inductor.config.cpp.cxx
# names none.  A two-layer module is compiled with each compiler, on the CPU and on the GPU, and loaded in the
# compiling process and in a fresh one; every step in a process of its own (a segfault ends only that step), the
# steps of one compiler in parallel.  Log in $OUT/aot_repro.log.
#
#   OUT=/path bash scripts/gpu_aot_repro.sh        (about a minute on an H200)
# Environment: OUT (default ./gpu_out), PYTHON (default python3), W (scratch, default /root/flap_aot_repro).
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu_out}
export W=${W:-/root/flap_aot_repro}
rm -rf "$W"; mkdir -p "$OUT" "$W"
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 PYTHONFAULTHANDLER=1
LOG=$OUT/aot_repro.log
IMAGE_CXX=${CXX:-}
{
  echo "# $(date -u) $(uname -r)"
  echo "TMPDIR=${TMPDIR:-} CC=${CC:-} CXX=${CXX:-}"; command -v gcc g++ c++ nvcc
  for c in "$IMAGE_CXX" /usr/bin/g++; do [ -n "$c" ] && echo "$c: $($c --version | head -n 1)"; done
  [ -n "$IMAGE_CXX" ] && { echo "--- $IMAGE_CXX (first lines)"; head -c 600 "$IMAGE_CXX" | strings | head -n 15; }
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
  $PY -c "import torch, sys; print(torch.__version__, torch.version.cuda, sys.version)"
} >> "$LOG" 2>&1

cat > "$W/repro.py" <<'EOF'
import faulthandler, glob, os, subprocess, sys, time, zipfile
faulthandler.enable()
import torch
mode, dev, cxx = sys.argv[1], sys.argv[2], sys.argv[3]
W = os.environ["W"]
class M(torch.nn.Module):
    def __init__(s):
        super().__init__(); s.a = torch.nn.Linear(64, 128); s.b = torch.nn.Linear(128, 8)
    def forward(s, x):
        return s.b(torch.relu(s.a(x)))
torch.manual_seed(0)
m = M().to(dev).eval()
x = torch.randn(4, 64, device=dev)
ref = m(x)
tag = f"{dev}_{cxx.strip('/').replace('/', '_') or 'env'}"
pkg = f"{W}/tiny_{tag}.pt2"
def check(f, what):
    out = f(x); out = out[0] if isinstance(out, (list, tuple)) else out
    print(what, "OK max|diff|", (out - ref).abs().max().item(), flush=True)
if mode == "compile":
    ep = torch.export.export(m, (x,))
    # "env": Inductor's default, cpp.cxx = (None, "g++"): $CXX if set; otherwise the compiler named
    configs = {} if cxx == "env" else {"cpp.cxx": (cxx,)}
    with torch._inductor.config.patch(configs):
        t = time.time(); p = torch._inductor.aoti_compile_and_package(ep, package_path=pkg)
    print("compiled in", round(time.time() - t, 1), "s with", cxx, "->", p, flush=True)
    d = f"{W}/extract_{tag}"; zipfile.ZipFile(p).extractall(d)
    for so in glob.glob(f"{d}/**/*.so", recursive=True):
        print(so.split("/")[-1], subprocess.run(f"ldd {so} | grep -E 'stdc|gcc_s|libc.so|not found'", shell=True,
                                                capture_output=True, text=True).stdout, flush=True)
        print("comment:", subprocess.run(f"readelf -p .comment {so} | grep -o 'GCC.*' | sort -u", shell=True,
                                         capture_output=True, text=True).stdout.strip(), flush=True)
    check(torch._inductor.aoti_load_package(p), "same-process load")
else:
    t = time.time(); f = torch._inductor.aoti_load_package(pkg); print("fresh load in", round(time.time() - t, 2), "s", flush=True)
    check(f, "fresh-process load")
EOF

run_step() {  # run_step NAME FILE command...: a time limit, the end of its output and its exit code into FILE
  local name=$1 file=$2; shift 2
  timeout 240 "$@" > "$file.out" 2>&1
  local rc=$?
  { echo "## $name"; grep -v "Warning\|warn(" "$file.out" | tail -n 25; echo "rc=$rc"; } > "$file"
  echo "$name rc=$rc"
}
COMPILERS=(/usr/bin/g++)
[ -n "$IMAGE_CXX" ] && [ "$IMAGE_CXX" != /usr/bin/g++ ] && COMPILERS=(env /usr/bin/g++)
k=0
for cxx in "${COMPILERS[@]}"; do   # compile: every (compiler, device) at once
  for dev in cpu cuda; do
    k=$((k+1)); run_step "compile + same-process load: $dev, cxx=$cxx (env: CXX=$IMAGE_CXX)" "$W/s$k.c" $PY "$W/repro.py" compile $dev $cxx &
  done
done
wait
k=0
for cxx in "${COMPILERS[@]}"; do   # then a fresh process loads each package
  for dev in cpu cuda; do
    k=$((k+1)); run_step "fresh-process load: $dev, cxx=$cxx" "$W/s$k.l" $PY "$W/repro.py" load $dev $cxx &
  done
done
wait
for i in $(seq 1 $k); do cat "$W/s$i.c" "$W/s$i.l" >> "$LOG"; done
echo "log: $LOG"
