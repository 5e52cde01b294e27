"""Work proportional to a client's input runs off the event loop once the input is large.

Parsing, hashing and decoding take about a millisecond per 100 KB: inline for small inputs (a
thread hand-off costs more than the work), in an executor for large ones, so one 10 MB request
never stalls the loop that serves everyone else. One helper, one threshold.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import ParamSpec, TypeVar

__all__ = ["OFF_LOOP_BYTES", "run"]

#: Inputs above this many bytes are parsed, hashed and decoded off the event loop.
OFF_LOOP_BYTES = 64 * 1024

P = ParamSpec("P")
T = TypeVar("T")


async def run(executor: Executor, size: int, function: Callable[P, T], *args: P.args,
              **kwargs: P.kwargs) -> T:
    """``function(*args, **kwargs)``, in ``executor`` when ``size`` is over the threshold."""
    if size <= OFF_LOOP_BYTES:
        return function(*args, **kwargs)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, lambda: function(*args, **kwargs))
