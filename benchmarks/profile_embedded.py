"""Renderer profile, per-frame CPU time and SHA-256 of rendered frames (for bit-identity checks of speed changes).

    python benchmarks/profile_embedded.py hash|time|cprofile [portraits...]
"""
import hashlib
import sys
import time
import subprocess
import os
from pathlib import Path
ROOT = Path.cwd()
sys.path.insert(0, str(ROOT))
from flap.audio.analysis import analyze_audio
from flap.audio.loading import load_audio
from flap.audio2motion.embedded import generate_motion
from flap.engines.embedded import EmbeddedRenderer
from flap.face.portrait import analyze_portrait
from flap.motion.controls import MotionControls, apply_controls

WAV = Path("/work/tmp/speed2/speech10.wav")
if not WAV.exists():
    from flap.io.ffmpeg import ffmpeg_executable
    TEXT = ("The quick brown fox jumps over the lazy dog. We measure how fast a talking portrait is made. "
            "Every stage is timed: the face, the audio, the motion, the frames and the encoding. ")
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", "/work/tmp/speed2/raw.wav", TEXT * 6], check=True)
    subprocess.run([ffmpeg_executable(), "-y", "-loglevel", "error", "-i", "/work/tmp/speed2/raw.wav", "-t", "10", str(WAV)], check=True)

mode = sys.argv[1]
portraits = sys.argv[2:] or ["examples/portraits/astronaut.jpg"]
analysis = analyze_audio(load_audio(WAV), fps=25.0)
renderer = EmbeddedRenderer()
for p in portraits:
    motions = {"default": apply_controls(generate_motion(analysis, seed=0), MotionControls())}
    if mode == "hash":
        motions["turn"] = apply_controls(generate_motion(analysis, seed=1), MotionControls(yaw=25.0, pitch=-10.0, motion_scale=2.0, emotion="happy"))
    por = analyze_portrait(p, size=512)
    state = renderer.prepare(por)
    for name, motion in motions.items():
        if mode == "hash":
            h = hashlib.sha256()
            for f in renderer.render_frames(state, motion):
                h.update(f.tobytes())
            print(Path(p).name, name, motion.num_frames, h.hexdigest()[:16], flush=True)
        elif mode == "time":
            list(renderer.render_frames(state, motion))
            best = []
            for _ in range(int(os.environ.get("REP", 3))):
                t = time.process_time(); list(renderer.render_frames(state, motion)); best.append(time.process_time() - t)
            print(Path(p).name, f"cpu per frame ms: {[round(1000*b/motion.num_frames,3) for b in best]}  fps(median) {motion.num_frames/sorted(best)[len(best)//2]:.0f}")
        elif mode == "cprofile":
            import cProfile
            import pstats
            list(renderer.render_frames(state, motion))
            pr = cProfile.Profile(); pr.enable(); list(renderer.render_frames(state, motion)); pr.disable()
            pstats.Stats(pr).sort_stats("tottime").print_stats(35)
