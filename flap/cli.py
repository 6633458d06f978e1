"""Command line: ``python -m flap generate|render|motion|export|engines`` (see --help of each)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flap.errors import FlapError
from flap.motion.controls import CONTROL_RANGES, MotionControls
from flap.motion.emotions import EMOTION_NAMES


def _add_controls(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("controls (applied on top of the motion)")
    r = CONTROL_RANGES
    g.add_argument("--yaw", type=float, default=0.0, help=f"degrees, + turns toward the image's right ({r['yaw'][0]:g}..{r['yaw'][1]:g})")
    g.add_argument("--pitch", type=float, default=0.0, help=f"degrees, + lifts the chin ({r['pitch'][0]:g}..{r['pitch'][1]:g})")
    g.add_argument("--roll", type=float, default=0.0, help=f"degrees, + tilts clockwise on screen ({r['roll'][0]:g}..{r['roll'][1]:g})")
    g.add_argument("--motion-scale", type=float, default=1.0, help="head-motion amount: 0 fixed pose, 1 natural, up to 2")
    g.add_argument("--expression", type=float, default=1.0, help="expression intensity: scales lips and face (0..2)")
    g.add_argument("--emotion", default="neutral", choices=EMOTION_NAMES)
    g.add_argument("--emotion-strength", type=float, default=0.7, help="0..1")
    g.add_argument("--blink-rate", type=float, default=None, help="blinks per minute (0..60); default: natural")
    g.add_argument("--gaze", default=None, help="camera | forward | left | right | up | down | 'yaw,pitch' degrees")


def _add_job(p: argparse.ArgumentParser, out_default: str = "outputs") -> None:
    g = p.add_argument_group("output")
    g.add_argument("--out", default=out_default, help="output .mp4 (or a folder)")
    g.add_argument("--fps", type=float, default=25.0)
    g.add_argument("--size", type=int, default=512, help="side of the face-crop video in pixels")
    g.add_argument("--paste-back", action="store_true", help="animate the whole photo instead of the face crop")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--engine", default="embedded", choices=("embedded", "full"))
    g.add_argument("--steps", type=int, default=20, help="full model: sampling steps")
    g.add_argument("--guidance", type=float, default=3.5, help="full model: classifier-free guidance")
    g.add_argument("--save-motion", nargs="?", const=True, default=None, metavar="PATH",
                   help="also save the motion (.npz); without PATH next to the video")


def _controls(args) -> MotionControls:
    return MotionControls(yaw=args.yaw, pitch=args.pitch, roll=args.roll, motion_scale=args.motion_scale, expression=args.expression,
                          emotion=args.emotion, emotion_strength=args.emotion_strength, blink_rate=args.blink_rate, gaze=args.gaze)


def _job(args):
    from flap.pipeline import JobConfig

    return JobConfig(fps=args.fps, size=args.size, paste_back=args.paste_back, seed=args.seed, engine=args.engine,
                     steps=args.steps, guidance=args.guidance, fit=getattr(args, "fit", "hold"))


def _transcript(value: str | None) -> str | None:
    if value and Path(value).is_file():
        return Path(value).read_text(encoding="utf-8", errors="replace")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m flap", description="FLAP: controllable audio-driven portrait video.")
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="portrait + speech -> talking video")
    g.add_argument("--portrait", required=True)
    g.add_argument("--audio", required=True)
    g.add_argument("--transcript", default=None, help="text of the speech, or a .txt file (improves lip shapes)")
    g.add_argument("--motion", default=None, help="import motion from a FLAME/ARKit/FLAP file")
    g.add_argument("--take", default="head_pose,jaw,eyelids,expression,eyes",
                   help="channels taken from --motion (head_pose, jaw, eyelids, expression, eyes); the rest follow the audio")
    g.add_argument("--fit", default="hold", choices=("hold", "loop", "trim"), help="fit an imported motion to the audio length")
    _add_controls(g)
    _add_job(g)

    r = sub.add_parser("render", help="portrait + motion file (+ speech) -> video")
    r.add_argument("--portrait", required=True)
    r.add_argument("--motion", required=True)
    r.add_argument("--audio", default=None)
    r.add_argument("--fit", default="hold", choices=("hold", "loop", "trim"))
    r.add_argument("--controls", action="store_true", help="apply the control flags below on top of the motion")
    _add_controls(r)
    _add_job(r)

    m = sub.add_parser("motion", help="speech -> motion file only (no portrait)")
    m.add_argument("--audio", required=True)
    m.add_argument("--transcript", default=None)
    m.add_argument("--out", default="outputs/motion.npz")
    m.add_argument("--fps", type=float, default=25.0)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--arkit-csv", default=None, help="also write ARKit curves (Live Link Face CSV)")
    m.add_argument("--flame-npz", default=None, help="also write a FLAME-layout .npz")
    _add_controls(m)

    sub.add_parser("engines", help="which engines can run here, and why not")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from flap.interrupts import INTERRUPTED_EXIT, INTERRUPTED_MESSAGE, terminate_as_interrupt
    from flap.progress import TqdmProgress

    terminate_as_interrupt()  # SIGTERM unwinds like Ctrl-C, so partial files are removed

    try:
        if args.command == "engines":
            from flap.engines.registry import full_model_status

            ok, reason = full_model_status()
            print("embedded: available (CPU, no weights)")
            print(f"full: {'available' if ok else 'unavailable'} ({reason})")
            return 0
        with TqdmProgress() as progress:
            if args.command == "generate":
                from flap.pipeline import generate, load_motion_file

                imported, take = None, ()
                if args.motion:
                    imported, notes = load_motion_file(args.motion, args.fps)
                    for note in notes:
                        print(f"motion import: {note}", file=sys.stderr)
                    take = [t.strip() for t in args.take.split(",") if t.strip()]
                result = generate(args.portrait, args.audio, args.out, transcript=_transcript(args.transcript), controls=_controls(args),
                                  config=_job(args), save_motion=args.save_motion, imported=imported, take=take, progress=progress)
            elif args.command == "render":
                from flap.pipeline import render

                result = render(args.portrait, args.motion, args.audio, args.out, controls=_controls(args) if args.controls else None,
                                config=_job(args), save_motion=args.save_motion, progress=progress)
            else:
                from flap.pipeline import JobConfig, make_motion

                motion, warnings = make_motion(args.audio, _transcript(args.transcript), _controls(args),
                                               JobConfig(fps=args.fps, seed=args.seed), progress=progress)
                path = motion.save(args.out)
                print(f"motion: {path} ({motion.num_frames} frames at {motion.fps:g} fps)")
                _export_extras(motion, args)
                for w in warnings:
                    print(f"note: {w}", file=sys.stderr)
                return 0
        for w in result.warnings:
            print(f"note: {w}", file=sys.stderr)
        print(f"video: {result.video}")
        if result.motion_path:
            print(f"motion: {result.motion_path}")
        return 0
    except FlapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: one line, no traceback
        print(f"\n{INTERRUPTED_MESSAGE}", file=sys.stderr)
        return INTERRUPTED_EXIT


def _export_extras(motion, args) -> None:
    if args.arkit_csv or args.flame_npz:
        from flap.interop.exporters import export_arkit_csv, export_flame_npz

        if args.arkit_csv:
            print(f"arkit: {export_arkit_csv(motion, args.arkit_csv)}")
        if args.flame_npz:
            print(f"flame: {export_flame_npz(motion, args.flame_npz)}")


if __name__ == "__main__":
    sys.exit(main())
