"""Two source trees measured in turn: each runs the same worker script in a process of its own, started once and
then told "go" round after round, the order swapping every round, so both see the same machine load.

The worker prints "ready" once warm, then one line of numbers per "go"; ``run`` returns those rows per tree.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Callable


def run(worker: str, argv: Callable[[str], list[str]], trees: dict[str, str], rounds: int,
        env: dict[str, dict[str, str]] | None = None) -> dict[str, list[tuple[float, ...]]]:
    """``worker`` (Python source) run as ``python -c worker *argv(name)`` in each named tree; ``env`` adds
    variables per tree."""
    env = env or {}
    workers = {name: subprocess.Popen([sys.executable, "-c", worker, *argv(name)],
                                      cwd=tree, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                      env={**os.environ, **env.get(name, {})})
               for name, tree in trees.items()}
    try:
        for worker_proc in workers.values():
            if worker_proc.stdout.readline().strip() != "ready":
                raise SystemExit("a worker failed to start")
        rows: dict[str, list[tuple[float, ...]]] = {name: [] for name in workers}
        order = list(workers.items())
        for i in range(rounds):
            for name, worker_proc in (order if i % 2 == 0 else order[::-1]):
                worker_proc.stdin.write("go\n")
                worker_proc.stdin.flush()
                rows[name].append(tuple(float(v) for v in worker_proc.stdout.readline().split()))
        return rows
    finally:
        for worker_proc in workers.values():
            worker_proc.stdin.close()
            worker_proc.wait()
