"""The state generation: a number that changes whenever state an answer depends on may have
changed (accounts, scenarios, the clock, a reset). Reused replies are keyed by it
(:mod:`emulator.serve.replycache`); every admin mutation bumps it (the app's middleware), and so
may any other writer of shared state."""

from __future__ import annotations

from aiohttp import web

from emulator.serve.keys import REPLIES

__all__ = ["bump_generation", "state_generation"]


def state_generation(app: web.Application) -> int:
    """The current state generation."""
    return app[REPLIES].generation


def bump_generation(app: web.Application) -> None:
    """State may have changed: a new generation, and no reply kept from the old one."""
    app[REPLIES].bump()
