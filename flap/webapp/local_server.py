"""Start app.py in a subprocess on a free localhost port and wait until it answers (tests, scripts, timing).

    with LocalApp(env={"FLAP_MAX_AUDIO_SECONDS": "20"}) as app:
        Client(app.url).predict(..., api_name="/motion")

The child gets its own process group so stopping it also stops its ffmpeg children; its output goes to a log
file whose tail is shown if it fails to start.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalApp:
    env: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 90.0
    port: int = 0
    log_path: Path | None = None
    startup_s: float = float("nan")  # seconds from process start to the first page answer
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> "LocalApp":
        self.port = self.port or free_port()
        env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(self.port),
               "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"),
               "PYTHONUNBUFFERED": "1", **self.env}
        if self.log_path is None:
            self.log_path = Path(tempfile.mkstemp(prefix="flap-app-", suffix=".log")[1])
        log = open(self.log_path, "wb")
        start = time.perf_counter()
        self.process = subprocess.Popen([sys.executable, str(REPO_ROOT / "app.py")], cwd=REPO_ROOT, env=env, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        while time.perf_counter() - start < self.timeout_s:
            if self.process.poll() is not None:
                raise RuntimeError(f"app.py exited with code {self.process.returncode} during start-up:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    if response.status == 200:
                        self.startup_s = time.perf_counter() - start
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"app.py did not answer within {self.timeout_s:g} s:\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:] if self.log_path else ""
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)  # the group this Popen created: the app and its children
            self.process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=5)

    def __enter__(self) -> "LocalApp":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
