"""Speed of the embedded engine on this machine: per-stage times, what bounds each, the renderer's frames per second,
the whole job warm and as a cold CLI process, paste-back on a large photo, and (with --api) a job through the API.

    python benchmarks/bench_embedded.py [--portrait examples/portraits/astronaut.jpg] [--seconds 10] [--size 512]
    python benchmarks/bench_embedded.py --api          # also 60 s of speech through app.py's /generate

Speech is made with espeak-ng and cut to exactly --seconds.  "warm" numbers are a job in a process that has run
one before (models loaded, as in the app); "cold" is a fresh `python -m flap generate` process, imports included,
with the time its first frame is rendered (the CLI opens its "rendering video" bar after the first frame).  Every
figure is the best of --repeats, with the CPU time beside the wall time: on a shared machine, CPU time is the
steadier measure.  "bound by" says what the stage waits on: the CPU of one core (Python, numpy, Numba, OpenCV in
this process), x264 in the ffmpeg child, or both at once.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEXT = ("The quick brown fox jumps over the lazy dog. We measure how fast a talking portrait is made. "
        "Every stage is timed: the face, the audio, the motion, the frames and the encoding. ")


def make_speech(path: Path, seconds: float) -> Path:
    from flap.io.ffmpeg import ffmpeg_executable

    raw = path.with_suffix(".raw.wav")
    repeats = max(6, int(seconds / 10) + 2)
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), TEXT * repeats], check=True)
    subprocess.run([ffmpeg_executable(), "-y", "-loglevel", "error", "-i", str(raw), "-t", f"{seconds}", str(path)], check=True)
    return path


def large_photo(path: Path, side: int = 2048) -> Path:
    """A bundled portrait scaled so its long side is ``side`` pixels (paste-back works on the whole photo)."""
    import cv2

    image = cv2.imread(str(ROOT / "tests/portraits/obama_smiling.jpg"))
    h, w = image.shape[:2]
    scale = side / max(h, w)
    cv2.imwrite(str(path), cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC))
    return path


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(fn, repeats: int):
    """(best wall, CPU of this process in that run, CPU of child processes in that run, result)."""
    best = None
    for _ in range(repeats):
        c0, k0, t0 = time.process_time(), children_cpu(), time.perf_counter()
        result = fn()
        row = (time.perf_counter() - t0, time.process_time() - c0, children_cpu() - k0, result)
        if best is None or row[0] < best[0]:
            best = row
    return best


def cold_cli(args: list[str]) -> tuple[float, float]:
    """(seconds to the first rendered frame, seconds in all) of a fresh `python -m flap generate`."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "flap", "generate", *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    seen, first = b"", float("nan")
    while chunk := os.read(proc.stderr.fileno(), 65536):
        seen += chunk
        if first != first and b"rendering video" in seen:
            first = time.perf_counter() - start
    if proc.wait() != 0:
        raise RuntimeError(seen.decode(errors="replace")[-2000:])
    return first, time.perf_counter() - start


