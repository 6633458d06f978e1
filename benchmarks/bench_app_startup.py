"""How long app.py takes from process start to the first page answer (the Space's cold start, without warm-up).

    python benchmarks/bench_app_startup.py [--repeats 3]

The same settings as the API tests (shared mode, no warm-up job); prints every start and the best.  This was a
test's assert (15 s) until timings moved out of the tests: a busy machine made it flaky.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from flap.webapp.local_server import LocalApp

    times = []
    with tempfile.TemporaryDirectory(prefix="flap-bench-app-") as tmp:
        env = {"FLAP_SHARED": "1", "FLAP_WARMUP": "0", "FLAP_OUTPUT_DIR": f"{tmp}/outputs", "GRADIO_TEMP_DIR": f"{tmp}/gradio"}
        for k in range(args.repeats):
            with LocalApp(env=env, log_path=Path(tmp) / f"app{k}.log") as app:
                times.append(app.startup_s)
            print(f"start {k + 1}: app.py answered after {times[-1]:.2f} s")
    print(f"best of {len(times)}: {min(times):.2f} s")


if __name__ == "__main__":
    main()
