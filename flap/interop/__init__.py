"""Motion interchange with 3D-head tools: import FLAME parameter files and ARKit blendshape curves, mix their
channels with audio-driven motion, and export any motion as FLAME parameters or a Live Link Face CSV."""

from flap.interop.arkit import ARKIT_NAMES, ArkitMapping, arkit_to_motion, motion_to_arkit
from flap.interop.exporters import export_arkit_csv, export_flame_npz
from flap.interop.importers import ImportReport, import_motion
from flap.interop.mixing import CHANNELS, mix_channels

__all__ = ["ARKIT_NAMES", "ArkitMapping", "CHANNELS", "ImportReport", "arkit_to_motion", "export_arkit_csv",
           "export_flame_npz", "import_motion", "mix_channels", "motion_to_arkit"]
