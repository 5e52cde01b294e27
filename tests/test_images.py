"""Decoding and checking input images: every refusal from its natural input, every mode."""

from __future__ import annotations

import base64
import io
import random
import struct
import time
import zlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from emulator.errors import ACTION_CODES, ApiError
from emulator.imaging.images import (
    MAX_BASE64_CHARS,
    check_resolution,
    decode_base64,
    header_size,
    load_image,
    sniff_format,
    to_rgb,
)


def encode(image: Image.Image, fmt: str, **params: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def handmade_png(width: int, height: int, *, extra_ihdr: tuple[int, int] | None = None) -> bytes:
    """A PNG written byte by byte: header claims ``width``×``height``, one tiny IDAT."""
    ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    second = b""
    if extra_ihdr is not None:
        second = png_chunk(b"IHDR", struct.pack(">IIBBBBB", *extra_ihdr, 8, 2, 0, 0, 0))
    idat = png_chunk(b"IDAT", zlib.compress(b"\x00" * (1 + 3 * min(width, 64))))
    return b"\x89PNG\r\n\x1a\n" + ihdr + second + idat + png_chunk(b"IEND", b"")


def code_of(excinfo: pytest.ExceptionInfo[ApiError]) -> str:
    return excinfo.value.code


# --- base64 -------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"A", b"AB", b"ABC", b"\xff\xfe\xfd\x00" * 7])
def test_base64_round_trip_with_and_without_padding(raw: bytes) -> None:
    text = base64.b64encode(raw).decode()
    assert decode_base64(text) == raw
    assert decode_base64(text.rstrip("=")) == raw


@pytest.mark.parametrize("text", [
    "QUJD\nREVG", "QUJD REVG", " QUJD", "QUJD\t", "-_-_", "QU_D", "QUJDR", "QUJD=", "QQ===",
    "QQ=Q", "Q=QQ", "QUJD\u00e9", "!!!!",
])
def test_base64_refuses_bad_text(text: str) -> None:
    with pytest.raises(ApiError) as excinfo:
        decode_base64(text)
    assert code_of(excinfo) == "FailedOperation.ImageDecodeFailed"


def test_base64_over_5_mib_is_image_size_exceed() -> None:
    with pytest.raises(ApiError) as excinfo:
        decode_base64("A" * (MAX_BASE64_CHARS + 4))
    assert code_of(excinfo) == "FailedOperation.ImageSizeExceed"
    assert len(decode_base64("A" * MAX_BASE64_CHARS)) == MAX_BASE64_CHARS * 3 // 4


# --- format sniffing ----------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "expected"), [("PNG", "PNG"), ("JPEG", "JPEG"), ("BMP", "BMP")])
def test_sniff_supported(fmt: str, expected: str) -> None:
    assert sniff_format(encode(Image.new("RGB", (40, 40)), fmt)) == expected


@pytest.mark.parametrize(("fmt", "name"), [
    ("GIF", "GIF"), ("WEBP", "WebP"), ("TIFF", "TIFF"), ("ICO", "ICO"),
])
def test_sniff_refuses_other_image_formats(fmt: str, name: str) -> None:
    data = encode(Image.new("RGB", (40, 40), (200, 10, 10)), fmt)
    with pytest.raises(ApiError) as excinfo:
        load_image(data)
    assert code_of(excinfo) == "FailedOperation.ImageNotSupported"
    assert name in excinfo.value.message("en-US")


@pytest.mark.parametrize("data", [
    b"", b"hello world", b"\x00" * 100, b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"%PDF-1.4",
])
def test_sniff_refuses_non_images(data: bytes) -> None:
    with pytest.raises(ApiError) as excinfo:
        load_image(data)
    assert code_of(excinfo) == "FailedOperation.ImageDecodeFailed"


# --- resolution -----------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(2000, 40), (40, 2000), (2500, 2500)])
def test_2000_px_side_is_resolution_exceed(size: tuple[int, int]) -> None:
    data = encode(Image.new("L", size), "PNG")
    with pytest.raises(ApiError) as excinfo:
        load_image(data)
    assert code_of(excinfo) == "FailedOperation.ImageResolutionExceed"


def test_1999_px_side_is_accepted() -> None:
    assert load_image(encode(Image.new("L", (1999, 32)), "PNG")).size == (1999, 32)


@pytest.mark.parametrize(("width", "height"), [(100_000, 100_000), (10_000, 10_000),
                                               (2**31 - 1, 1)])
def test_decompression_bomb_png_is_refused_before_decoding(width: int, height: int) -> None:
    data = handmade_png(width, height)
    started = time.perf_counter()
    with pytest.raises(ApiError) as excinfo:
        load_image(data)
    assert time.perf_counter() - started < 0.5
    assert code_of(excinfo) == "FailedOperation.ImageResolutionExceed"


def test_handmade_png_is_a_real_png() -> None:
    assert load_image(handmade_png(40, 40)).getpixel((3, 3)) == (0, 0, 0)


def test_second_ihdr_cannot_smuggle_a_bomb() -> None:
    with pytest.raises(ApiError) as excinfo:
        load_image(handmade_png(40, 40, extra_ihdr=(100_000, 100_000)))
    assert code_of(excinfo) == "FailedOperation.ImageResolutionExceed"


def test_jpeg_header_claiming_65000_square_is_refused() -> None:
    data = bytearray(encode(Image.new("RGB", (40, 40)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", 65000, 65000)
    assert header_size(bytes(data), "JPEG") == (65000, 65000)
    with pytest.raises(ApiError) as excinfo:
        load_image(bytes(data))
    assert code_of(excinfo) == "FailedOperation.ImageResolutionExceed"


@pytest.mark.parametrize("top_down", [False, True])
def test_bmp_header_size_is_read(top_down: bool) -> None:
    data = bytearray(encode(Image.new("RGB", (40, 50)), "BMP"))
    assert header_size(bytes(data), "BMP") == (40, 50)
    height = (2**32 - 3000) if top_down else 3000
    data[18:26] = struct.pack("<II", 40, height)
    with pytest.raises(ApiError) as excinfo:
        load_image(bytes(data))
    assert code_of(excinfo) == "FailedOperation.ImageResolutionExceed"


@pytest.mark.parametrize("size", [(31, 100), (100, 31), (1, 1)])
def test_under_32_px_is_resolution_insufficient(size: tuple[int, int]) -> None:
    with pytest.raises(ApiError) as excinfo:
        load_image(encode(Image.new("RGB", size), "JPEG"))
    assert code_of(excinfo) == "FailedOperation.ImageResolutionInsufficient"


def test_exceed_wins_over_insufficient() -> None:
    with pytest.raises(ApiError) as excinfo:
        check_resolution((10, 2000))
    assert code_of(excinfo) == "FailedOperation.ImageResolutionExceed"


# --- corrupt data ---------------------------------------------------------------------------


def photo(size: tuple[int, int] = (120, 90)) -> Image.Image:
    """A gradient with seeded noise (so every byte of an encoding matters) and a red block."""
    noise = Image.frombytes("L", size, random.Random(7).randbytes(size[0] * size[1]))
    image = Image.merge("RGB", (Image.linear_gradient("L").resize(size), noise,
                                noise.point(lambda v: v // 2)))
    image.paste((200, 30, 30), (10, 10, 60, 50))
    return image


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "BMP"])
@pytest.mark.parametrize("keep", [0.2, 0.6, 0.9])
def test_truncated_file_is_decode_failed(fmt: str, keep: float) -> None:
    data = encode(photo(), fmt)
    with pytest.raises(ApiError) as excinfo:
        load_image(data[:int(len(data) * keep)])
    assert code_of(excinfo) == "FailedOperation.ImageDecodeFailed"


@pytest.mark.parametrize("magic", [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"BM"])
def test_magic_followed_by_garbage_is_decode_failed(magic: bytes) -> None:
    with pytest.raises(ApiError) as excinfo:
        load_image(magic + bytes(range(256)) * 4)
    assert code_of(excinfo) == "FailedOperation.ImageDecodeFailed"


def test_corrupt_png_pixels_are_decode_failed() -> None:
    data = bytearray(encode(photo(), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 10:idat + 60] = b"\x55" * 50
    with pytest.raises(ApiError) as excinfo:
        load_image(bytes(data))
    assert code_of(excinfo) == "FailedOperation.ImageDecodeFailed"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(0, 4000), flips=st.lists(st.tuples(st.integers(0, 4000),
                                                          st.integers(0, 255)), max_size=4),
       fmt=st.sampled_from(["JPEG", "PNG", "BMP"]))
def test_mangled_images_fail_only_with_documented_codes(
        cut: int, flips: list[tuple[int, int]], fmt: str) -> None:
    data = bytearray(encode(photo((48, 40)), fmt))
    for position, value in flips:
        data[position % len(data)] = value
    try:
        image = load_image(bytes(data[:len(data) - cut % len(data)]))
    except ApiError as error:
        assert error.code in ACTION_CODES
    else:
        assert image.mode == "RGB"


# --- normalisation --------------------------------------------------------------------------


def test_palette_with_byte_transparency_keeps_stored_colours() -> None:
    image = Image.new("P", (40, 40), 0)
    image.putpalette([10, 20, 30, 200, 100, 50])
    image.paste(1, (0, 0, 20, 40))
    image.info["transparency"] = bytes([0, 255])
    loaded = load_image(encode(image, "PNG"))
    assert loaded.mode == "RGB"
    assert loaded.getpixel((5, 5)) == (200, 100, 50)
    assert loaded.getpixel((30, 5)) == (10, 20, 30)


def test_palette_with_index_transparency() -> None:
    image = Image.new("P", (40, 40), 1)
    image.putpalette([10, 20, 30, 200, 100, 50])
    loaded = load_image(encode(image, "PNG", transparency=1))
    assert loaded.getpixel((5, 5)) == (200, 100, 50)


@pytest.mark.parametrize(("mode", "colour", "expected"), [
    ("RGBA", (250, 120, 10, 0), (250, 120, 10)),
    ("RGBA", (250, 120, 10, 128), (250, 120, 10)),
    ("LA", (77, 0), (77, 77, 77)),
    ("L", 77, (77, 77, 77)),
    ("1", 1, (255, 255, 255)),
    ("RGB", (1, 2, 3), (1, 2, 3)),
])
def test_png_modes_become_rgb(mode: str, colour: Any, expected: tuple[int, int, int]) -> None:
    loaded = load_image(encode(Image.new(mode, (40, 40), colour), "PNG"))
    assert loaded.mode == "RGB"
    assert loaded.getpixel((1, 1)) == expected


def test_16_bit_png_is_scaled_not_clipped() -> None:
    image = Image.new("I;16", (40, 40), 0x12FF)
    image.paste(0xFFFF, (0, 0, 10, 10))
    loaded = load_image(encode(image, "PNG"))
    assert loaded.getpixel((20, 20)) == (0x12, 0x12, 0x12)
    assert loaded.getpixel((1, 1)) == (255, 255, 255)


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I;16L", "I"])
def test_wide_grey_modes_shift_by_8(mode: str) -> None:
    assert to_rgb(Image.new(mode, (4, 4), 0xABCD)).getpixel((0, 0)) == (0xAB, 0xAB, 0xAB)


def test_to_rgb_leaves_its_input_alone() -> None:
    image = Image.new("P", (4, 4), 0)
    image.info["transparency"] = 0
    to_rgb(image)
    assert image.info["transparency"] == 0


def test_bmp_pixels_are_exact() -> None:
    source = photo()
    assert load_image(encode(source, "BMP")).tobytes() == source.tobytes()


@pytest.mark.parametrize("mode", ["L", "P", "1"])
def test_bmp_modes(mode: str) -> None:
    source = photo().convert(mode)
    assert load_image(encode(source, "BMP")).tobytes() == source.convert("RGB").tobytes()


def test_cmyk_jpeg_becomes_rgb() -> None:
    loaded = load_image(encode(Image.new("CMYK", (40, 40), (0, 255, 255, 0)), "JPEG",
                               quality=95))
    assert loaded.mode == "RGB"
    red, green, blue = loaded.getpixel((20, 20))  # type: ignore[misc]
    assert red > 230 and green < 25 and blue < 25


def test_ycbcr_is_converted() -> None:
    assert to_rgb(Image.new("YCbCr", (4, 4), (128, 128, 128))).mode == "RGB"


def test_exif_orientation_is_ignored() -> None:
    source = photo((120, 90))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when displayed
    loaded = load_image(encode(source, "JPEG", exif=exif.tobytes(), quality=95))
    assert loaded.size == (120, 90)


def test_jpeg_decodes_close_to_source() -> None:
    source = photo()
    loaded = load_image(encode(source, "JPEG", quality=95))
    assert loaded.size == source.size
    red, green, blue = loaded.getpixel((30, 30))  # type: ignore[misc]
    assert abs(red - 200) < 12 and green < 45 and blue < 45