def through_api(portrait: str, audio: Path, work: Path, repeats: int) -> tuple[float, float]:
    """(best seconds, app start-up seconds) of /generate (crop output, 512 px) from gradio_client on this machine."""
    from gradio_client import Client, handle_file

    from flap.webapp.local_server import LocalApp

    env = {"FLAP_WARMUP": "1", "FLAP_UNLIMITED": "1", "GRADIO_TEMP_DIR": str(work / "gradio")}
    with LocalApp(env=env, log_path=work / "app.log", timeout_s=180) as app:
        client = Client(app.url, verbose=False, download_files=str(work / "downloads"))
        client.predict(portrait=handle_file(portrait), audio=handle_file(str(audio)), size=512, api_name="/generate")
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            client.predict(portrait=handle_file(portrait), audio=handle_file(str(audio)), size=512, api_name="/generate")
            best = min(best, time.perf_counter() - start)
        return best, app.startup_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--portrait", default=str(ROOT / "examples/portraits/astronaut.jpg"))
    parser.add_argument("--audio", default=None, help="default: espeak-ng speech cut to --seconds")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-paste-back", action="store_true", help="skip the paste-back job on a 2048 px photo")
    parser.add_argument("--api", action="store_true", help="also time 60 s of speech through app.py's /generate")
    args = parser.parse_args()

    from flap.audio.analysis import analyze_audio
    from flap.audio.loading import load_audio
    from flap.audio2motion.embedded import generate_motion
    from flap.engines.embedded import EmbeddedRenderer
    from flap.face.portrait import PasteBack, analyze_portrait
    from flap.io.video import VideoWriter, encoder_threads
    from flap.motion.controls import MotionControls, apply_controls
    from flap.pipeline import JobConfig, generate

    work = Path(tempfile.mkdtemp(prefix="flap-bench-"))
    audio = Path(args.audio) if args.audio else make_speech(work / "speech.wav", args.seconds)
    config = JobConfig(size=args.size)
    threads = encoder_threads()
    print(f"machine: {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}; portrait {Path(args.portrait).name}; "
          f"{args.size}x{args.size} at 25 fps; x264 threads {threads or 'auto'}; best of {args.repeats}")

    generate(args.portrait, audio, work / "warmup.mp4", config=config)  # loads every model once, compiles nothing
    rows = []

    def row(name, measured, note="", bound=""):
        wall, cpu, child, result = measured
        rows.append((name, wall, cpu, child, note, bound))
        return result

    portrait = row("face analysis (detect, mesh, pose, mask)",
                   timed(lambda: analyze_portrait(args.portrait, size=args.size), args.repeats), "", "CPU, MediaPipe's graphs")
    analysis = row("audio decode + analysis (Silero VAD in numpy, pitch)",
                   timed(lambda: analyze_audio(load_audio(audio), fps=25.0), args.repeats), "", "CPU, one core (numpy)")
    rows[-1] = rows[-1][:4] + (f"{analysis.duration:.2f} s of audio",) + rows[-1][5:]
    motion = row("motion generation + controls",
                 timed(lambda: apply_controls(generate_motion(analysis, seed=0), MotionControls()), args.repeats),
                 "", "CPU, one core (numpy)")
    renderer = EmbeddedRenderer()
    state = row("renderer prepare (mesh, plate, pose calibration)", timed(lambda: renderer.prepare(portrait), args.repeats),
                "", "CPU: 9 test frames + face tracker")
    measured = timed(lambda: list(renderer.render_frames(state, motion)), args.repeats)
    frames = row("render frames (no encoding)", measured, f"{motion.num_frames / measured[0]:.0f} frames/s",
                 "CPU, one core (Numba rasteriser, OpenCV remap)")

    def encode():
        with VideoWriter(work / "encode.mp4", 25.0, (args.size, args.size), audio_path=audio, num_frames=len(frames)) as writer:
            for frame in frames:
                writer.write(frame)
    measured = timed(encode, args.repeats)
    row("H.264/AAC encoding alone", measured, f"{len(frames) / measured[0]:.0f} frames/s, {measured[2]:.2f} s CPU in ffmpeg",
        "x264 in the ffmpeg child")
    measured = timed(lambda: generate(args.portrait, audio, work / "job.mp4", config=config), args.repeats)
    result = row("WHOLE JOB, warm (generate())", measured, f"{analysis.duration / measured[0]:.1f}x faster than real time",
                 "rendering on one core, x264 beside it on the other")

    cold = [cold_cli(["--portrait", args.portrait, "--audio", str(audio), "--size", str(args.size),
                      "--out", str(work / "cold.mp4")]) for _ in range(args.repeats)]
    first, total = min(c[0] for c in cold), min(c[1] for c in cold)
    rows.append(("WHOLE JOB, cold CLI process (imports, model loading)", total, float("nan"), float("nan"),
                 f"{analysis.duration / total:.1f}x real time; first frame after {first:.2f} s", "imports, then as warm"))

    if not args.no_paste_back:
        photo = large_photo(work / "photo2048.jpg")
        big = analyze_portrait(photo, paste_back=True)
        pasted = JobConfig(size=args.size, paste_back=True)
        generate(photo, audio, work / "pasted.mp4", config=pasted)
        big_state = renderer.prepare(big)
        measured = timed(lambda: list(renderer.render_frames(big_state, motion)), 1)
        big_frames = measured[3]
        h, w = big.image.shape[:2]
        row(f"  paste-back: render {big.size}x{big.size} crop", measured, f"{motion.num_frames / measured[0]:.0f} frames/s",
            "CPU, one core")
        paste = PasteBack(big.image[: h // 2 * 2, : w // 2 * 2], big.crop_box)
        # each pasted photo is dropped at once, as the job drops it after encoding (kept, 250 of them would be 1 GB
        # of fresh pages, and the page faults would be what this measures)
        measured = timed(lambda: [paste(f).shape for f in big_frames], 1)
        row(f"  paste-back: paste into the {w}x{h} photo", measured, "", "CPU, one core (memory copies)")
        del big_frames
        measured = timed(lambda: generate(photo, audio, work / "pasted.mp4", config=pasted), args.repeats)
        row(f"WHOLE JOB, paste-back on a 2048 px photo ({w}x{h} video)", measured,
            f"{analysis.duration / measured[0]:.1f}x faster than real time", "rendering + pasting on one core, x264 on the other")

    if args.api:
        speech60 = make_speech(work / "speech60.wav", 60.0)
        seconds, startup = through_api(args.portrait, speech60, work, max(1, args.repeats - 1))
        rows.append(("60 s of speech through the API (/generate, 512 px crop)", seconds, float("nan"), float("nan"),
                     f"{60.0 / seconds:.1f}x real time (app start-up {startup:.1f} s, not counted)", "the warm job + HTTP"))

    width = max(len(r[0]) for r in rows)
    print(f"{'stage'.ljust(width)}  {'wall s':>7}  {'CPU s':>6}  {'ffmpeg':>6}  note; bound by")
    for name, wall, cpu, child, note, bound in rows:
        cpu_text = "" if cpu != cpu else f"{cpu:6.3f}"
        child_text = "" if child != child or child < 0.005 else f"{child:6.3f}"
        print(f"{name.ljust(width)}  {wall:7.3f}  {cpu_text:>6}  {child_text:>6}  {note}{'; ' if note and bound else ''}{bound}")
    print("per-stage times inside the warm job: " + ", ".join(f"{k} {v:.3f}s" for k, v in result.timings.items()))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
