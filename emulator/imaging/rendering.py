"""Encoding the outputs of one segmentation: cut-out PNG, mask JPEG and rectangles.

The formats follow the official response example (see the reference, section 6.5):
``PortraitImage`` is an 8-bit RGBA PNG of the input's size, the selected regions opaque and
everything else fully transparent with its colour zeroed (smaller, and no hidden pixels leak);
``MaskImage`` is a baseline 8-bit greyscale JPEG (quality 100) of the same size, 255 inside
the selected regions and 0 outside (the real service sends soft confidences; ours are hard).
PNG uses zlib level 1: encoding the cut-out dominates the cost, and level 1 is up to 4× faster
than Pillow's default (6) for about 20–25 % more bytes. Same input bytes → byte-identical
outputs (for a given Pillow/zlib/libjpeg build).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from emulator.imaging.images import load_image
from emulator.imaging.person import green_screen, person_mask
from emulator.imaging.regions import find_subjects, label_map, option_mask, option_rects

PNG_COMPRESS_LEVEL = 1
JPEG_QUALITY = 100


@dataclass(frozen=True)
class Segmentation:
    """The three outputs of ``SegmentCustomizedPortraitPic``, before base64."""

    portrait_png: bytes
    mask_jpeg: bytes
    rects: list[dict[str, int | str]]


def segment(data: bytes, options: Sequence[str], max_subjects: int = 5) -> Segmentation:
    """Run the whole pipeline on raw image bytes; raises :class:`~emulator.errors.ApiError`.

    Top level with plain arguments so a server can run it in a thread or process pool.
    """
    image = load_image(data)
    labels = label_map(image.size, find_subjects(image, max_subjects))
    mask = option_mask(labels, options)
    return Segmentation(
        portrait_png=_encode_portrait(image, mask),
        mask_jpeg=_encode_mask(mask),
        rects=option_rects(labels, options),
    )


@dataclass(frozen=True)
class PersonCutout:
    """The outputs of ``SegmentPortraitPic``, before base64: cut-out PNG and mask JPEG (the
    same encodings as the customised action's), and whether a person was found."""

    image_png: bytes
    mask_jpeg: bytes
    has_person: bool


def segment_person(data: bytes, green: bool = False, max_subjects: int = 5) -> PersonCutout:
    """Person or not on raw image bytes (``green``: the green-screen rule of ``Scene: GS``)."""
    image = load_image(data)
    mask, found = person_mask(image, max_subjects)
    if green and found:
        mask = green_screen(image, mask)
    return PersonCutout(_encode_portrait(image, mask), _encode_mask(mask), found)


def _encode_portrait(image: Image.Image, mask: Image.Image) -> bytes:
    cut = Image.composite(image, Image.new("RGB", image.size, 0), mask)
    cut.putalpha(mask)
    out = io.BytesIO()
    cut.save(out, "PNG", compress_level=PNG_COMPRESS_LEVEL)
    return out.getvalue()


def _encode_mask(mask: Image.Image) -> bytes:
    out = io.BytesIO()
    mask.save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()
