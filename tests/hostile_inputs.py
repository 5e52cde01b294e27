"""Hostile inputs built from scratch, for tests and benchmarks (with Pillow and the stdlib).

``progressive_scan_bomb`` is the progressive-JPEG scan bomb: a real progressive JPEG from
Pillow with thousands of extra AC refinement scans spliced in before EOI. Each extra scan is a
few bytes (end-of-band runs covering the whole component), yet libjpeg walks every block of
the component, every coefficient of the band, once per scan: at 1999×1999 a few hundred KB of
input costs minutes of decode CPU. The picture stays valid (the refinements change nothing, so
it decodes to the same pixels) apart from libjpeg's "bogus progression" warning.
``worst_accepted_progressive_jpeg`` is the costliest such bomb the emulator still accepts (it
asks :mod:`emulator.imaging.images`, imported only then).
"""

from __future__ import annotations

import io
import math
import struct

from PIL import Image

__all__ = ["progressive_scan_bomb", "scan_bomb_scan", "worst_accepted_progressive_jpeg"]

_BOMB_TABLE = 3  # a private AC Huffman table, defined once before the extra scans
_MAX_EOBRUN = 32767  # EOB14 with its 14 extra bits all set


def _eob_runs(blocks: int) -> tuple[int, int]:
    """(symbol, run): the fewest equal end-of-band runs that cover ``blocks`` blocks."""
    count = max(1, math.ceil(blocks / _MAX_EOBRUN))
    run = max(1, math.ceil(blocks / count))
    return (run.bit_length() - 1) << 4, run


def _dht(blocks: int) -> bytes:
    symbol, _ = _eob_runs(blocks)
    body = bytes([0x10 | _BOMB_TABLE, 1] + [0] * 15 + [symbol])  # one 1-bit code: "0"
    return b"\xff\xc4" + struct.pack(">H", 2 + len(body)) + body


def scan_bomb_scan(component: int, blocks: int, *, refine: bool = True) -> bytes:
    """One AC scan (band 1-63) of ``component``: end-of-band runs over its ``blocks`` blocks.

    Uses the table :func:`_dht` defines for the same ``blocks``. ``refine`` makes it a
    successive-approximation refinement (Ah=1, Al=0): libjpeg then also visits the band's 63
    coefficients of every block, the costliest scan per byte (about 8× a first AC scan).
    """
    symbol, run = _eob_runs(blocks)
    extra = symbol >> 4
    one = "0" + (format(run - (1 << extra), f"0{extra}b") if extra else "")
    bits = one * math.ceil(blocks / run)
    bits += "1" * (-len(bits) % 8)  # pad with 1-bits, as an encoder does
    data = bytearray()
    for i in range(0, len(bits), 8):
        data.append(int(bits[i:i + 8], 2))
        if data[-1] == 0xFF:
            data.append(0x00)  # byte stuffing
    sos = bytes([1, component, _BOMB_TABLE, 1, 63, 0x10 if refine else 0x00])
    return b"\xff\xda" + struct.pack(">H", 2 + len(sos)) + sos + bytes(data)


def _component_ids(jpeg: bytes) -> list[int]:
    pos = jpeg.index(b"\xff\xc2")  # SOF2, progressive: Pillow writes no other 0xFFC2 before it
    count = jpeg[pos + 9]
    return [jpeg[pos + 10 + 3 * i] for i in range(count)]


def progressive_scan_bomb(scans: int, size: tuple[int, int] = (1999, 1999), *,
                          refine: bool = True, quality: int = 75) -> bytes:
    """A ``size`` RGB progressive JPEG (4:4:4) carrying ``scans`` extra do-nothing AC scans.

    The extra scans cycle over the three components; every component has one block per 8×8
    pixels, so each scan costs libjpeg a walk over ``ceil(w/8)·ceil(h/8)`` blocks. The picture
    is flat grey with a darker square on the 8×8 block grid, so the refinements need no
    correction bits: at 1999×1999 each scan is 14 bytes, and 160 KB carry about 8,000 scans.
    """
    return _splice(_flat_progressive(size, quality), size, scans, refine)


def worst_accepted_progressive_jpeg(size: tuple[int, int] = (1999, 1999)) -> bytes:
    """The costliest scan bomb of ``size`` that the emulator's checks still accept.

    The costliest per byte and per scan (refinement scans over flat blocks) with as many
    extra scans as :func:`emulator.imaging.images.check_decode_cost` lets through: what a benchmark
    times against the "under 1 s of decoding" promise.
    """
    from emulator.errors import ApiError
    from emulator.imaging.images import MAX_SCANS, check_decode_cost

    base = _flat_progressive(size, 75)
    low, high = 0, MAX_SCANS + 1  # base + low extra scans accepted, base + high refused
    while high - low > 1:
        middle = (low + high) // 2
        try:
            check_decode_cost(_splice(base, size, middle, True), "JPEG", size)
        except ApiError:
            high = middle
        else:
            low = middle
    return _splice(base, size, low, True)


def _flat_progressive(size: tuple[int, int], quality: int) -> bytes:
    width, height = size
    image = Image.new("RGB", size, (128, 128, 128))
    left, top = width // 4 // 8 * 8, height // 4 // 8 * 8  # on the 8×8 grid: AC stays zero
    image.paste((60, 60, 60), (left, top, (width - left) // 8 * 8, (height - top) // 8 * 8))
    out = io.BytesIO()
    image.save(out, "JPEG", progressive=True, quality=quality, subsampling=0)
    jpeg = out.getvalue()
    assert jpeg.endswith(b"\xff\xd9")
    return jpeg


def _splice(jpeg: bytes, size: tuple[int, int], scans: int, refine: bool) -> bytes:
    """``jpeg`` with ``scans`` extra scans (and their Huffman table) just before EOI."""
    blocks = math.ceil(size[0] / 8) * math.ceil(size[1] / 8)
    per_component = [scan_bomb_scan(c, blocks, refine=refine) for c in _component_ids(jpeg)]
    extra = b"".join(per_component[i % len(per_component)] for i in range(scans))
    return jpeg[:-2] + _dht(blocks) + extra + b"\xff\xd9"
