"""The cut-out as a PNG: an 8-bit RGBA image, transparent and zeroed outside a mask, written
without touching the transparent part pixel by pixel.

A portrait cut-out is mostly transparent (a head is 5-10 % of a photo), and everything outside
the mask is the same zero byte. Pillow's PNG encoder pays for those bytes three times: it
composes them (a black image, a copy, a pasted copy, an RGBA conversion), tries all five PNG
filters on every row, and deflates them. Here:

* only the **band** — the rows of the mask's bounding box — is composed (the image pasted
  through the mask onto transparent black, within the box's columns) and deflated by zlib at
  ``level`` (1 by default); its rows use the PNG filter *Up* (2), which suits photographs and
  costs one subtraction pass in C, instead of Pillow's per-row adaptive choice; the band is
  worked in strips of ``STRIP_BYTES``, so no single call holds the GIL for long (the event
  loop shares it) and the output is the same whatever the strip size;
* the rows above and below the band (filter *None*, all zeros) are written as hand-made
  deflate blocks: one literal zero, then matches of 258 bytes at distance 1 — 13 bytes per
  8 × 258 input bytes, as zlib itself would emit them, without zlib reading them;
* the zlib stream's Adler-32 is carried across the parts (zero runs in closed form).

The pixels are those of ``Image.composite(image, black, mask)`` with ``mask`` as alpha (Pillow's
paste arithmetic, the same for any mask, hard or soft); the bytes are not Pillow's. Same input
→ byte-identical output, for a given zlib build. Every PNG decoder reads it: one IHDR (8-bit
RGBA, no interlace), one IDAT, IEND.
"""

from __future__ import annotations

import struct
import zlib

from PIL import Image, ImageChops

__all__ = ["encode_cutout"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_ZLIB_HEADER = b"\x78\x01"  # deflate, 32 KB window, "fastest" level hint (as zlib level 1)
_FINAL_EMPTY_BLOCK = b"\x01\x00\x00\xff\xff"  # BFINAL=1 stored block of 0 bytes
_MOD_ADLER = 65521
_UP = 2
#: The band is composed, filtered and deflated in strips of about this many bytes of pixels.
STRIP_BYTES = 256 * 1024


def encode_cutout(image: Image.Image, mask: Image.Image, level: int = 1) -> bytes:
    """``image`` (RGB) where ``mask`` ("L", same size) is set, transparent black elsewhere, as
    an RGBA PNG; the mask is the alpha channel. ``level``: zlib's, for the band."""
    if image.mode != "RGB" or mask.mode != "L" or image.size != mask.size:
        raise ValueError("encode_cutout needs an RGB image and an L mask of the same size")
    width, height = image.size
    row = 1 + 4 * width  # filter byte + pixels
    box = mask.getbbox()
    top, bottom = (box[1], box[3]) if box else (height, height)
    parts = [_ZLIB_HEADER, _zero_run(top * row)]
    adler = _adler_zeros(1, top * row)
    if box:
        blocks, band_adler = _band(image, mask, box, width, level)
        parts.append(blocks)
        adler = _adler_combine(adler, band_adler, (box[3] - box[1]) * row)
    tail = (height - bottom) * row
    parts += [_zero_run(tail), _FINAL_EMPTY_BLOCK, struct.pack(">I", _adler_zeros(adler, tail))]
    return b"".join([_SIGNATURE, _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6,
                                                               0, 0, 0)),
                     _chunk(b"IDAT", b"".join(parts)), _chunk(b"IEND", b"")])


def _band(image: Image.Image, mask: Image.Image, box: tuple[int, int, int, int],
          width: int, level: int) -> tuple[bytes, int]:
    """(deflate blocks, Adler-32 from 1) of the band ``box[1]:box[3]``, rows filtered with Up.

    Worked in strips of about ``STRIP_BYTES``: each Pillow and zlib call holding the GIL
    stays short (the event loop waits for none of them for long), and the temporaries stay
    small. zlib is fed the same bytes in the same order, so the output does not depend on the
    strip size.
    """
    left, top, right, bottom = box
    rows = max(1, STRIP_BYTES // (4 * width))
    deflate = zlib.compressobj(level, zlib.DEFLATED, -15)
    parts, adler = [], 1
    up = bytes([_UP])
    stride = 4 * width
    previous = Image.new("RGBA", (width, 1), 0)  # the row above the band is transparent
    for start in range(top, bottom, rows):
        end = min(bottom, start + rows)
        cut = Image.new("RGBA", (width, end - start), 0)
        region = (left, start, right, end)
        cut.paste(image.crop(region), (left, 0), mask.crop(region))
        above = Image.new("RGBA", cut.size, 0)  # each row's upper neighbour
        above.paste(previous, (0, 0))
        if end - start > 1:
            above.paste(cut.crop((0, 0, width, end - start - 1)), (0, 1))
        data = memoryview(ImageChops.subtract_modulo(cut, above).tobytes())
        raw = b"".join([piece for at in range(0, len(data), stride)
                        for piece in (up, data[at:at + stride])])
        adler = zlib.adler32(raw, adler)
        parts.append(deflate.compress(raw))
        previous = cut.crop((0, end - start - 1, width, end - start))
    parts.append(deflate.flush(zlib.Z_SYNC_FLUSH))
    return b"".join(parts), adler


def _chunk(kind: bytes, data: bytes) -> bytes:
    return b"".join([struct.pack(">I", len(data)), kind, data,
                     struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))])


