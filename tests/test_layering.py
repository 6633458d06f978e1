"""The package layers of docs/architecture.md hold in the code: a package imports only packages of lower layers.

Imports are read with ``ast`` (every import, also the ones inside functions, which is where cycles hide), so the
test needs none of the heavy dependencies.  A new package must be given a layer here and in docs/architecture.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FLAP = Path(__file__).resolve().parents[1] / "flap"

#: Lowest first.  Keep in step with the diagram in docs/architecture.md.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "lazy", "progress", "assets"),  # no flap imports at all
    ("settings", "parameters"),                # the environment read once; how user parameters are declared
    ("io", "weights"),                         # media files (written whole or not at all), where trained weights are
    ("motion",),                               # the motion contract (saved through io's partial files)
    ("face", "audio", "flame"),                # analysis of the inputs; the FLAME head model
    ("audio2motion", "interop"),               # speech -> motion; other tools' motion files
    ("engines",),                              # renderers: motion -> frames
    ("job", "interrupts"),                     # one job's settings (JobConfig); stopping on a signal cleanly
    ("pipeline", "evaluation", "live", "streaming"),  # one job: portrait + speech -> video; measuring it; live
                                               # sessions; a video in segments while it renders
    ("cli", "webapp", "training"),             # entry points
    ("__main__", "__init__"),                  # python -m flap (runs the CLI); flap's lazy top-level names
)
LAYER = {unit: level for level, units in enumerate(LAYERS) for unit in units}
#: Sibling engines meet only in the registry.
ENGINES = ("embedded", "diffusion")


def unit_of(path: Path) -> str:
    """The top-level unit a file belongs to: its package below flap/, or the module's name for flap/x.py."""
    first = path.relative_to(FLAP).parts[0]
    return first.removesuffix(".py")


def flap_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every flap import in a file, module-level or not."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "flap":  # from flap import x: x is the unit
                found += [(node.lineno, f"flap.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name == "flap" or name.startswith("flap.")]


SOURCES = sorted(FLAP.rglob("*.py"))


def test_every_unit_has_a_layer():
    units = {unit_of(p) for p in SOURCES}
    assert units - set(LAYER) == set(), "give the new package a layer in LAYERS and docs/architecture.md"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(FLAP)))
def test_imports_only_lower_layers(path):
    unit = unit_of(path)
    wrong = []
    for line, name in flap_imports(path):
        parts = name.split(".")
        if len(parts) < 2:
            continue
        target = parts[1]
        if target == unit:
            continue
        if target not in LAYER:
            wrong.append(f"line {line}: {name} (no such unit)")
        elif LAYER[target] >= LAYER[unit]:
            wrong.append(f"line {line}: {name} ({target} is not below {unit})")
    assert not wrong, f"{path.relative_to(FLAP)} imports upwards or sideways: " + "; ".join(wrong)


@pytest.mark.parametrize("engine", ENGINES)
def test_engines_do_not_import_each_other(engine):
    others = [f"flap.engines.{e}" for e in ENGINES if e != engine] + ["flap.engines.registry"]
    wrong = [f"{p.relative_to(FLAP)}:{line} {name}" for p in sorted((FLAP / "engines" / engine).rglob("*.py"))
             for line, name in flap_imports(p) if any(name == o or name.startswith(o + ".") for o in others)]
    assert not wrong


def test_the_checker_sees_an_upward_import(tmp_path):
    """The check itself can fail: a function-local import of a higher layer is found."""
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from flap.engines.diffusion.loading import x\n    import flap.pipeline\n")
    assert flap_imports(module) == [(2, "flap.engines.diffusion.loading"), (3, "flap.pipeline")]


def test_the_engine_contract_names_no_engine():
    """flap/engines/*.py (the contract, the shared options) sit below both engines: only the registry joins them."""
    engines = tuple(f"flap.engines.{e}" for e in ENGINES)
    wrong = [f"{p.name}:{line} {name}" for p in sorted((FLAP / "engines").glob("*.py")) if p.name != "registry.py"
             for line, name in flap_imports(p) if any(name == e or name.startswith(e + ".") for e in engines)]
    assert not wrong
