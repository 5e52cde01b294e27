"""Decoding and checking one input image: base64, format, resolution, pixel mode.

The documented limits are "base64 ≤ 5 MB", "resolution < 2000×2000" and "PNG/JPG/JPEG/BMP, no
GIF". The emulator applies them in this order, each with its documented code:

1. base64 longer than ``MAX_BASE64_CHARS`` → ``FailedOperation.ImageSizeExceed``;
   not valid standard base64 → ``FailedOperation.ImageDecodeFailed``;
2. magic bytes of another image format → ``FailedOperation.ImageNotSupported``;
   not an image at all → ``FailedOperation.ImageDecodeFailed``;
3. width or height ≥ ``MAX_SIDE`` → ``FailedOperation.ImageResolutionExceed``, read from the
   header by our own parser *before* Pillow sees the data, so a crafted header that claims
   100000×100000 costs nothing and Pillow's decompression-bomb check never fires;
4. width or height < ``MIN_SIDE`` → ``FailedOperation.ImageResolutionInsufficient``
   (an emulator choice: the real minimum is undocumented);
5. a JPEG that would cost far more to decode than its bytes say (a progressive scan bomb,
   megabytes of header junk) → ``FailedOperation.ImageDecodeFailed``, counted by the same
   marker walk, before decoding (:func:`check_decode_cost`);
6. anything Pillow cannot decode (truncated, corrupt) → ``FailedOperation.ImageDecodeFailed``.
"""

from __future__ import annotations

import binascii
import io
import re
import struct
from collections.abc import Iterator, Mapping

from PIL import Image

from emulator.errors import ApiError
from emulator.text import clip

MIN_SIDE = 32
MAX_SIDE = 2000
MAX_BASE64_CHARS = 5 * 1024 * 1024
#: JPEG decode cost limits, checked before decoding: see :func:`check_decode_cost`.
MAX_SCANS = 256
#: Σ (components × width × height) over the scans. One scan of one component at 1999x1999
#: costs libjpeg-turbo up to ~3 ms (an empty AC refinement), so this budget, 150 scans of
#: one component at the largest size, keeps the worst accepted JPEG near 0.5 s of decoding.
MAX_SCAN_PIXELS = 150 * MAX_SIDE * MAX_SIDE
MAX_HEADER_GAP = 64 * 1024
MAX_SEGMENTS = 2048

SUPPORTED = ("PNG", "JPEG", "BMP")


# Recognisable image formats the service refuses (checked after the three supported ones).
_UNSUPPORTED_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "BigTIFF"),
    (b"MM\x00+", "BigTIFF"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"\x00\x00\x02\x00", "CUR"),
    (b"8BPS", "PSD"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
    (b"\xff\x0a", "JPEG XL"),
    (b"qoif", "QOI"),
    (b"DDS ", "DDS"),
    (b"icns", "ICNS"),
    (b"v/1\x01", "OpenEXR"),
)
_ISO_BMFF_BRANDS: Mapping[bytes, str] = {
    b"heic": "HEIC", b"heix": "HEIC", b"mif1": "HEIF", b"msf1": "HEIF", b"avif": "AVIF",
    b"avis": "AVIF"}
# PNG/JPEG/BMP leave Pillow's ImageFile in these formats (a multi-picture JPEG opens as MPO).
_PILLOW_FORMATS: Mapping[str, frozenset[str]] = {
    "PNG": frozenset({"PNG"}), "JPEG": frozenset({"JPEG", "MPO"}), "BMP": frozenset({"BMP"})}
# A JPEG marker that opens a segment with a length, or EOI (0xFFD9). Not markers: 0xFF00
# (a stuffed 0xFF in entropy-coded data), 0xFF01 (TEM), 0xFFD0-D7 (RSTn), SOI and 0xFF fill.
_JPEG_MARKER = re.compile(rb"\xff[\x02-\xcf\xd9-\xfe]")
# JPEG start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) do not.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_BMP_HEADER_SIZES = (12, 40, 52, 56, 64, 108, 124)


