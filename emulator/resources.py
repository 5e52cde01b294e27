"""Locating the bundled data folders (``schemas/``, ``fixtures/``).

A built wheel carries them inside the package as ``emulator/_data/<name>``; a source checkout
(editable install, tests) has them at the repository's top level, where users look for them.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def data_dir(name: str) -> Path:
    """The folder ``name`` (``"schemas"`` or ``"fixtures"``) of this installation."""
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"bundled data folder {name!r} not found next to {_PACKAGE_DIR}")


def schema_path(filename: str) -> Path:
    """A file under ``schemas/``."""
    return data_dir("schemas") / filename


def fixture_path(relative: str) -> Path:
    """A file under ``fixtures/``."""
    return data_dir("fixtures") / relative
