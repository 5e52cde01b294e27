"""The aiohttp internals emulator/serve/edge.py relies on still exist in the installed aiohttp:
an upgrade that moves one fails here, by name, instead of as a subtle behaviour change."""

from __future__ import annotations

import asyncio
import importlib

import pytest
from aiohttp import web

from emulator.serve.edge import PRIVATE_HOOKS, EmulatorRunner


@pytest.mark.parametrize(("owner", "attribute"), PRIVATE_HOOKS)
def test_hook_exists(owner: str, attribute: str) -> None:
    module, _, name = owner.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    if attribute.startswith("_") and not callable(getattr(cls, attribute, None)):
        return  # an instance attribute: checked on live objects below
    assert hasattr(cls, attribute), f"aiohttp moved {owner}.{attribute}"


def test_instance_hooks_exist_on_a_live_server() -> None:
    async def check() -> None:
        runner = EmulatorRunner(web.Application())
        await runner.setup()
        try:
            server = runner.server
            assert server is not None
            assert isinstance(server._kwargs, dict) and server._loop is not None
            handler = server()
            assert handler._request_count == 0
        finally:
            await runner.cleanup()

    asyncio.run(check())
