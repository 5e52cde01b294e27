"""What the benchmarks send: photo-like JPEGs drawn deterministically, decompression bombs,
request bodies, and distinct bodies of the same pixels (a numbered JPEG comment after SOI).

Requests are signed with :func:`emulator.testing.tc3_headers` (default account), given the
body's sha256 as ``payload_hash`` when the load process hashed it before the timer.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import zlib
from collections.abc import Callable, Iterator

from PIL import Image, ImageChops, ImageDraw, ImageFilter

Size = tuple[int, int]
Box = tuple[int, int, int, int]

SIZES: tuple[Size, ...] = ((300, 400), (640, 457), (1999, 1000))
REF: Size = (640, 457)
BIG: Size = (1999, 1000)
CONTENT_TYPE = "application/json"
OPTIONS = {"Head": True}
BODY_HEAD = b'{"Image":"'
BODY_TAIL = b'","SegmentationOptions":%s}' % json.dumps(OPTIONS, separators=(",", ":")).encode()
BODY_BUDGET = 512 * 1024 * 1024  # pre-built distinct bodies per cell, bytes
BIG_POST_BYTES = 100 * 1024 * 1024
BOMB_PNG_SIDE = 100_000
BOMB_JPEG_SIDE = 60_000


def label(size: Size) -> str:
    """``640x457``."""
    return f"{size[0]}x{size[1]}"


# --- pictures -----------------------------------------------------------------------------------

def _frame(size: Size) -> Box:
    """The figure's frame (x, y, width, height): centred, standing on the bottom edge."""
    width, height = size
    fh = round(height * 0.86)
    fw = min(round(fh * 0.75), round(width * 0.8))
    return (width - fw) // 2, height - fh, fw, fh


def _part(frame: Box, u0: float, v0: float, u1: float, v1: float) -> Box:
    x, y, w, h = frame
    return x + round(u0 * w), y + round(v0 * h), x + round(u1 * w) - 1, y + round(v1 * h) - 1


def head_box(size: Size) -> Box:
    """Where the figure's head (hair ellipse) lies: the floor's one mask."""
    return _part(_frame(size), 0.26, 0.03, 0.74, 0.48)


def make_photo(size: Size, seed: int) -> bytes:
    """A photo-like JPEG (quality 90): gradient, head-and-shoulders figure, blur, seeded noise."""
    width, height = size
    ramp = Image.linear_gradient("L").resize(size, Image.Resampling.BILINEAR)
    channels = [ramp.point(lambda v, top=top, span=span: top - v * span // 255)
                for top, span in ((206, 16), (210, 12), (218, 6))]
    image = Image.merge("RGB", channels)
    draw = ImageDraw.Draw(image)
    frame = _frame(size)
    skin, hair, shirt = (226, 176, 146), (62, 42, 32), (52, 86, 150)
    draw.rounded_rectangle(_part(frame, 0.0, 0.58, 1.0, 1.0), round(0.18 * frame[2]), fill=shirt,
                           corners=(True, True, False, False))
    draw.rectangle(_part(frame, 0.42, 0.40, 0.58, 0.62), fill=skin)
    draw.ellipse(head_box(size), fill=hair)
    draw.ellipse(_part(frame, 0.27, 0.22, 0.32, 0.33), fill=skin)
    draw.ellipse(_part(frame, 0.68, 0.22, 0.73, 0.33), fill=skin)
    draw.ellipse(_part(frame, 0.30, 0.08, 0.70, 0.46), fill=skin)
    draw.chord(_part(frame, 0.28, 0.04, 0.72, 0.38), 180, 360, fill=hair)
    for u0, u1 in ((0.38, 0.46), (0.54, 0.62)):
        draw.ellipse(_part(frame, u0, 0.268, u1, 0.292), fill=(40, 34, 34))
    draw.ellipse(_part(frame, 0.42, 0.362, 0.58, 0.414), fill=(178, 72, 80))
    image = image.filter(ImageFilter.GaussianBlur(1))
    noise = Image.frombytes("RGB", size, random.Random(seed).randbytes(width * height * 3))
    image = ImageChops.add(image, noise.point(lambda v: v * 13 // 256), 1.0, -6)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def bomb_png(side: int = BOMB_PNG_SIDE) -> bytes:
    """A real 64x64 PNG whose IHDR is patched to declare ``side`` x ``side`` (CRC fixed)."""
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (120, 90, 60)).save(out, "PNG")
    data = bytearray(out.getvalue())
    assert data[12:16] == b"IHDR"
    data[16:24] = side.to_bytes(4, "big") * 2
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)


def bomb_jpeg(side: int = BOMB_JPEG_SIDE) -> bytes:
    """A real 64x64 baseline JPEG whose SOF0 is patched to declare ``side`` x ``side``."""
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (120, 90, 60)).save(out, "JPEG", quality=90)
    data = bytearray(out.getvalue())
    pos = data.index(b"\xff\xc0")
    data[pos + 5:pos + 9] = side.to_bytes(2, "big") * 2  # height, then width
    return bytes(data)


BOMBS: dict[str, Callable[[], bytes]] = {"bomb-png": bomb_png, "bomb-jpeg": bomb_jpeg}


# --- bodies -------------------------------------------------------------------------------------

def request_body(image_b64: bytes) -> bytes:
    """The JSON body of one request carrying ``image_b64``."""
    return BODY_HEAD + image_b64 + BODY_TAIL


def after_soi(jpeg: bytes) -> bytes:
    """The base64 of ``jpeg`` after its SOI marker: what :func:`commented_body` completes."""
    return base64.b64encode(jpeg[2:])


def commented_body(rest: bytes, number: int) -> bytes:
    """A body of the picture whose :func:`after_soi` is ``rest``, with an 18-byte COM segment
    numbered ``number`` after SOI: the same pixels (the same work), another sha256.

    18 bytes is a multiple of 3, so the base64 of the rest of the file is computed once.
    """
    prefix = b"\xff\xd8\xff\xfe\x00\x0e" + b"%012d" % number
    return request_body(base64.b64encode(prefix) + rest)


def build_bodies(jpeg: bytes, count: int, serial: Iterator[int]) -> list[tuple[bytes, str]]:
    """``count`` distinct bodies of ``jpeg`` with their sha256 (at most ``BODY_BUDGET`` bytes)."""
    rest = after_soi(jpeg)
    count = max(1, min(count, BODY_BUDGET // (len(rest) + 64)))
    bodies = []
    for _ in range(count):
        body = commented_body(rest, next(serial))
        bodies.append((body, hashlib.sha256(body).hexdigest()))
    return bodies
