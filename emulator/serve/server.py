"""EmulatorServer: the app served from a background thread, for synchronous tests and tools."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

from aiohttp import web

from emulator.clock import Clock
from emulator.serve import listeners
from emulator.serve.app import create_app, make_runner
from emulator.settings import Settings


class EmulatorServer:
    """Start with :meth:`start` (or ``with``); ``port=0`` in the settings picks a free port."""

    def __init__(self, settings: Settings | None = None, clock: Clock | None = None) -> None:
        self.settings = settings or Settings(port=0)
        self.clock = clock or Clock()
        self.app: web.Application | None = None
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="bda-emulator",
                                        daemon=True)
        self._runner: web.AppRunner | None = None
        self.bound: listeners.Bound | None = None

    @property
    def host(self) -> str:
        return self.settings.host

    @property
    def endpoint(self) -> str:
        """``host:port``, what an SDK's HttpProfile(endpoint=...) takes."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def start(self) -> EmulatorServer:
        """Serve in the background; returns once the port is listening."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        return self

    async def _start(self) -> None:
        self.app = create_app(self.settings, self.clock)
        self._runner = make_runner(self.app)
        await self._runner.setup()
        self.bound = await listeners.start(self._runner, self.settings)
        self.port = self.bound.port

    def stop(self) -> None:
        """Finish serving and free the port and the thread."""
        if self.bound is not None:
            self._loop.call_soon_threadsafe(self.bound.close)
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
