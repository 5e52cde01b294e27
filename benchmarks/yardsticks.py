"""The two yardsticks the emulator is measured against.

* the **compute floor**: a bare function doing the least image work one request needs (decode
  the JPEG, one elliptical mask, the zeroed RGBA cut-out as PNG written the way the emulator
  writes it (:func:`emulator.imaging.cutout.encode_cutout`, zlib level 1), the mask as
  greyscale JPEG quality 100, base64 both, ``json.dumps`` the reply). The floor follows the
  emulator's encoders: a faster encoder lowers the floor too, never only the emulator's cost;
* the **transport limit**: bare aiohttp processes answering every POST with the emulator's own
  reply bytes (run by ``python -m benchmarks.bench --serve-transport PORT REPLY``).
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import multiprocessing
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from aiohttp import web
from PIL import Image, ImageDraw

from emulator.imaging.cutout import encode_cutout
from emulator.serve.lifecycle import serve_until_signalled
from emulator.testing import tc3_headers

from .harness import HEALTH, START_TIMEOUT, http_call
from .inputs import CONTENT_TYPE, Box, request_body

# --- compute floor ------------------------------------------------------------------------------

def floor_reply(jpeg: bytes, head: Box) -> bytes:
    """The least work one request needs, from JPEG bytes to the serialised reply."""
    image = Image.open(io.BytesIO(jpeg))
    image.load()
    mask = Image.new("L", image.size, 0)
    ImageDraw.Draw(mask).ellipse(head, fill=255)
    png = encode_cutout(image, mask)
    jpg = io.BytesIO()
    mask.save(jpg, "JPEG", quality=100)
    x0, y0, x1, y1 = head
    reply = {"Response": {
        "PortraitImage": base64.b64encode(png).decode("ascii"),
        "MaskImage": base64.b64encode(jpg.getvalue()).decode("ascii"),
        "ImageRects": [{"X": x0, "Y": y0, "Width": x1 - x0 + 1, "Height": y1 - y0 + 1,
                        "Label": "Head"}],
        "RequestId": str(uuid.uuid4())}}
    return json.dumps(reply, separators=(",", ":")).encode()


def measure_floor(jpeg: bytes, head: Box, runs: int, warmup: int = 5) -> list[float]:
    """Milliseconds of ``runs`` calls of :func:`floor_reply` after ``warmup`` calls.

    Several warm-up calls: the first large allocations page-fault until glibc's mmap
    threshold has grown, which would make a cold floor look 20-30 % slower.
    """
    for _ in range(warmup):
        floor_reply(jpeg, head)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        floor_reply(jpeg, head)
        times.append((time.perf_counter() - start) * 1000)
    return times


def measure_pipeline(jpeg: bytes, options: list[str], runs: int, warmup: int = 5) -> list[float]:
    """Milliseconds of ``runs`` calls of the emulator's own image work for one request
    (:func:`emulator.actions.results.compute_reply`: the region rules, the cut-out, the mask,
    the serialised fields) — what the server adds around it is request handling."""
    from emulator.actions.results import compute_reply

    for _ in range(warmup):
        compute_reply(jpeg, options, 5)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        compute_reply(jpeg, options, 5)
        times.append((time.perf_counter() - start) * 1000)
    return times


# --- transport limit ----------------------------------------------------------------------------

async def _transport(port: int, reply: bytes, ready: Callable[[], object] | None) -> None:
    """One transport process: every POST answered with ``reply``, until SIGTERM or SIGINT."""

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=reply, headers={"Content-Type": CONTENT_TYPE})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_get(HEALTH, health)
    app.router.add_post("/{tail:.*}", answer)
    await serve_until_signalled(web.AppRunner(app, access_log=None), "127.0.0.1", port,
                                reuse_port=True, ready=ready)


def _transport_child(port: int, reply: bytes, ready: Callable[[], object]) -> None:
    asyncio.run(_transport(port, reply, ready))


def serve_transport(port: int, reply_path: str, processes: int = 1) -> None:
    """The transport limit: ``processes`` bare aiohttp processes sharing the port
    (``SO_REUSEPORT``: the kernel spreads connections), every POST answered with the same reply
    bytes, nothing else. The extra processes are forked children, listening before this one
    does (so "healthy" means all are up) and stopped with it."""
    reply = Path(reply_path).read_bytes()
    ctx = multiprocessing.get_context("fork")  # no thread or event loop exists yet
    children = []
    try:
        for _ in range(processes - 1):
            ready = ctx.Event()
            child = ctx.Process(target=_transport_child, args=(port, reply, ready.set),
                                daemon=True)
            child.start()
            children.append(child)
            if not ready.wait(START_TIMEOUT):
                raise RuntimeError("a transport process did not start")
        asyncio.run(_transport(port, reply, None))
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.join(5)


def fetch_reply(port: int, jpeg: bytes) -> bytes:
    """The emulator's reply bytes for ``jpeg`` (one signed request)."""
    body = request_body(base64.b64encode(jpeg))
    status, data = http_call(port, "POST", "/", body, tc3_headers(f"127.0.0.1:{port}", body),
                             timeout=60)
    if status != 200 or b'"Error"' in data:
        raise RuntimeError(f"emulator refused the benchmark image: {data[:300]!r}")
    return data
