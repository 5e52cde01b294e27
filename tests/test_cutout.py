"""The cut-out PNG writer: the pixels Pillow's composite gave before, a valid zlib stream, the
same bytes every time."""

from __future__ import annotations

import io
import random
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from emulator.imaging import cutout
from emulator.imaging.cutout import _zero_run, encode_cutout
from emulator.imaging.images import load_image
from emulator.imaging.regions import OPTIONS, find_subjects, label_map, option_mask
from emulator.imaging.rendering import segment
from emulator.resources import fixture_path


def reference(image: Image.Image, mask: Image.Image) -> bytes:
    """The cut-out as the emulator composed it with Pillow before (RGBA pixels)."""
    cut = Image.composite(image, Image.new("RGB", image.size, 0), mask)
    cut.putalpha(mask)
    return cut.tobytes()


def chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of each chunk, CRCs checked."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    found, pos = [], 8
    while pos < len(png):
        (length,) = struct.unpack_from(">I", png, pos)
        kind, data = png[pos + 4:pos + 8], png[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack_from(">I", png, pos + 8 + length)
        assert crc == zlib.crc32(kind + data)
        found.append((kind, data))
        pos += 12 + length
    return found


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return load_image(fixture_path("images/portrait.jpg").read_bytes())


@pytest.fixture(scope="module")
def labels(photo: Image.Image) -> Image.Image:
    return label_map(photo.size, find_subjects(photo))


@pytest.mark.parametrize("options", [["Head"], ["Background"], ["Tooth"], ["Hat", "Belongings"],
                                     list(OPTIONS), []])
def test_pixels_are_the_composite_ones(photo: Image.Image, labels: Image.Image,
                                       options: list[str]) -> None:
    mask = option_mask(labels, options)
    decoded = Image.open(io.BytesIO(encode_cutout(photo, mask)))
    assert decoded.format == "PNG" and decoded.mode == "RGBA" and decoded.size == photo.size
    assert decoded.tobytes() == reference(photo, mask)


def test_a_stream_zlib_accepts_with_its_checksum(photo: Image.Image, labels: Image.Image) -> None:
    """zlib checks the Adler-32 that the writer carries across its parts (Pillow does not)."""
    png = encode_cutout(photo, option_mask(labels, ["Head"]))
    kinds = [kind for kind, _ in chunks(png)]
    assert kinds == [b"IHDR", b"IDAT", b"IEND"]
    ihdr, idat = chunks(png)[0][1], chunks(png)[1][1]
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", ihdr)
    assert (width, height, depth, colour, interlace) == (*photo.size, 8, 6, 0)
    raw = zlib.decompress(idat)
    assert len(raw) == height * (1 + 4 * width)
    assert {raw[row * (1 + 4 * width)] for row in range(height)} <= {0, 2}  # None or Up


def test_soft_masks_and_edges(photo: Image.Image) -> None:
    """Any mask, soft or touching the borders, gives composite's pixels."""
    rnd = random.Random(7)
    for _ in range(20):
        mask = Image.new("L", photo.size, 0)
        draw = ImageDraw.Draw(mask)
        for _ in range(rnd.randrange(1, 5)):
            x, y = rnd.randrange(-50, photo.width), rnd.randrange(-50, photo.height)
            draw.ellipse((x, y, x + rnd.randrange(1, 300), y + rnd.randrange(1, 300)),
                         fill=rnd.randrange(1, 256))
        assert Image.open(io.BytesIO(encode_cutout(photo, mask))).tobytes() == \
            reference(photo, mask)


@pytest.mark.parametrize("fill", [0, 255])
def test_empty_and_full_masks(photo: Image.Image, fill: int) -> None:
    mask = Image.new("L", photo.size, fill)
    assert Image.open(io.BytesIO(encode_cutout(photo, mask))).tobytes() == \
        reference(photo, mask)


@settings(max_examples=60, deadline=None)
@given(width=st.integers(1, 70), height=st.integers(1, 70),
       box=st.tuples(st.integers(0, 69), st.integers(0, 69), st.integers(1, 70),
                     st.integers(1, 70)),
       seed=st.integers(0, 2**16))
def test_random_sizes_and_boxes(width: int, height: int, box: tuple[int, int, int, int],
                                seed: int) -> None:
    rnd = random.Random(seed)
    image = Image.frombytes("RGB", (width, height), rnd.randbytes(width * height * 3))
    mask = Image.new("L", (width, height), 0)
    x0, y0 = min(box[0], width - 1), min(box[1], height - 1)
    mask.paste(rnd.randrange(1, 256), (x0, y0, max(x0 + 1, min(box[2], width)),
                                       max(y0 + 1, min(box[3], height))))
    png = encode_cutout(image, mask)
    assert Image.open(io.BytesIO(png)).tobytes() == reference(image, mask)
    zlib.decompress(chunks(png)[1][1])  # checksum verified


@pytest.mark.parametrize("count", [*range(1, 300), 258 * 9 + 1, 258 * 17 + 5, 1_000_003])
def test_zero_runs_inflate_to_zeros(count: int) -> None:
    final = b"\x01\x00\x00\xff\xff"
    assert zlib.decompress(_zero_run(count) + final, -15) == bytes(count)


def test_refuses_other_modes(photo: Image.Image) -> None:
    with pytest.raises(ValueError):
        encode_cutout(photo.convert("RGBA"), Image.new("L", photo.size))
    with pytest.raises(ValueError):
        encode_cutout(photo, Image.new("L", (3, 3)))


@pytest.mark.parametrize("strip", [1, 4 * 1024, 100 * 1024, 64 * 1024 * 1024])
def test_strips_do_not_change_the_bytes(photo: Image.Image, labels: Image.Image,
                                        monkeypatch: pytest.MonkeyPatch, strip: int) -> None:
    """The band is worked in strips (short GIL holds); zlib sees the same bytes either way."""
    mask = option_mask(labels, ["Head", "Body", "Hat"])
    expected = encode_cutout(photo, mask)
    monkeypatch.setattr(cutout, "STRIP_BYTES", strip)
    assert encode_cutout(photo, mask) == expected


def test_same_bytes_every_time(photo: Image.Image, labels: Image.Image) -> None:
    mask = option_mask(labels, ["Head", "Body"])
    assert encode_cutout(photo, mask) == encode_cutout(photo, mask)


def test_portrait_png_pixels_unchanged_through_segment() -> None:
    """The action's PortraitImage decodes to what Pillow's encoder gave (pinned: the sha256 of
    its pixels in tests/golden covers the SDK path; this one is the pure function)."""
    data = fixture_path("images/portrait.png").read_bytes()
    image = load_image(data)
    mask = option_mask(label_map(image.size, find_subjects(image)), ["Head", "Body"])
    cut = segment(data, ["Head", "Body"]).portrait_png
    assert Image.open(io.BytesIO(cut)).tobytes() == reference(image, mask)
