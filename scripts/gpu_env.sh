# Sourced by scripts/gpu_*.sh (from the repo root, with PY set): the device has torch but not diffusers, so the
# carried wheel .whl/diffusers-*.whl is installed once per machine into /tmp/flap_deps and put on PYTHONPATH, then
# the repo itself.  Where diffusers is importable already (a local venv) nothing is installed or added.
flap_gpu_pythonpath() {
  if ! $PY -c "import diffusers" 2>/dev/null; then
    if [ ! -d /tmp/flap_deps/diffusers ]; then
      local whl
      whl=$(ls .whl/diffusers-*.whl 2>/dev/null | head -n 1)
      [ -n "$whl" ] || { echo "no .whl/diffusers-*.whl to install (carry .whl)" >&2; return 1; }
      $PY -m pip install -q --no-deps --no-index --no-compile --target /tmp/flap_deps "$whl" || return 1
    fi
    export PYTHONPATH="/tmp/flap_deps${PYTHONPATH:+:$PYTHONPATH}"
  fi
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
}
