"""Soak and fault run of the web app on 127.0.0.1: sequential requests, concurrent clients, the bad-input list and
kills (a client that vanishes mid-job, SIGTERM and SIGKILL of the server and of the CLI mid-render).

    python scripts/soak.py                  # the full run (100 sequential, 4 clients x 5; minutes)
    python scripts/soak.py --short          # a few of each (the test suite runs this)
    python scripts/soak.py --json out.json  # also write the figures

Bounded in count and in time (--max-minutes); the server listens on 127.0.0.1 only and gets its own temporary
folders.  Prints every failure, latency p50/p95 per kind of request, and the server's memory (its process tree's
RSS) and disk use (its output and Gradio cache folders) over time.  Exit status 1 when anything failed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from flap.webapp.local_server import LocalApp  # noqa: E402

ASTRONAUT = REPO / "examples" / "portraits" / "astronaut.jpg"
SCIENCE = REPO / "examples" / "speech" / "science.mp3"
HELLO = REPO / "examples" / "speech" / "hello.wav"
GENERIC = "upstream Gradio app has raised an exception"


# ---------------------------------------------------------------------------------------------- measuring
def tree_rss_mb(pid: int) -> float:
    """RSS of a process and all its descendants (Linux /proc), in MB."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def disk_mb(*folders: Path) -> float:
    total = 0
    for folder in folders:
        for path in folder.rglob("*") if folder.exists() else ():
            try:
                if path.is_file():
                    total += path.stat().st_size
            except OSError:
                continue
    return total / 2**20


def partial_files(*folders: Path) -> list[Path]:
    return [p for folder in folders if folder.exists() for p in folder.rglob("*.part*") if p.is_file()]


class Monitor(threading.Thread):
    """Samples (seconds, RSS MB, disk MB) of the current server every ``interval_s``."""

    def __init__(self, run: "Run", interval_s: float = 1.0):
        super().__init__(daemon=True)
        self.run_, self.interval_s, self.samples = run, interval_s, []
        self.start_time = time.perf_counter()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval_s):
            app = self.run_.app
            if app is not None and app.alive():
                self.samples.append((time.perf_counter() - self.start_time, tree_rss_mb(app.process.pid),
                                     disk_mb(*self.run_.folders)))

    def stop(self) -> None:
        self._stop_event.set()


# ---------------------------------------------------------------------------------------------- the run
@dataclass
class Run:
    tmp: Path
    max_s: float
    failures: list[str] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    facts: dict[str, float | str] = field(default_factory=dict)
    app: LocalApp | None = None
    started: float = field(default_factory=time.perf_counter)

    @property
    def folders(self) -> tuple[Path, Path]:
        """Where the server may write: Gradio's cache and the system temp folder it is given."""
        return self.tmp / "gradio", self.tmp / "tmp"

    def env(self) -> dict[str, str]:
        # FLAP_OUTPUT_DIR is left unset, so the server puts its job folders where it does by default.
        for folder in self.folders:
            folder.mkdir(parents=True, exist_ok=True)
        return {"GRADIO_TEMP_DIR": str(self.folders[0]), "TMPDIR": str(self.folders[1]), "FLAP_WARMUP": "0",
                "FLAP_CONCURRENCY": "1", "FLAP_UNLIMITED": "1"}

    def start_app(self) -> LocalApp:
        self.app = LocalApp(env=self.env(), log_path=self.tmp / "app.log", timeout_s=120).start()
        return self.app

    def client(self):
        from gradio_client import Client

        return Client(self.app.url, verbose=False, download_files=str(self.tmp / "downloads"))

    def out_of_time(self) -> bool:
        return time.perf_counter() - self.started > self.max_s

    def fail(self, what: str) -> None:
        print(f"FAIL {what}", flush=True)
        self.failures.append(what)

    def timed(self, kind: str, call):
        start = time.perf_counter()
        try:
            return call()
        finally:
            self.latencies.setdefault(kind, []).append(time.perf_counter() - start)


