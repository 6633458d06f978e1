"""Command line: ``python -m flap generate|render|motion|export|engines`` (see --help of each)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flap.errors import FlapError
from flap.job import JobConfig
from flap.motion.channels import CHANNELS, parse_channels
from flap.motion.controls import MotionControls
from flap.parameters import from_values, specs
from flap.settings import settings

#: What the motion-only command uses of JobConfig.
MOTION_JOB = ("fps", "seed")


def add_parameters(group, cls: type, names: tuple[str, ...] | None = None) -> None:
    """One option per declared field of ``cls`` (all, or ``names``): --flag, type, choices, default and help."""
    for p in specs(cls).values():
        if names is not None and p.name not in names:
            continue
        options = dict(dest=p.name, default=p.default, help=p.describe().replace("%", "%%"))
        if p.type is bool:
            options["action"] = "store_true"
        elif p.spec.choices is not None:
            options["choices"] = p.spec.choices
        elif p.spec.parse is None:
            options["type"] = p.type
        group.add_argument(p.flag, **options)


def _controls(args) -> MotionControls:
    return from_values(MotionControls, {name: getattr(args, name) for name in specs(MotionControls)})


def _job(args) -> JobConfig:
    return from_values(JobConfig, {name: getattr(args, name) for name in specs(JobConfig) if hasattr(args, name)})


def _add_controls(p: argparse.ArgumentParser) -> None:
    add_parameters(p.add_argument_group("controls (applied on top of the motion)"), MotionControls)


def _add_job(p: argparse.ArgumentParser, out_default: str = "outputs") -> None:
    g = p.add_argument_group("output")
    g.add_argument("--out", default=out_default, help="output .mp4 (or a folder)")
    add_parameters(g, JobConfig)
    g.add_argument("--save-motion", nargs="?", const=True, default=None, metavar="PATH",
                   help="also save the motion (.npz); without PATH next to the video")


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
    g.add_argument("--take", default="all",
                   help=f"channels taken from --motion: all, none or some of {', '.join(CHANNELS)}; the rest follow the audio")
    _add_controls(g)
    _add_job(g)

    r = sub.add_parser("render", help="portrait + motion file (+ speech) -> video")
    r.add_argument("--portrait", required=True)
    r.add_argument("--motion", required=True)
    r.add_argument("--audio", default=None)
    r.add_argument("--controls", action="store_true", help="apply the control flags below on top of the motion")
    _add_controls(r)
    _add_job(r)

    m = sub.add_parser("motion", help="speech -> motion file only (no portrait)")
    m.add_argument("--audio", required=True)
    m.add_argument("--transcript", default=None)
    m.add_argument("--out", default="outputs/motion.npz")
    add_parameters(m, JobConfig, MOTION_JOB)
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
        settings()  # refuse a bad FLAP_* value before any work, naming it
        if args.command == "engines":
            from flap.engines.registry import ENGINE_NAMES, availability

            for name in ENGINE_NAMES:
                ok, reason = availability(name)
                print(f"{name}: {'available' if ok else 'unavailable'} ({reason})")
            return 0
        with TqdmProgress() as progress:
            if args.command == "generate":
                from flap.pipeline import generate, load_motion_file

                imported, take = None, ()
                if args.motion:
                    imported, notes = load_motion_file(args.motion, args.fps)
                    for note in notes:
                        print(f"motion import: {note}", file=sys.stderr)
                    take = parse_channels(args.take)
                result = generate(args.portrait, args.audio, args.out, transcript=_transcript(args.transcript), controls=_controls(args),
                                  config=_job(args), save_motion=args.save_motion, imported=imported, take=take, progress=progress)
            elif args.command == "render":
                from flap.pipeline import render

                result = render(args.portrait, args.motion, args.audio, args.out, controls=_controls(args) if args.controls else None,
                                config=_job(args), save_motion=args.save_motion, progress=progress)
            else:
                from flap.pipeline import make_motion

                motion, warnings = make_motion(args.audio, _transcript(args.transcript), _controls(args),
                                               _job(args), progress=progress)
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
