"""Small copies of pictures for the dashboard: shrunk to a longest side, never enlarged.

Inputs are decoded with the same checks as for segmentation (:func:`~emulator.imaging.images.
load_image`: format, resolution, decode cost); the emulator's own outputs (the RGBA cut-out
PNG, the greyscale mask JPEG) are opened as PNG or JPEG only. A picture with transparency is
encoded as PNG, any other as JPEG. Same bytes in, same bytes out.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from emulator.imaging.images import load_image

__all__ = ["JPEG_QUALITY", "MAX_SIDE", "Thumbnail", "shrink", "thumbnail"]

#: Longest side of a thumbnail, pixels.
MAX_SIDE = 480
JPEG_QUALITY = 85


@dataclass(frozen=True, slots=True)
class Thumbnail:
    """Encoded bytes, their media type and size in pixels."""

    data: bytes
    content_type: str
    width: int
    height: int


def shrink(image: Image.Image, max_side: int = MAX_SIDE) -> Image.Image:
    """A copy of ``image`` whose longest side is at most ``max_side`` (aspect kept)."""
    copy = image.copy()
    copy.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return copy


def thumbnail(data: bytes, max_side: int = MAX_SIDE, *, ours: bool = False) -> Thumbnail:
    """``data`` shrunk: a client's input (checked like any input) or, with ``ours``, one of
    the emulator's own PNG or JPEG outputs (its alpha kept)."""
    image: Image.Image
    if ours:
        opened = Image.open(io.BytesIO(data), formats=["PNG", "JPEG"])
        if opened.format == "JPEG":
            opened.draft(opened.mode, (max_side, max_side))  # decode at 1/2, 1/4 or 1/8 scale
        opened.load()
        image = opened
    else:
        image = load_image(data)
    small = shrink(image, max_side)
    out = io.BytesIO()
    if small.mode in ("RGBA", "LA", "PA"):
        small.save(out, "PNG", compress_level=6)
        kind = "image/png"
    else:
        small.convert("L" if small.mode in ("L", "1") else "RGB").save(
            out, "JPEG", quality=JPEG_QUALITY)
        kind = "image/jpeg"
    return Thumbnail(out.getvalue(), kind, small.width, small.height)