def wait_for(predicate, timeout_s: float, step_s: float = 0.1) -> float | None:
    """Seconds until ``predicate()`` held, or None after ``timeout_s``."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout_s:
        if predicate():
            return time.perf_counter() - start
        time.sleep(step_s)
    return None


def sequential(run: Run, client, count: int) -> None:
    from gradio_client import handle_file

    for i in range(count):
        if run.out_of_time():
            run.fail(f"sequential: stopped by --max-minutes after {i} of {count}")
            return
        try:
            if i % 10 == 9:
                run.timed("generate 256px", lambda: client.predict(portrait=handle_file(ASTRONAUT), text=f"Request {i}.",
                                                                   size=256, seed=i, api_name="/generate"))
            else:
                run.timed("motion", lambda: client.predict(text=f"This is request number {i}.", seed=i, api_name="/motion"))
        except Exception as exc:
            run.fail(f"sequential request {i}: {exc}")


def concurrent(run: Run, clients: int, each: int) -> None:
    """Each client asks for its own yaw; a motion coming back with another client's yaw is cross-talk."""
    from flap.motion.representation import MotionSequence

    yaws = [(-20 + 40 * k / max(clients - 1, 1)) for k in range(clients)]

    def worker(k: int) -> None:
        client = run.client()
        for j in range(each):
            try:
                path = run.timed("motion (concurrent)", lambda: client.predict(text=f"Client {k} asks {j}.", yaw=yaws[k],
                                                                               motion_scale=0, api_name="/motion")[0])
                got = float(MotionSequence.load(path).head_euler_degrees()[:, 0].mean())
                if abs(got - yaws[k]) > 3:
                    run.fail(f"cross-talk: client {k} asked yaw {yaws[k]:g} and got {got:.1f}")
            except Exception as exc:
                run.fail(f"concurrent client {k} request {j}: {exc}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def bad_inputs(run: Run, client) -> None:
    """Each must be refused with the project's message (never Gradio's generic one) while the server keeps serving."""
    from gradio_client import handle_file

    folder = run.tmp / "bad"
    folder.mkdir(exist_ok=True)
    (folder / "text.png").write_text("this is not an image")
    (folder / "notes.txt").write_text("nor is this")
    (folder / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + os.urandom(4000))
    from PIL import Image

    Image.new("RGB", (320, 320), (128, 128, 128)).save(folder / "grey.png")
    cases = {
        "text file named .png": (dict(portrait=handle_file(folder / "text.png"), audio=handle_file(SCIENCE)), "/generate",
                                 "could not be read as an image"),
        "text file as portrait": (dict(portrait=handle_file(folder / "notes.txt"), audio=handle_file(SCIENCE)), "/generate",
                                  "could not be read as an image"),
        "no face": (dict(portrait=handle_file(folder / "grey.png"), audio=handle_file(SCIENCE)), "/generate", "No face"),
        "corrupt audio": (dict(audio=handle_file(folder / "corrupt.wav")), "/motion", "not a readable audio file"),
        "text too long": (dict(text="The quick brown fox jumps over the lazy dog. " * 445), "/motion", "characters long"),
        "pitch out of range": (dict(text="Hello.", pitch=40), "/motion", "pitch must be between"),
        "no speech": (dict(), "/motion", "No speech was given"),
    }
    for name, (kwargs, api, expected) in cases.items():
        try:
            run.timed("refusal", lambda: client.predict(**kwargs, api_name=api))
            run.fail(f"bad input '{name}' was accepted")
        except Exception as exc:
            if expected not in str(exc) or GENERIC in str(exc):
                run.fail(f"bad input '{name}': unexpected message {str(exc)[:200]!r}")
    # A transcript far longer than the speech: used as nothing, said in the notes, and quick.
    try:
        notes = run.timed("motion, 19,990-char transcript", lambda: client.predict(
            audio=handle_file(SCIENCE), transcript=("the quick brown fox " * 1000)[:19_990], api_name="/motion")[-1])
        if "far more" not in notes:
            run.fail(f"long transcript: no note in {notes[:200]!r}")
    except Exception as exc:
        run.fail(f"long transcript: {exc}")
    # A server path given by a raw API client (not through gradio_client, which would upload it).
    message = raw_call(run.app.url, "motion", server_path_call("motion"))
    if not message or "uploaded" not in message:
        run.fail(f"server path: the raw API answer was {message!r}")
    if not run.app.alive():
        run.fail("the server died on bad input")


def server_path_call(endpoint: str) -> list:
    """The endpoint's positional inputs (as declared for the API) with a server path as the first file."""
    from flap.webapp import handlers
    from flap.webapp.signatures import parameter_names

    names = parameter_names(getattr(handlers, endpoint))
    return [{"path": "/etc/hostname", "meta": {"_type": "gradio.FileData"}}] + [None] * (len(names) - 1)


def raw_call(url: str, api_name: str, data: list) -> str | None:
    """POST /call/<api> and read its event stream; the error message of a refusal (None if it had none)."""
    import httpx

    base = url.rstrip("/") + "/gradio_api"
    event_id = httpx.post(f"{base}/call/{api_name}", json={"data": data}, timeout=30).json()["event_id"]
    text = httpx.get(f"{base}/call/{api_name}/{event_id}", timeout=120).text
    for line in text.splitlines():
        if line.startswith("data:"):
            try:
                payload = json.loads(line[5:])
            except ValueError:
                continue
            if isinstance(payload, dict) and "error" in payload:
                return payload["error"]
    return None


CLIENT_THAT_VANISHES = """
import sys, time
from gradio_client import Client, handle_file
job = Client(sys.argv[1], verbose=False).submit(portrait=handle_file(sys.argv[2]), audio=handle_file(sys.argv[3]),
                                                size=512, api_name="/generate")
while True:
    status = job.status()
    if status.progress_data:
        print("rendering", flush=True)
        break
    time.sleep(0.1)
time.sleep(600)
"""


def long_speech(run: Run, seconds_of_text: int = 10) -> Path:
    path = run.tmp / "long.wav"
    if not path.exists():
        text = "The quick brown fox jumps over the lazy dog. " * seconds_of_text
        subprocess.run(["espeak-ng", "-s", "150", "-w", str(path), "--stdin"], input=text.encode(), check=True)
    return path


def vanishing_client(run: Run, client) -> None:
    """A client killed mid-render: its job must stop (partial video gone, folder finished) and the next request
    must not wait for it."""
    from gradio_client import handle_file

    proc = subprocess.Popen([sys.executable, "-c", CLIENT_THAT_VANISHES, run.app.url, str(ASTRONAUT), str(long_speech(run))],
                            stdout=subprocess.PIPE, text=True)
    try:
        if proc.stdout.readline().strip() != "rendering":
            run.fail("vanishing client: its job never started rendering")
            return
        if wait_for(lambda: partial_files(*run.folders), 30) is None:
            run.fail("vanishing client: no partial video appeared")
            return
    finally:
        proc.kill()
        proc.wait()
    stopped = wait_for(lambda: not partial_files(*run.folders), 30)
    if stopped is None:
        run.fail("vanishing client: its job kept rendering for 30 s after the client was gone")
    else:
        run.facts["abandoned job stopped after (s)"] = round(stopped, 2)
    start = time.perf_counter()
    try:
        client.predict(portrait=handle_file(ASTRONAUT), text="Next one.", size=256, api_name="/generate")
        run.facts["next short generate after the vanished client (s)"] = round(time.perf_counter() - start, 2)
    except Exception as exc:
        run.fail(f"vanishing client: the next request failed: {exc}")


def kill_server(run: Run, sig: signal.Signals) -> None:
    """Signal the server (its process only, as `kill PID` does) mid-render; after a restart nothing partial is left."""
    from gradio_client import handle_file

    client = run.client()
    client.submit(portrait=handle_file(ASTRONAUT), audio=handle_file(long_speech(run)), size=512, api_name="/generate")
    if wait_for(lambda: partial_files(*run.folders), 60) is None:
        run.fail(f"server {sig.name}: no partial video appeared")
        return
    os.kill(run.app.process.pid, sig)
    try:
        run.app.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        run.fail(f"server {sig.name}: still running 30 s later")
        run.app.stop()
    if sig != signal.SIGKILL:
        left = wait_for(lambda: not partial_files(*run.folders), 5)
        if left is None:
            run.fail(f"server {sig.name}: left {partial_files(*run.folders)}")
    run.start_app()  # the start-up sweep removes what a SIGKILL left
    if partial_files(*run.folders):
        run.fail(f"server {sig.name}, after restart: left {partial_files(*run.folders)}")


def kill_cli(run: Run, sig: signal.Signals) -> None:
    """``python -m flap generate`` signalled mid-render: no OUT.part.* beside --out (after the next run for SIGKILL),
    and for SIGINT/SIGTERM one line on stderr, no traceback."""
    folder = run.tmp / f"cli-{sig.name}"
    folder.mkdir(exist_ok=True)
    out = folder / "out.mp4"
    cmd = [sys.executable, "-m", "flap", "generate", "--portrait", str(ASTRONAUT), "--audio", str(long_speech(run)),
           "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if wait_for(lambda: list(folder.glob("*.part*")), 120) is None:
        proc.kill()
        run.fail(f"cli {sig.name}: no partial video appeared")
        return
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    left = list(folder.glob("*.part*"))
    if sig == signal.SIGKILL:
        time.sleep(1)  # the orphaned encoder finishes its file
        again = [sys.executable, "-m", "flap", "generate", "--portrait", str(ASTRONAUT), "--audio", str(HELLO),
                 "--size", "128", "--out", str(out)]  # the next run writing the same file sweeps what the killed one left
        subprocess.run(again, cwd=REPO, capture_output=True, timeout=300, check=False)
        left = list(folder.glob("*.part*"))
    else:
        lines = [line for line in err.splitlines() if line.strip() and "%|" not in line and "it/s" not in line]
        if "Traceback" in err or not lines or "stopped" not in lines[-1] or proc.returncode != 130:
            run.fail(f"cli {sig.name}: exit {proc.returncode}, stderr ends {err[-300:]!r}")
        if out.exists():
            run.fail(f"cli {sig.name}: an output was left at {out}")
    if left:
        run.fail(f"cli {sig.name}: left {left}")


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def report(run: Run, monitor: Monitor) -> dict:
    print("\n== latency (s): kind  n  p50  p95  max")
    figures: dict = {"failures": run.failures, "latency": {}, "facts": run.facts, "samples": monitor.samples}
    for kind, values in run.latencies.items():
        row = dict(n=len(values), p50=round(statistics.median(values), 2), p95=round(percentile(values, 0.95), 2),
                   max=round(max(values), 2))
        figures["latency"][kind] = row
        print(f"   {kind:34s} {row['n']:4d} {row['p50']:6.2f} {row['p95']:6.2f} {row['max']:6.2f}")
    print("== memory and disk over time: seconds  RSS MB (server tree)  disk MB (outputs + Gradio cache)")
    step = max(1, len(monitor.samples) // 12)
    for t, rss, disk in monitor.samples[::step] + monitor.samples[-1:]:
        print(f"   {t:7.0f} {rss:8.0f} {disk:8.1f}")
    for key, value in run.facts.items():
        print(f"== {key}: {value}")
    print(f"== failures: {len(run.failures)}")
    for failure in run.failures:
        print(f"   {failure}")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="a few of each, for the test suite")
    parser.add_argument("--sequential", type=int, default=None, help="sequential requests (default 100; --short 6)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--each", type=int, default=None, help="requests per concurrent client (default 5; --short 2)")
    parser.add_argument("--no-kills", action="store_true", help="skip the kills (server and CLI)")
    parser.add_argument("--max-minutes", type=float, default=40.0)
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    sequential_count = args.sequential if args.sequential is not None else (6 if args.short else 100)
    each = args.each if args.each is not None else (2 if args.short else 5)
    run = Run(Path(tempfile.mkdtemp(prefix="flap-soak-")), args.max_minutes * 60)
    monitor = Monitor(run)
    run.start_app()
    monitor.start()
    try:
        client = run.client()
        print(f"sequential: {sequential_count}", flush=True)
        sequential(run, client, sequential_count)
        print(f"concurrent: {args.clients} clients x {each}", flush=True)
        concurrent(run, args.clients, each)
        print("bad inputs", flush=True)
        bad_inputs(run, client)
        print("a client that vanishes mid-render", flush=True)
        vanishing_client(run, client)
        if not args.no_kills:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                print(f"server {sig.name} mid-render", flush=True)
                kill_server(run, sig)
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
                print(f"cli {sig.name} mid-render", flush=True)
                kill_cli(run, sig)
        if not run.app.alive():
            run.fail("the server is not running at the end")
        elif "Traceback" in run.app.log_tail(1_000_000):
            run.fail("the server log has a traceback: " + run.app.log_tail(1500))
    finally:
        monitor.stop()
        if run.app is not None:
            run.app.stop()
    figures = report(run, monitor)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return 1 if run.failures else 0


if __name__ == "__main__":
    sys.exit(main())