def _adler_combine(first: int, second: int, length: int) -> int:
    """Adler-32 of A + B from those of A and of B (``length`` bytes), as zlib's
    ``adler32_combine``."""
    rem = length % _MOD_ADLER
    a1, b1 = first & 0xFFFF, first >> 16
    a2, b2 = second & 0xFFFF, second >> 16
    a = (a1 + a2 - 1) % _MOD_ADLER
    b = (b1 + b2 + rem * a1 - rem) % _MOD_ADLER
    return (b << 16) | a


def _adler_zeros(adler: int, count: int) -> int:
    """Adler-32 ``adler`` continued over ``count`` zero bytes (``a`` stays, ``b`` grows)."""
    a, b = adler & 0xFFFF, adler >> 16
    return (((b + count * a) % _MOD_ADLER) << 16) | a


class _Bits:
    """Deflate's bit order: values least significant bit first, Huffman codes reversed."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.acc = 0
        self.count = 0

    def put(self, value: int, bits: int) -> None:
        self.acc |= value << self.count
        self.count += bits
        while self.count >= 8:
            self.out.append(self.acc & 0xFF)
            self.acc >>= 8
            self.count -= 8

    def code(self, code: int, bits: int) -> None:
        self.put(int(f"{code:0{bits}b}"[::-1], 2), bits)

    def align(self) -> None:
        if self.count:
            self.put(0, 8 - self.count)


# Fixed Huffman codes (RFC 1951, 3.2.6): literal 0 is 0x30 in 8 bits; length 258 is symbol 285
# (0xC5 in 8 bits) and distance 1 is distance symbol 0 (5 bits).
_LITERAL_ZERO = (0x30, 8)
_LENGTH_258 = (0xC5, 8)
_DISTANCE_1 = (0, 5)
_END_OF_BLOCK = (0, 7)
_LENGTH_BASE = (3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83,
                99, 115, 131, 163, 195, 227)
_LENGTH_EXTRA = (0,) * 8 + (1,) * 4 + (2,) * 4 + (3,) * 4 + (4,) * 4 + (5,) * 4


def _length(bits: _Bits, length: int) -> None:
    """A match of ``length`` (3..257) at distance 1."""
    index = max(i for i, base in enumerate(_LENGTH_BASE) if base <= length)
    symbol = 257 + index
    if symbol <= 279:
        bits.code(symbol - 256, 7)
    else:
        bits.code(0xC0 + symbol - 280, 8)
    bits.put(length - _LENGTH_BASE[index], _LENGTH_EXTRA[index])
    bits.code(*_DISTANCE_1)


def _zero_run(count: int) -> bytes:
    """``count`` zero bytes as deflate blocks (a fixed-Huffman block, then an empty stored block
    to end on a byte boundary); ``b""`` for none."""
    if count == 0:
        return b""
    bits = _Bits()
    bits.put(0, 1)  # BFINAL=0
    bits.put(1, 2)  # BTYPE=01, fixed Huffman
    bits.code(*_LITERAL_ZERO)
    matches, rest = divmod(count - 1, 258)
    done = 0
    while done < matches and bits.count:  # 11 + 13 n bits: aligned after the first match
        bits.code(*_LENGTH_258)
        bits.code(*_DISTANCE_1)
        done += 1
    if matches - done >= 8:  # 8 matches = 104 bits = 13 whole bytes, repeated
        unit = _Bits()
        for _ in range(8):
            unit.code(*_LENGTH_258)
            unit.code(*_DISTANCE_1)
        repeats = (matches - done) // 8
        bits.out += bytes(unit.out) * repeats
        done += 8 * repeats
    for _ in range(matches - done):
        bits.code(*_LENGTH_258)
        bits.code(*_DISTANCE_1)
    if rest >= 3:
        _length(bits, rest)
    else:
        for _ in range(rest):
            bits.code(*_LITERAL_ZERO)
    bits.code(*_END_OF_BLOCK)
    bits.put(0, 3)  # BFINAL=0, BTYPE=00: a stored block of no bytes ...
    bits.align()
    bits.out += b"\x00\x00\xff\xff"  # ... LEN=0, NLEN=~0
    return bytes(bits.out)
