"""Decode cost is bounded before decoding: progressive-JPEG scan bombs and header padding.

The bomb (:func:`tests.hostile_inputs.progressive_scan_bomb`) costs libjpeg ~3 ms per extra
scan at 1999x1999; unchecked, 160 KB of it cost 20 s of CPU in a worker nobody can stop.
"""

from __future__ import annotations

import io
import random
import struct
import time
from typing import Any

import pytest
from PIL import Image

from emulator.errors import ApiError
from emulator.imaging.images import (
    MAX_HEADER_GAP,
    MAX_SCAN_PIXELS,
    MAX_SCANS,
    MAX_SEGMENTS,
    check_decode_cost,
    header_size,
    load_image,
)
from emulator.imaging.rendering import segment
from emulator.resources import fixture_path
from tests.hostile_inputs import progressive_scan_bomb, worst_accepted_progressive_jpeg

DECODE_FAILED = "FailedOperation.ImageDecodeFailed"


def encode(image: Image.Image, **params: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", **params)
    return out.getvalue()


def noisy(size: tuple[int, int]) -> Image.Image:
    """Seeded noise, softened so that Pillow's progressive encoder copes: entropy-coded data
    full of 0xFF00 stuffing."""
    half = (max(1, size[0] // 2), max(1, size[1] // 2))
    noise = Image.frombytes("RGB", half, random.Random(3).randbytes(half[0] * half[1] * 3))
    return noise.resize(size, Image.Resampling.BILINEAR)


def refused(data: bytes) -> tuple[str, float]:
    """The code ``load_image`` refuses ``data`` with, and how long it took."""
    started = time.perf_counter()
    with pytest.raises(ApiError) as excinfo:
        load_image(data)
    return excinfo.value.code, time.perf_counter() - started


def after_app0(data: bytes, insert: bytes) -> bytes:
    end = 4 + struct.unpack_from(">H", data, 4)[0]
    assert data[2:4] == b"\xff\xe0"
    return data[:end] + insert + data[end:]


def test_scan_bomb_is_refused_in_milliseconds() -> None:
    bomb = progressive_scan_bomb(8000)  # ~160 KB: 20 s of decoding if let through
    assert len(bomb) < 170_000
    code, seconds = refused(bomb)
    assert code == DECODE_FAILED
    assert seconds < 0.05


def test_bomb_under_the_budget_is_a_valid_image_with_the_same_pixels() -> None:
    size = (256, 256)
    plain, padded = progressive_scan_bomb(0, size), progressive_scan_bomb(60, size)
    assert len(padded) > len(plain)
    assert load_image(padded).tobytes() == load_image(plain).tobytes()


def test_budget_scales_with_pixels() -> None:
    full = MAX_SCAN_PIXELS // (1999 * 1999)
    code, _ = refused(progressive_scan_bomb(full, (1999, 1999)))  # plus Pillow's own scans
    assert code == DECODE_FAILED
    check_decode_cost(progressive_scan_bomb(full - 20, (1999, 1999)), "JPEG", (1999, 1999))


def test_worst_accepted_bomb_is_accepted_at_the_cap() -> None:
    """The benchmark's input: at 256x256 the scan count, not the pixel budget, binds."""
    data = worst_accepted_progressive_jpeg((256, 256))
    assert data.count(b"\xff\xda") == MAX_SCANS
    assert load_image(data).size == (256, 256)


def test_scan_count_is_capped_even_for_small_images() -> None:
    check_decode_cost(progressive_scan_bomb(MAX_SCANS - 20, (64, 64)), "JPEG", (64, 64))
    code, seconds = refused(progressive_scan_bomb(MAX_SCANS, (64, 64)))
    assert code == DECODE_FAILED
    assert seconds < 0.05


def test_empty_scans_count_too() -> None:
    """Scans with no entropy-coded data at all cost libjpeg a walk over the blocks as well."""
    base = encode(Image.new("RGB", (1999, 1999), (9, 9, 9)), progressive=True)
    empty = b"\xff\xda\x00\x08\x01\x01\x00\x01\x3f\x10"
    code, _ = refused(base[:-2] + empty * 1000 + base[-2:])
    assert code == DECODE_FAILED


@pytest.mark.parametrize("params", [{"progressive": True}, {"progressive": True, "quality": 95,
                                                           "subsampling": 0},
                                    {"restart_marker_blocks": 1}, {"quality": 100}])
def test_ordinary_jpegs_at_the_largest_size_pass(params: dict[str, Any]) -> None:
    """0xFF00 stuffing and RSTn markers in the entropy-coded data are not scans."""
    data = encode(noisy((1999, 1999)), **params)
    if "restart_marker_blocks" in params:
        assert data.count(b"\xff\xd7") > MAX_SCANS  # thousands of restart markers
    assert data.count(b"\xff\x00") > MAX_SCANS
    check_decode_cost(data, "JPEG", header_size(data, "JPEG"))


def test_pillow_progressive_jpeg_still_segments() -> None:
    portrait = Image.open(fixture_path("images/portrait.jpg")).convert("RGB")
    progressive = encode(portrait, progressive=True, quality=90)
    baseline = encode(portrait, quality=90)
    assert b"\xff\xc2" in progressive
    result = segment(progressive, ["Head"])
    assert result.rects == segment(baseline, ["Head"]).rects
    assert Image.open(io.BytesIO(result.portrait_png)).size == portrait.size


def test_fake_scans_outside_the_scan_walk_are_not_counted() -> None:
    """A comment holding 0xFFDA bytes, or data after EOI, is not decoded, so it is free."""
    photo = encode(noisy((64, 64)), progressive=True)
    comment = b"\xff\xda" * 1000
    commented = after_app0(photo, b"\xff\xfe" + struct.pack(">H", 2 + len(comment)) + comment)
    assert load_image(commented).size == (64, 64)
    trailing = photo + progressive_scan_bomb(5000, (64, 64))
    assert load_image(trailing).size == (64, 64)


def test_header_fill_is_bounded() -> None:
    photo = encode(noisy((64, 64)))
    assert load_image(after_app0(photo, b"\xff" * 1000)).size == (64, 64)
    code, seconds = refused(after_app0(photo, b"\xff" * (MAX_HEADER_GAP + 1)))
    assert code == DECODE_FAILED
    assert seconds < 0.05
    code, _ = refused(after_app0(photo, b"\x00" * (3 * 1024 * 1024)))
    assert code == DECODE_FAILED


def test_thousands_of_header_segments_are_refused_fast() -> None:
    photo = encode(noisy((64, 64)))
    code, seconds = refused(after_app0(photo, b"\xff\xfe\x00\x02" * 1_000_000))
    assert code == DECODE_FAILED
    assert seconds < 0.05
    assert load_image(after_app0(photo, b"\xff\xfe\x00\x02" * (MAX_SEGMENTS // 2))).size == (
        64, 64)


def test_truncated_bomb_is_refused_or_decode_failed() -> None:
    bomb = progressive_scan_bomb(3000, (256, 256))
    for cut in (11, 1000, len(bomb) // 2, len(bomb) - 3):
        code, _ = refused(bomb[:cut])
        assert code == DECODE_FAILED
