"""The package's public surface and its import cost."""

from __future__ import annotations

import subprocess
import sys

import emulator


def test_all_is_exactly_the_public_surface() -> None:
    assert set(emulator.__all__) == set(emulator._EXPORTS) | {"__version__"}
    namespace: dict[str, object] = {}
    exec("from emulator import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(emulator.__all__)
    for name in emulator.__all__:
        assert getattr(emulator, name) is not None


def test_import_is_light() -> None:
    code = ("import sys, emulator; "
            "heavy = [m for m in ('aiohttp', 'PIL', 'jsonschema') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""
