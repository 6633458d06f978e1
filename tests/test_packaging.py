"""What `pip install .` ships is what the code needs: every package, every run-time data file, the `flap` command.

Read from pyproject.toml without building (building needs setuptools from PyPI; docs/architecture.md shows the
manual wheel check).
"""

from __future__ import annotations

import fnmatch
import importlib
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLAP = ROOT / "flap"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _source_dirs() -> list[Path]:
    return sorted({p.parent for p in FLAP.rglob("*.py") if "__pycache__" not in p.parts})


def test_every_source_folder_is_a_package():
    """setuptools' find (namespaces off) skips a folder without __init__.py, and the wheel silently lacks it."""
    assert PYPROJECT["tool"]["setuptools"]["packages"]["find"]["namespaces"] is False
    missing = [str(d.relative_to(ROOT)) for d in _source_dirs() if not (d / "__init__.py").is_file()]
    assert missing == []


def test_every_data_file_is_package_data():
    package_data = PYPROJECT["tool"]["setuptools"]["package-data"]
    data = [p for p in FLAP.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts]
    assert data, "flap/assets should hold the canonical face"
    unshipped = []
    for path in data:
        package = ".".join(path.parent.relative_to(ROOT).parts)
        if not any(fnmatch.fnmatch(path.name, pattern) for pattern in package_data.get(package, [])):
            unshipped.append(str(path.relative_to(ROOT)))
    assert unshipped == []


def test_console_scripts_point_at_functions():
    scripts = PYPROJECT["project"]["scripts"]
    assert "flap" in scripts
    for name, target in scripts.items():
        module, _, attr = target.partition(":")
        assert callable(getattr(importlib.import_module(module), attr)), name


def test_dependencies_are_the_requirements_files():
    """The pins are written once: pyproject reads them from the files the README and the Space install."""
    dynamic = PYPROJECT["tool"]["setuptools"]["dynamic"]
    assert dynamic["dependencies"]["file"] == ["requirements.txt"]
    for extra in dynamic["optional-dependencies"].values():
        assert all((ROOT / f).is_file() for f in extra["file"])
