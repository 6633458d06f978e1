"""How soon a streamed video starts and how far behind the Live tab runs, on the server and in a real page.

    python benchmarks/bench_stream.py [--runs 3] [--skip-browser] [--audio examples/speech/hello.wav]

Prints, best and median of --runs (warm: one run first is not counted):
1. server: time from the Generate request (handlers.prepare_generate + streams.stream_job, in this process) to the
   first segment written, and to the whole video;
2. page: time from moving the yaw slider to its still preview shown; from clicking Generate to the video playing (Chromium, app.py on localhost), the stalls while it
   plays, and when the finished MP4 is offered;
3. live: in the page, the delay from the Record click to each frame being shown, less the speech time that frame
   shows (so it includes the microphone's start), and the server's share per 0.1 s piece (the handler's compute,
   from the status line, plus the generator's lookahead).
The browser and the server share the machine's cores, as they would not on a Space.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--autoplay-policy=no-user-gesture-required"]
PLAYING = "(() => { const v = document.querySelector('#video video'); return !!v && v.currentTime > 0 && !v.paused; })()"
WATCH_STALLS = """(() => { const v = document.querySelector('#video video'); window._stalls = [];
  let since = null;
  v.addEventListener('waiting', () => { since = performance.now(); });
  v.addEventListener('playing', () => { if (since !== null) { window._stalls.push((performance.now() - since) / 1000); since = null; } });
})()"""
WATCH_LIVE = """(() => { window._frames = []; let last = null;
  const tick = () => { const img = document.querySelector('#live_image img');
    const box = document.querySelector('#live_status textarea, #live_status input');
    if (img && img.src !== last) { last = img.src; window._frames.push([Date.now(), box ? box.value : '']); }
    requestAnimationFrame(tick); };
  tick(); })()"""


def summary(values: list[float], unit: str = "s") -> str:
    if not values:
        return "none"
    return f"best {min(values):.2f} {unit}, median {statistics.median(values):.2f} {unit} ({len(values)} runs)"


def bench_server(portrait: str, audio: str, runs: int) -> None:
    from flap.streaming import Segment
    from flap.webapp.handlers import prepare_generate
    from flap.webapp.streams import stream_job

    first, whole = [], []
    for k in range(runs + 1):
        start = time.perf_counter()
        job = prepare_generate(portrait, audio, formats=False)
        first_s = None
        for item in stream_job(job):
            if first_s is None and isinstance(item, Segment):
                first_s = time.perf_counter() - start
        if k:  # the first run loads the face and voice models
            first.append(first_s)
            whole.append(time.perf_counter() - start)
    print(f"server, Generate to first segment: {summary(first)}")
    print(f"server, Generate to the whole video: {summary(whole)}")


def bench_page(portrait: str, audio: str, runs: int, seconds: float) -> None:
    from playwright.sync_api import sync_playwright

    from flap.webapp.local_server import LocalApp

    first, done, stalls, preview = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp, LocalApp(env={"FLAP_WARMUP": "0"}) as app, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(str(Path(tmp) / "profile"), executable_path=CHROMIUM, args=ARGS,
                                                       headless=True, viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        for k in range(runs + 1):
            page.goto(app.url)
            page.wait_for_selector("#generate")
            page.locator("#portrait input[type=file]").set_input_files(portrait)
            page.locator("#audio input[type=file]").set_input_files(audio)
            page.wait_for_selector("#preview img[src]", timeout=60_000)  # uploaded, and the portrait prepared
            page.wait_for_timeout(500)
            for yaw in (10, -10, 20):  # the control preview: a slider moved to the new still shown
                before = page.locator("#preview img").get_attribute("src")
                start = time.perf_counter()
                page.locator("#yaw input[type=range]").fill(str(yaw + k))
                page.wait_for_function(f"document.querySelector('#preview img').getAttribute('src') !== {before!r}",
                                       polling=5, timeout=30_000)
                preview.append(time.perf_counter() - start)
            page.locator("#yaw input[type=range]").fill("0")
            page.wait_for_timeout(500)
            start = time.perf_counter()
            page.locator("#generate").click()
            page.wait_for_function(PLAYING, timeout=120_000, polling=10)
            playing = time.perf_counter() - start
            page.evaluate(WATCH_STALLS)
            page.wait_for_selector("#video_file a", timeout=120_000)
            finished = time.perf_counter() - start
            page.wait_for_function(f"document.querySelector('#video video').currentTime > {seconds - 0.3:.2f} || "
                                   "document.querySelector('#video video').ended", timeout=120_000)
            if k:
                first.append(playing)
                done.append(finished)
                stalls.append(sum(page.evaluate("window._stalls")))
        context.close()
    print(f"page, a slider moved to its preview shown: {summary(preview[3:])}")
    print(f"page, Generate to the video playing: {summary(first)}")
    print(f"page, stalls while playing (total per video): {summary(stalls)}")
    print(f"page, Generate to the finished MP4 offered: {summary(done)}")


def bench_live(portrait: str, audio: str, listen_s: float = 8.0) -> None:
    import subprocess

    from playwright.sync_api import sync_playwright

    from flap.audio2motion.causal import CausalMotionConfig
    from flap.webapp.live import LIVE_FPS, STREAM_EVERY_S
    from flap.webapp.local_server import LocalApp

    sent: list[tuple[float, str]] = []  # (epoch ms, url) of the page's POSTs once Record is clicked
    with tempfile.TemporaryDirectory() as tmp, LocalApp(env={"FLAP_WARMUP": "0"}) as app, sync_playwright() as p:
        mic = Path(tmp) / "mic.wav"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", audio, "-ar", "48000", "-ac", "1", str(mic)], check=True)
        args = ARGS + ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                       f"--use-file-for-fake-audio-capture={mic}"]
        context = p.chromium.launch_persistent_context(str(Path(tmp) / "profile"), executable_path=CHROMIUM, args=args,
                                                       headless=True, viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(app.url)
        page.wait_for_selector("#generate")
        page.get_by_role("tab", name="Live").click()
        page.locator("#live_portrait input[type=file]").set_input_files(portrait)
        page.wait_for_selector("#live_portrait img[src]")
        page.wait_for_timeout(3000)  # the portrait is prepared on upload
        page.evaluate(WATCH_LIVE)
        page.on("request", lambda r: sent.append((time.time() * 1000, r.url)) if r.method == "POST" else None)
        page.locator("#live_mic button", has_text="Record").first.click()
        page.wait_for_timeout(int(listen_s * 1000))
        frames = page.evaluate("window._frames")
        page.locator("#live_mic button", has_text="Stop").first.click()
        context.close()
    # The audio pieces go up as one upload each (then the event that names it); the k-th upload carries the audio
    # heard up to (k + 1) pieces.  A frame's own audio ended at t + 1/fps; it was captured (heard - t - 1/fps)
    # before its piece was sent.
    uploads = [ms for ms, url in sent if "/upload" in url]
    delays, server_ms, behind = [], [], []
    for shown_ms, status in frames:
        if not status.startswith("t="):
            continue
        fields = dict(part.strip().split(" ", 1) if " " in part.strip() else (part, "") for part in status.split(","))
        t = float(status[2:].split(" ")[0])
        heard = float(fields["heard"].split(" ")[0])
        server_ms.append(float(fields["server"].split(" ")[0]))
        k = int(round(heard / STREAM_EVERY_S)) - 1
        if 0 <= k < len(uploads):
            delays.append((shown_ms - uploads[k]) / 1000 + heard - t - 1 / LIVE_FPS)
            behind.append(heard - t)
    lookahead = CausalMotionConfig().lookahead_s * 1000
    print(f"live, {len(uploads)} audio pieces sent and {len(frames)} frames shown in {listen_s:.0f} s")
    if delays:
        delays = delays[len(delays) // 4:]  # after the start
        print(f"live, page: audio to the frame that shows it on screen: best {min(delays):.2f} s, "
              f"median {statistics.median(delays):.2f} s (plus up to {STREAM_EVERY_S:.1f} s of a piece being recorded)")
        compute = statistics.median(server_ms)
        print(f"live, server share: compute per piece median {compute:.0f} ms + lookahead {lookahead:.0f} ms "
              f"= {compute + lookahead:.0f} ms (audio heard past the shown frame: median {1000 * statistics.median(behind):.0f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--portrait", default=str(ROOT / "examples/portraits/astronaut.jpg"))
    parser.add_argument("--audio", default=str(ROOT / "examples/speech/hello.wav"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-browser", action="store_true")
    args = parser.parse_args()
    from flap.audio.loading import load_audio

    seconds = load_audio(args.audio).duration
    print(f"speech: {Path(args.audio).name}, {seconds:.1f} s")
    bench_server(args.portrait, args.audio, args.runs)
    if not args.skip_browser and Path(CHROMIUM).exists():
        bench_page(args.portrait, args.audio, args.runs, seconds)
        bench_live(args.portrait, args.audio)


if __name__ == "__main__":
    main()
