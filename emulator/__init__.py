"""bda-emulator: an offline emulator of Tencent Cloud bda 2020-03-24.

The public surface is resolved lazily, so importing the package (as the pytest plugin does)
loads neither aiohttp nor Pillow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["ApiError", "Clock", "EmulatorServer", "Settings", "__version__", "create_app"]

_EXPORTS = {
    "ApiError": "emulator.errors",
    "Clock": "emulator.clock",
    "EmulatorServer": "emulator.serve.server",
    "Settings": "emulator.settings",
    "create_app": "emulator.serve.app",
}

if TYPE_CHECKING:
    from emulator.clock import Clock
    from emulator.errors import ApiError
    from emulator.serve.app import create_app
    from emulator.serve.server import EmulatorServer
    from emulator.settings import Settings


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'emulator' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