def decode_base64(text: str) -> bytes:
    """Decode the ``Image`` parameter: standard alphabet, missing ``=`` padding tolerated.

    Whitespace and the url-safe alphabet are refused: an emulator choice (the real decoder's
    leniency is undocumented) that keeps clients honest about what their SDK sends. An empty
    string decodes to no bytes, which :func:`sniff_format` then refuses.
    """
    if len(text) > MAX_BASE64_CHARS:
        raise ApiError("FailedOperation.ImageSizeExceed",
                       explain=f"Image: {len(text)} base64 chars, over the {MAX_BASE64_CHARS} "
                               "allowed (5 MB)")
    size = len(text)
    padding = 2 if text.endswith("==") else 1 if text.endswith("=") else 0
    body = size - padding
    if body % 4 == 1 or padding > (-body) % 4:
        raise ApiError("FailedOperation.ImageDecodeFailed", reason="invalid base64 data",
                       explain=_base64_problem(text) or f"Image: {body} base64 chars and "
                       f"{padding} `=`: no base64 text has that length (a truncated string?)")
    missing = (-size) % 4
    try:  # one pass in C; strict mode refuses anything outside the standard alphabet
        return binascii.a2b_base64(text + "=" * missing if missing else text, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError("FailedOperation.ImageDecodeFailed", reason="invalid base64 data",
                       explain=_base64_problem(text) or f"Image: not strict base64 ({exc})"
                       ) from exc


_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=]|=+[^=]")


def _base64_problem(text: str) -> str | None:
    """Where ``text`` stops being standard base64, said without quoting the client's data
    beyond one character."""
    if text.startswith("data:"):
        return "Image: starts with a `data:` URI prefix; send the base64 text only"
    found = _NOT_BASE64.search(text)
    if found is None:
        return None
    at, char = found.start(), found.group()[0]
    if char == "=":
        return f"Image: `=` padding at offset {at}, before the end of the {len(text)} chars"
    if char in "-_":
        return (f"Image: `{char}` at offset {at}: the url-safe base64 alphabet; the emulator "
                "accepts the standard one only (`+` and `/`)")
    if char.isspace():
        return (f"Image: whitespace ({char!r}) at offset {at}: the emulator refuses line "
                "breaks and spaces in base64 (MIME-style wrapping?)")
    return f"Image: {char!r} at offset {at} is not a base64 character"


