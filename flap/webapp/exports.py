"""The files a job hands back besides the video: FLAP motion (.npz), ARKit curves (Live Link Face CSV), FLAME
parameters (.npz) and, when a FLAME model is configured, a shaded mesh preview video of the motion."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from flap.errors import FlapError
from flap.motion.representation import MotionSequence
from flap.settings import settings

MESH_PREVIEW_SIZE = 256


@dataclass
class MotionFiles:
    motion: Path
    arkit_csv: Path | None = None
    flame_npz: Path | None = None
    mesh_preview: Path | None = None
    notes: list[str] = field(default_factory=list)


def write_motion_files(motion: MotionSequence, folder: Path, stem: str = "flap", formats: bool = True,
                       mesh_preview: bool = False, audio=None, progress=None) -> MotionFiles:
    """Write the motion and, with ``formats``, its ARKit/FLAME exports; a failed optional export becomes a note."""
    folder = Path(folder)
    files = MotionFiles(motion=motion.save(folder / f"{stem}.motion.npz"))
    if formats:
        from flap.interop.exporters import export_arkit_csv, export_flame_npz

        files.arkit_csv = export_arkit_csv(motion, folder / f"{stem}.arkit.csv")
        files.flame_npz = export_flame_npz(motion, folder / f"{stem}.flame.npz")
    if mesh_preview:
        try:
            files.mesh_preview = write_mesh_preview(motion, folder / f"{stem}.mesh.mp4", audio, progress)
        except FlapError as exc:
            files.notes.append(f"No mesh preview: {exc}")
    return files


def flame_preview_available() -> bool:
    """Whether a FLAME model is configured (checked cheaply; loading happens on use).  flap.flame is imported only
    when one of its variables is set, because the package pulls in scipy and the page should start fast."""
    if not (settings().flame_model or settings().flame_repo):
        return False
    from flap.flame.loading import flame_model_configured

    return flame_model_configured()


def write_mesh_preview(motion: MotionSequence, path: Path, audio=None, progress=None) -> Path | None:
    """The motion on FLAME's mean head, with the speech, at MESH_PREVIEW_SIZE pixels; None without a model."""
    from flap.flame.loading import load_flame_model_if_configured
    from flap.flame.preview import render_mesh_preview
    from flap.io.video import VideoWriter

    model = load_flame_model_if_configured()
    if model is None:
        return None
    total = motion.num_frames
    with VideoWriter(path, motion.fps, (MESH_PREVIEW_SIZE, MESH_PREVIEW_SIZE), audio_path=audio, num_frames=total) as writer:
        for index, frame in enumerate(render_mesh_preview(motion, model, size=MESH_PREVIEW_SIZE)):
            writer.write(frame)
            if progress is not None:
                progress("rendering mesh preview", index + 1, total)
    return Path(path)
