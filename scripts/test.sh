#!/bin/sh
# The tests in tiers, cheapest first: lint (ruff), the fast tier, then the rest (tests marked slow, server or
# browser; markers in pyproject.toml).  Every tier runs; each pytest tier lists its 15 slowest tests and ends with
# pytest's own closing line; the exit status is non-zero if any tier failed (the failed tiers are named last).
# Extra arguments go to both pytest tiers, e.g. `sh scripts/test.sh -x`.
cd "$(dirname "$0")/.." || exit 1
REST="slow or server or browser"
FAILED=""

echo "== tier 1/3: lint (ruff check .) =="
if python -m ruff --version >/dev/null 2>&1; then
  python -m ruff check . || FAILED="$FAILED lint"
else
  echo "ruff is not installed: pip install -r requirements-test.txt" >&2
  FAILED="$FAILED lint"
fi

tier() {  # name, marker expression, extra pytest arguments
  name=$1; markers=$2; shift 2
  python -m pytest -q --durations=15 -m "$markers" "$@"
  status=$?
  # 5: no test of this tier among the ones asked for (e.g. a single fast file)
  if [ "$status" -ne 0 ] && [ "$status" -ne 5 ]; then FAILED="$FAILED $name"; fi
}

echo "== tier 2/3: fast tests (not $REST) =="
tier fast "not ($REST)" "$@"
echo "== tier 3/3: the rest ($REST) =="
tier rest "$REST" "$@"

if [ -n "$FAILED" ]; then
  echo "FAILED tiers:$FAILED" >&2
  exit 1
fi