def sniff_format(data: bytes) -> str:
    """``"PNG"``, ``"JPEG"`` or ``"BMP"`` from the magic bytes; other formats are refused."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"BM"):
        return "BMP"
    name = _unsupported_name(data)
    if name is not None:
        raise ApiError("FailedOperation.ImageNotSupported", reason=f"{name} is not supported",
                       explain=f"{name} image ({len(data)} bytes): the service takes PNG, JPEG "
                               "and BMP only")
    raise ApiError("FailedOperation.ImageDecodeFailed", reason="not a PNG, JPEG or BMP image",
                   explain="the image is empty (0 bytes)" if not data else
                   f"the {len(data)} bytes start with {data[:8].hex(' ')}: not the magic bytes "
                   "of PNG (89 50 4e 47), JPEG (ff d8 ff) or BMP (42 4d)")


def _unsupported_name(data: bytes) -> str | None:
    for magic, name in _UNSUPPORTED_MAGIC:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[4:8] == b"ftyp" and data[8:12] in _ISO_BMFF_BRANDS:
        return _ISO_BMFF_BRANDS[data[8:12]]
    if re.match(rb"P[1-7]\s", data[:3]):
        return "Netpbm"
    return None


def header_size(data: bytes, fmt: str) -> tuple[int, int]:
    """The (width, height) the header declares, without decoding any pixel.

    Conservative where a file declares several sizes (repeated IHDR or SOF segments): the
    largest width and height win, so Pillow can never see a bigger image than we checked.
    """
    try:
        if fmt == "PNG":
            return _png_size(data)
        if fmt == "JPEG":
            return _jpeg_size(data)
        return _bmp_size(data)
    except struct.error as exc:
        raise ApiError("FailedOperation.ImageDecodeFailed", reason="truncated header") from exc


def _png_size(data: bytes) -> tuple[int, int]:
    sizes: list[tuple[int, int]] = []
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        if kind == b"IHDR":
            sizes.append(struct.unpack_from(">II", data, pos + 8))
        elif kind == b"IDAT":
            break
        pos += 12 + length
    return _largest(sizes)


def _jpeg_segments(data: bytes) -> Iterator[tuple[int, int]]:
    """(marker, offset) of EOI and of every marker segment, in file order.

    Mirrors libjpeg's and Pillow's marker search: junk, 0xFF fill, 0xFF00 stuffing, TEM and RSTn
    are not markers; segment bodies are skipped by their length. The search between markers
    (entropy-coded data, junk) runs in C, never byte by byte in Python, and more than
    ``MAX_SEGMENTS`` markers are refused, so a walk costs at most a few milliseconds.
    """
    pos = 2
    for _ in range(MAX_SEGMENTS):
        found = _JPEG_MARKER.search(data, pos)
        if found is None:
            return
        pos = found.start()
        marker = data[pos + 1]
        yield marker, pos
        if marker == 0xD9:
            pos += 2
        else:
            (length,) = struct.unpack_from(">H", data, pos + 2)
            pos += 2 + length
    if _JPEG_MARKER.search(data, pos) is not None:
        raise ApiError("FailedOperation.ImageDecodeFailed",
                       reason=f"more than {MAX_SEGMENTS} JPEG marker segments")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    sizes: list[tuple[int, int]] = []
    for marker, pos in _jpeg_segments(data):
        if marker == 0xDA:
            break
        if marker in _SOF_MARKERS:
            height, width = struct.unpack_from(">HH", data, pos + 5)
            sizes.append((width, height))
    return _largest(sizes)


def check_decode_cost(data: bytes, fmt: str, size: tuple[int, int]) -> None:
    """Refuse a JPEG whose decoding would cost far more than its size says, before decoding.

    A progressive JPEG may hold any number of scans, and libjpeg walks every block of the
    scan's components (and every coefficient of its band) once per scan, however few bytes
    the scan has: a 14-byte scan costs ~3 ms at 1999x1999, so 160 KB of tiny scans cost 20 s
    of CPU that no thread can interrupt. Refused with ``FailedOperation.ImageDecodeFailed``
    (emulator limits; the real ones are undocumented):

    * more than ``MAX_SCANS`` scans (NVIDIA nvImageCodec's default cap, after the cure53
      audit of libjpeg-turbo; libjpeg's standard progression has 10);
    * more than ``MAX_SCAN_PIXELS`` of Σ (components in the scan × width × height) over the
      scans, the measured cost model (see ``MAX_SCAN_PIXELS``);
    * more than ``MAX_HEADER_GAP`` bytes of junk or fill between the segments before the first
      scan, which Pillow's header parser reads one byte per Python call (1 s per 4 MB);
    * more than ``MAX_SEGMENTS`` marker segments (Pillow parses each header segment in Python).

    PNG and BMP decoding cost in proportion to bytes and pixels, both bounded already.
    """
    if fmt != "JPEG":
        return
    width, height = size
    scans = component_scans = gap = 0
    end = 2
    try:
        for marker, pos in _jpeg_segments(data):
            if marker == 0xD9:  # EOI: libjpeg and Pillow read no further
                break
            if not scans:
                gap += pos - end
                end = pos + 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
            if marker == 0xDA:
                scans += 1
                component_scans += data[pos + 4] if pos + 4 < len(data) else 1
                if scans > MAX_SCANS or component_scans * width * height > MAX_SCAN_PIXELS:
                    raise ApiError("FailedOperation.ImageDecodeFailed",
                                   reason=f"more than {scans - 1} scans at {width}x{height}: "
                                          "decoding would cost too much")
    except struct.error:  # a truncated last segment: libjpeg stops there too
        pass
    if gap > MAX_HEADER_GAP:
        raise ApiError("FailedOperation.ImageDecodeFailed",
                       reason=f"{gap} bytes of junk between the header segments")


def _bmp_size(data: bytes) -> tuple[int, int]:
    (dib_size,) = struct.unpack_from("<I", data, 14)
    if dib_size not in _BMP_HEADER_SIZES:
        raise ApiError("FailedOperation.ImageDecodeFailed", reason="unknown BMP header")
    if dib_size == 12:
        width, height = struct.unpack_from("<HH", data, 18)
        return width, height
    width, height = struct.unpack_from("<II", data, 18)
    if height >> 24 == 0xFF:  # top-down bitmap: negative height, read as Pillow does
        height = 2**32 - height
    return width, height


def _largest(sizes: list[tuple[int, int]]) -> tuple[int, int]:
    if not sizes:
        raise ApiError("FailedOperation.ImageDecodeFailed", reason="no image header found")
    return max(w for w, _ in sizes), max(h for _, h in sizes)


def check_resolution(size: tuple[int, int]) -> None:
    """Refuse sides of ``MAX_SIDE`` or more first, then sides under ``MIN_SIDE``."""
    width, height = size
    if width >= MAX_SIDE or height >= MAX_SIDE:
        raise ApiError("FailedOperation.ImageResolutionExceed",
                       reason=f"{width}x{height}, each side must be < {MAX_SIDE}")
    if width < MIN_SIDE or height < MIN_SIDE:
        raise ApiError("FailedOperation.ImageResolutionInsufficient",
                       reason=f"{width}x{height}, each side must be >= {MIN_SIDE}")


def load_image(data: bytes) -> Image.Image:
    """Decode ``data`` into a fully loaded 8-bit RGB image of the stored size.

    EXIF orientation is deliberately ignored: the pixels are used as stored and the outputs
    have the stored size, so a client can compare them with its own decode of the raw file.
    """
    fmt = sniff_format(data)
    size = header_size(data, fmt)
    check_resolution(size)
    check_decode_cost(data, fmt, size)
    try:
        image = Image.open(io.BytesIO(data), formats=[fmt])
        if image.format not in _PILLOW_FORMATS[fmt]:
            raise ApiError("FailedOperation.ImageDecodeFailed",
                           reason=f"content is {image.format}, not {fmt}")
        check_resolution(image.size)
        image.load()
        return to_rgb(image)
    except ApiError:
        raise
    except Image.DecompressionBombError as exc:  # pragma: no cover - header check comes first
        raise ApiError("FailedOperation.ImageResolutionExceed", reason=str(exc)) from exc
    except Exception as exc:  # Pillow raises many types on corrupt data; all mean "undecodable"
        raise ApiError("FailedOperation.ImageDecodeFailed",
                       reason=f"corrupt {fmt} data ({type(exc).__name__})",
                       explain=f"corrupt {fmt} data ({len(data)} bytes, {size[0]}x{size[1]} "
                               f"by its header): Pillow: {type(exc).__name__}: "
                               f"{clip(str(exc), 200)}") from exc


def to_rgb(image: Image.Image) -> Image.Image:
    """Normalise any decoded mode to 8-bit RGB.

    Alpha and palette transparency are dropped without compositing (the stored colours stay);
    16-bit and 32-bit grey levels are scaled by ``>> 8`` rather than clipped.
    """
    if image.mode == "RGB":
        return image
    if "transparency" in image.info:  # else Pillow warns on P→RGB with byte transparency
        image = image.copy()
        del image.info["transparency"]
    if image.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N"):
        wide = image if image.mode == "I" else image.convert("I")
        image = wide.point(lambda value: value * (1 / 256)).convert("L")
    return image.convert("RGB")
