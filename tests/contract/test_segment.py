"""SegmentCustomizedPortraitPic end to end, through the official Python SDK.

What a client can rely on: the outputs' formats (an RGBA PNG cut-out and a baseline greyscale
JPEG mask, both of the input's size, agreeing with each other), one rectangle per selected
option in the API's order, the inputs the docs allow (``Image`` as PNG/JPG/BMP, ``Url`` from
loopback or the URL map, ``Url`` winning over ``Image``), byte-identical outputs whatever the
signature method and encoding, and every image error code from the input that naturally
produces it, in the client's language.

Every ``Url`` here points at loopback (a small HTTP server this module starts), at the bundled
URL map, or at an address the emulator must refuse before connecting.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import random
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageDraw
from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
    TencentCloudSDKException,
)

from emulator.resources import fixture_path, schema_path
from emulator.serve.server import EmulatorServer
from emulator.settings import Settings
from tests.helpers import bda, common, segment_request

# The option names in the order of the official API description (tccli's api.json).
API_OPTIONS: tuple[str, ...] = tuple(
    member["name"] for member in json.loads(
        schema_path("source/api.json").read_text(encoding="utf-8")
    )["objects"]["SegmentationOptions"]["members"]
)
HEAD_PARTS = ("Hair", "LeftEyebrow", "RightEyebrow", "LeftEye", "RightEye", "Nose", "UpperLip",
              "LowerLip", "Tooth", "Mouth", "LeftEar", "RightEar", "Face")
DOCS_URL = "https://liudehua-9527.cos.ap-guangzhou.myqcloud.com/input.jpeg"
URL_MAX_BYTES = 3_932_160  # the default --url-max-bytes
BASE64_MAX_CHARS = 5 * 1024 * 1024  # "base64 ≤ 5 MB"
PORTRAIT_JPG = fixture_path("images/portrait.jpg").read_bytes()
PORTRAIT_PNG = fixture_path("images/portrait.png").read_bytes()
TWO_PEOPLE_JPG = fixture_path("images/two-people.jpg").read_bytes()
PNG_SIZE = (300, 400)
JPG_SIZE = (640, 457)
SOF_BASELINE = 0xC0


def options(*names: str) -> dict[str, bool]:
    return dict.fromkeys(names, True)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def encode(image: Image.Image, fmt: str, **kw: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **kw)
    return out.getvalue()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@cache
def portrait_rgb() -> Image.Image:
    return decode(PORTRAIT_PNG).convert("RGB")


@cache
def inputs() -> dict[str, bytes]:
    """The portrait in every supported encoding, made in memory."""
    rgb = portrait_rgb()
    rgba = rgb.copy()
    # A non-trivial alpha channel: the emulator drops alpha without compositing.
    rgba.putalpha(Image.linear_gradient("L").resize(rgb.size))
    palette = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    return {
        "jpeg": encode(rgb, "JPEG", quality=90),
        "png-rgb": encode(rgb, "PNG"),
        "png-rgba": encode(rgba, "PNG"),
        "png-palette": encode(palette, "PNG"),
        "bmp": encode(rgb, "BMP"),
    }


def padded_png(total: int) -> bytes:
    """The portrait PNG followed by zero bytes (ignored after IEND) to exactly ``total`` bytes."""
    return PORTRAIT_PNG + b"\0" * (total - len(PORTRAIT_PNG))


def uniform(size: tuple[int, int]) -> bytes:
    return encode(Image.new("RGB", size, (236, 232, 224)), "PNG")


def figures(size: tuple[int, int], boxes: list[tuple[int, int, int, int]]) -> bytes:
    """Dark rectangles (x, y, width, height) on a light background, as PNG."""
    image = Image.new("RGB", size, (240, 240, 240))
    draw = ImageDraw.Draw(image)
    for x, y, w, h in boxes:
        draw.rectangle((x, y, x + w - 1, y + h - 1), fill=(40, 40, 40))
    return encode(image, "PNG")


def claimed_png_size(width: int, height: int) -> bytes:
    """The portrait PNG with its IHDR rewritten (CRC fixed) to claim another size."""
    ihdr = bytearray(PORTRAIT_PNG[8:33])  # length, b"IHDR", 13 bytes of data, CRC
    ihdr[8:16] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    ihdr[21:25] = zlib.crc32(bytes(ihdr[4:21])).to_bytes(4, "big")
    return PORTRAIT_PNG[:8] + bytes(ihdr) + PORTRAIT_PNG[33:]


def people(count: int) -> bytes:
    """``count`` separate people-sized blobs (60 × 120 px, 40 px apart) in one row."""
    width = count * 100 + 40
    return figures((width, 200), [(40 + 100 * i, 40, 60, 120) for i in range(count)])


@cache
def tiny_portrait() -> bytes:
    """A 72 × 96 portrait: small enough for a GET query, big enough for a face."""
    return encode(portrait_rgb().resize((72, 96), Image.Resampling.LANCZOS), "PNG")


# ---- outputs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outputs:
    portrait: Image.Image
    mask: Image.Image
    rects: list[dict[str, Any]]
    portrait_b64: str
    mask_b64: str

    @property
    def alpha(self) -> Image.Image:
        return self.portrait.getchannel("A")

    @property
    def bright(self) -> Image.Image:
        """The mask thresholded at 128 (JPEG leaves a little ringing at the edges)."""
        return self.mask.point([255 if v >= 128 else 0 for v in range(256)])


def jpeg_frame_marker(data: bytes) -> int:
    """The SOFn marker of a JPEG: 0xC0 baseline, 0xC1 extended, 0xC2 progressive …"""
    pos = 2
    while pos + 4 <= len(data):
        assert data[pos] == 0xFF, f"bad JPEG marker at {pos}"
        marker = data[pos + 1]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return marker
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    raise AssertionError("no SOF marker in the mask JPEG")


def check_outputs(resp: Any, size: tuple[int, int]) -> Outputs:
    """Every documented property of a success reply; returns the decoded outputs."""
    assert isinstance(resp.RequestId, str) and len(resp.RequestId) == 36
    png = base64.b64decode(resp.PortraitImage, validate=True)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    portrait = decode(png)
    assert (portrait.format, portrait.mode, portrait.size) == ("PNG", "RGBA", size)

    jpeg = base64.b64decode(resp.MaskImage, validate=True)
    assert jpeg.startswith(b"\xff\xd8\xff")
    mask = decode(jpeg)
    assert (mask.format, mask.mode, mask.size) == ("JPEG", "L", size)
    assert "progressive" not in mask.info and "progression" not in mask.info
    assert jpeg_frame_marker(jpeg) == SOF_BASELINE

    rects = [{"X": r.X, "Y": r.Y, "Width": r.Width, "Height": r.Height, "Label": r.Label}
             for r in (resp.ImageRects or [])]
    width, height = size
    for rect in rects:
        assert all(type(rect[k]) is int for k in ("X", "Y", "Width", "Height")), rect
        assert rect["Label"] in API_OPTIONS, rect
        assert rect["X"] >= 0 and rect["Y"] >= 0 and rect["Width"] > 0 and rect["Height"] > 0
        assert rect["X"] + rect["Width"] <= width and rect["Y"] + rect["Height"] <= height, rect
    order = [API_OPTIONS.index(rect["Label"]) for rect in rects]
    assert order == sorted(set(order)), f"labels not unique in API order: {rects}"

    out = Outputs(portrait, mask, rects, resp.PortraitImage, resp.MaskImage)
    assert not any(out.alpha.histogram()[1:255]), "the cut-out's alpha is hard: 0 or 255"
    opaque = out.alpha.point([255 if v > 0 else 0 for v in range(256)])
    wrong = ImageChops.difference(out.bright, opaque).histogram()[255]
    assert wrong <= 0.01 * width * height, f"alpha and mask disagree on {wrong} pixels"
    return out


def box(rect: dict[str, Any]) -> tuple[int, int, int, int]:
    return rect["X"], rect["Y"], rect["X"] + rect["Width"], rect["Y"] + rect["Height"]


def near(a: tuple[int, ...] | None, b: tuple[int, ...] | None, tolerance: int = 1) -> bool:
    assert a is not None and b is not None
    return all(abs(p - q) <= tolerance for p, q in zip(a, b, strict=True))


def assert_cut_out(out: Outputs, source: Image.Image) -> None:
    """Opaque pixels keep the input's colour; transparent ones are zeroed."""
    expected = Image.composite(source.convert("RGB"), Image.new("RGB", source.size, 0), out.alpha)
    assert ImageChops.difference(out.portrait.convert("RGB"), expected).getbbox() is None


def segment(endpoint: str, params: dict[str, Any], **kw: Any) -> Any:
    return bda(endpoint, **kw).SegmentCustomizedPortraitPic(segment_request(params))


def sdk_error(call: Callable[[], Any]) -> TencentCloudSDKException:
    with pytest.raises(TencentCloudSDKException) as info:
        call()
    err = info.value
    request_id = err.get_request_id()
    assert isinstance(request_id, str) and len(request_id) == 36, err
    return err


def same_outputs(a: Any, b: Any) -> None:
    assert a.PortraitImage == b.PortraitImage
    assert a.MaskImage == b.MaskImage
    assert [vars(r) for r in a.ImageRects] == [vars(r) for r in b.ImageRects]


# ---- servers ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def uncached() -> Iterator[EmulatorServer]:
    """A second emulator without the reply cache, so equal outputs mean equal computations."""
    with EmulatorServer(Settings(port=0, cache_size=0, workers=2)) as srv:
        yield srv


class _FileServer(ThreadingHTTPServer):
    daemon_threads = True
    routes: dict[str, tuple[int, bytes, bool]]  # path → (status, body, send Content-Length)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """The emulator hangs up on bodies over its cap; that is expected, not an error."""


class _FileHandler(BaseHTTPRequestHandler):
    server: _FileServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        status, body, declared = self.server.routes.get(path, (404, b"not found", True))
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        if declared:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def files() -> Iterator[str]:
    """An HTTP/1.0 file server on 127.0.0.1; yields its base URL."""
    httpd = _FileServer(("127.0.0.1", 0), _FileHandler)
    httpd.routes = {
        "/portrait.png": (200, PORTRAIT_PNG, True),
        "/portrait.jpg": (200, PORTRAIT_JPG, True),
        "/portrait.gif": (200, encode(portrait_rgb(), "GIF"), True),
        "/page.html": (200, b"<!doctype html><title>Not found</title><p>Sorry.", True),
        "/empty.png": (200, b"", True),
        "/at-cap.png": (200, padded_png(URL_MAX_BYTES), True),
        "/over-cap.png": (200, padded_png(URL_MAX_BYTES + 1), True),
        "/over-cap-streamed.png": (200, padded_png(URL_MAX_BYTES + 1), False),
        "/missing.png": (404, b"<html>404</html>", True),
        "/broken.png": (500, b"oops", True),
    }
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), name="test-files",
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# ---- options ----------------------------------------------------------------------------


def test_api_description_lists_21_options() -> None:
    assert len(API_OPTIONS) == 21 and len(set(API_OPTIONS)) == 21
    assert API_OPTIONS[0] == "Background" and API_OPTIONS[-1] == "Belongings"


@pytest.mark.parametrize("option", API_OPTIONS)
def test_each_option_alone(endpoint: str, option: str) -> None:
    resp = segment(endpoint, {"Image": b64(PORTRAIT_PNG), "SegmentationOptions": options(option)})
    out = check_outputs(resp, PNG_SIZE)
    assert [rect["Label"] for rect in out.rects] == [option]
    # The rectangle is the bounding box of exactly the region the mask shows.
    assert near(box(out.rects[0]), out.bright.getbbox()), (out.rects, out.bright.getbbox())
    assert near(box(out.rects[0]), out.alpha.getbbox(), 0)
    assert_cut_out(out, portrait_rgb())


@pytest.mark.parametrize("names", [
    ("Head", "Body"),
    ("Background",),
    ("Hat", "Head", "LeftEye"),
    ("Belongings", "Necklace", "Earrings", "Headdress", "Hat"),
    API_OPTIONS,
    tuple(reversed(API_OPTIONS)),
], ids=["Head+Body", "Background", "Hat+Head+LeftEye", "accessories", "all-21", "all-21-reversed"])
def test_option_combinations(endpoint: str, names: tuple[str, ...]) -> None:
    resp = segment(endpoint, {"Image": b64(PORTRAIT_PNG), "SegmentationOptions": options(*names)})
    out = check_outputs(resp, PNG_SIZE)
    # One rectangle per option, in the API's order whatever the request's order.
    assert [rect["Label"] for rect in out.rects] == [n for n in API_OPTIONS if n in names]
    union = out.alpha.getbbox()
    assert union == (min(r["X"] for r in out.rects), min(r["Y"] for r in out.rects),
                     max(r["X"] + r["Width"] for r in out.rects),
                     max(r["Y"] + r["Height"] for r in out.rects))
    assert_cut_out(out, portrait_rgb())


def test_background_alone_is_the_whole_frame_minus_the_person(endpoint: str) -> None:
    resp = segment(endpoint, {"Image": b64(PORTRAIT_PNG),
                              "SegmentationOptions": options("Background")})
    out = check_outputs(resp, PNG_SIZE)
    assert out.rects == [{"X": 0, "Y": 0, "Width": 300, "Height": 400, "Label": "Background"}]
    assert out.alpha.getpixel((2, 2)) == 255  # a corner is background
    assert out.alpha.getpixel((150, 150)) == 0  # the middle of the face is not


def test_all_21_options_cover_every_pixel(endpoint: str) -> None:
    resp = segment(endpoint, {"Image": b64(PORTRAIT_PNG),
                              "SegmentationOptions": options(*API_OPTIONS)})
    out = check_outputs(resp, PNG_SIZE)
    assert out.alpha.getextrema() == (255, 255)
    assert out.bright.getextrema() == (255, 255)
    assert ImageChops.difference(out.portrait.convert("RGB"), portrait_rgb()).getbbox() is None


def _alpha(endpoint: str, names: tuple[str, ...], image: bytes = PORTRAIT_PNG) -> Image.Image:
    resp = segment(endpoint, {"Image": b64(image), "SegmentationOptions": options(*names)})
    return check_outputs(resp, decode(image).size).alpha


def test_exclusive_options_partition_the_image(endpoint: str) -> None:
    """Every option but Head is one exclusive label: the 20 regions tile the picture."""
    regions = [_alpha(endpoint, (name,)) for name in API_OPTIONS if name != "Head"]
    counts = [region.histogram()[255] for region in regions]
    assert all(counts), dict(zip([n for n in API_OPTIONS if n != "Head"], counts, strict=True))
    assert sum(counts) == PNG_SIZE[0] * PNG_SIZE[1]


def test_head_is_the_union_of_its_parts_without_accessories(endpoint: str) -> None:
    assert ImageChops.difference(_alpha(endpoint, ("Head",)),
                                 _alpha(endpoint, HEAD_PARTS)).getbbox() is None
    head = _alpha(endpoint, ("Head",))
    for accessory in ("Hat", "Headdress", "Earrings", "Necklace", "Belongings"):
        assert ImageChops.multiply(head, _alpha(endpoint, (accessory,))).getbbox() is None


def test_background_is_the_complement_of_everything_else(endpoint: str) -> None:
    background = _alpha(endpoint, ("Background",))
    person = _alpha(endpoint, tuple(n for n in API_OPTIONS if n != "Background"))
    assert ImageChops.invert(background) == person


def test_two_people_fill_the_head_rect_across_both(endpoint: str) -> None:
    resp = segment(endpoint, {"Image": b64(TWO_PEOPLE_JPG),
                              "SegmentationOptions": options("Head", "Face")})
    out = check_outputs(resp, (800, 500))
    assert [rect["Label"] for rect in out.rects] == ["Face", "Head"]
    assert out.rects[1]["Width"] > 400  # one rectangle across both people's heads


# ---- input encodings ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["jpeg", "png-rgb", "png-rgba", "png-palette", "bmp"])
def test_every_supported_encoding(endpoint: str, kind: str) -> None:
    data = inputs()[kind]
    resp = segment(endpoint, {"Image": b64(data),
                              "SegmentationOptions": options("Head", "Body", "Background")})
    out = check_outputs(resp, PNG_SIZE)
    assert [rect["Label"] for rect in out.rects] == ["Background", "Head", "Body"]
    assert_cut_out(out, decode(data))
    reference = check_outputs(segment(endpoint, {
        "Image": b64(PORTRAIT_PNG), "SegmentationOptions": options("Head", "Body", "Background")}),
        PNG_SIZE)
    for mine, theirs in zip(out.rects, reference.rects, strict=True):
        assert near(box(mine), box(theirs), 3), (mine, theirs)


def test_lossless_encodings_of_the_same_pixels_give_identical_outputs(endpoint: str) -> None:
    """PNG RGB, PNG RGBA (alpha dropped, not composited) and BMP decode to the same pixels."""
    replies = [segment(endpoint, {"Image": b64(inputs()[kind]),
                                  "SegmentationOptions": options("Head", "Necklace")})
               for kind in ("png-rgb", "png-rgba", "bmp")]
    for reply in replies[1:]:
        same_outputs(replies[0], reply)


@cache
def more_inputs() -> dict[str, bytes]:
    """Other encodings within PNG/JPEG/BMP that cameras and tools produce."""
    rgb = portrait_rgb()
    grey = rgb.convert("L")
    sixteen = grey.convert("I").point(lambda v: v * 257).convert("I;16")
    return {
        "png-grey": encode(grey, "PNG"),
        "png-grey-alpha": encode(rgb.convert("LA"), "PNG"),
        "png-grey-16bit": encode(sixteen, "PNG"),
        "bmp-grey": encode(grey, "BMP"),
        "png-1bit": encode(rgb.convert("1"), "PNG"),
        "png-palette-trns": encode(rgb.convert("P"), "PNG", transparency=0),
        "bmp-32bit": encode(rgb.convert("RGBA"), "BMP"),
        "jpeg-progressive": encode(rgb, "JPEG", quality=90, progressive=True),
        "jpeg-grey": encode(grey, "JPEG", quality=90),
        "jpeg-cmyk": encode(rgb.convert("CMYK"), "JPEG", quality=90),
    }


@pytest.mark.parametrize("kind", ["png-grey", "png-grey-alpha", "png-grey-16bit", "bmp-grey",
                                  "png-1bit", "png-palette-trns", "bmp-32bit",
                                  "jpeg-progressive", "jpeg-grey", "jpeg-cmyk"])
def test_other_encodings_are_accepted(endpoint: str, kind: str) -> None:
    data = more_inputs()[kind]
    resp = segment(endpoint, {"Image": b64(data), "SegmentationOptions": options("Head")})
    out = check_outputs(resp, PNG_SIZE)
    assert [rect["Label"] for rect in out.rects] == ["Head"]


def test_grey_encodings_of_the_same_pixels_give_identical_outputs(endpoint: str) -> None:
    """8-bit grey PNG, grey+alpha PNG, 16-bit grey PNG (scaled by >> 8) and grey BMP."""
    replies = [segment(endpoint, {"Image": b64(more_inputs()[kind]),
                                  "SegmentationOptions": options("Head", "Body")})
               for kind in ("png-grey", "png-grey-alpha", "png-grey-16bit", "bmp-grey")]
    for reply in replies[1:]:
        same_outputs(replies[0], reply)


def test_exif_orientation_is_ignored(endpoint: str) -> None:
    """Pixels are used as stored: the outputs keep the stored size, not the displayed one."""
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    data = encode(portrait_rgb(), "JPEG", quality=90, exif=exif)
    resp = segment(endpoint, {"Image": b64(data), "SegmentationOptions": options("Head")})
    same_outputs(resp, segment(endpoint, {"Image": b64(encode(portrait_rgb(), "JPEG", quality=90)),
                                          "SegmentationOptions": options("Head")}))
    check_outputs(resp, PNG_SIZE)


def test_base64_without_padding_is_accepted(endpoint: str) -> None:
    data = PORTRAIT_PNG[:-1] if len(PORTRAIT_PNG) % 3 == 0 else PORTRAIT_PNG
    text = b64(data)
    assert text.endswith("=")
    resp = segment(endpoint, {"Image": text.rstrip("="), "SegmentationOptions": options("Head")})
    same_outputs(resp, segment(endpoint, {"Image": text, "SegmentationOptions": options("Head")}))


# ---- Url --------------------------------------------------------------------------------


def test_url_from_a_loopback_server_equals_the_same_bytes_as_base64(endpoint: str,
                                                                     files: str) -> None:
    by_url = segment(endpoint, {"Url": files + "/portrait.png",
                                "SegmentationOptions": options("Head", "Body")})
    by_image = segment(endpoint, {"Image": b64(PORTRAIT_PNG),
                                  "SegmentationOptions": options("Head", "Body")})
    check_outputs(by_url, PNG_SIZE)
    same_outputs(by_url, by_image)


@pytest.mark.parametrize("url", [
    DOCS_URL,
    "https://LIUDEHUA-9527.cos.ap-guangzhou.myqcloud.com:443/input.jpeg#top",
])
def test_docs_url_is_served_from_the_url_map(server: EmulatorServer, uncached: EmulatorServer,
                                             url: str) -> None:
    for srv in (server, uncached):
        by_url = segment(srv.endpoint, {"Url": url, "SegmentationOptions": options("Head")})
        by_image = segment(srv.endpoint, {"Image": b64(PORTRAIT_JPG),
                                          "SegmentationOptions": options("Head")})
        check_outputs(by_url, JPG_SIZE)
        same_outputs(by_url, by_image)


@pytest.mark.parametrize("form", [
    "http://localhost:{port}/portrait.png",
    "HTTP://127.0.0.1:{port}/portrait.png",
    "http://127.0.0.1:{port}/portrait.png?size=original#fragment",
])
def test_loopback_url_forms(endpoint: str, files: str, form: str) -> None:
    port = files.rsplit(":", 1)[1]
    url = form.format(port=port)
    resp = segment(endpoint, {"Url": url, "SegmentationOptions": options("Head")})
    same_outputs(resp, segment(endpoint, {"Image": b64(PORTRAIT_PNG),
                                          "SegmentationOptions": options("Head")}))


def test_docs_success_example(endpoint: str) -> None:
    """The official example request, and its reply's exact shape."""
    params = {"Url": DOCS_URL, "SegmentationOptions": {"Head": True}}
    out = check_outputs(segment(endpoint, params), JPG_SIZE)
    assert [rect["Label"] for rect in out.rects] == ["Head"]
    assert out.portrait_b64.startswith("iVBORw0KGgo") and out.mask_b64.startswith("/9j/")
    raw = common(endpoint).call_json("SegmentCustomizedPortraitPic", params)
    assert set(raw) == {"Response"}
    reply = raw["Response"]
    assert set(reply) == {"PortraitImage", "MaskImage", "ImageRects", "RequestId"}
    assert [set(rect) for rect in reply["ImageRects"]] == [{"X", "Y", "Width", "Height", "Label"}]
    assert reply["PortraitImage"] == out.portrait_b64 and reply["MaskImage"] == out.mask_b64


@pytest.mark.parametrize("image", ["!!! not an image !!!", b64(TWO_PEOPLE_JPG)],
                         ids=["garbage-image", "other-valid-image"])
def test_url_wins_over_image(endpoint: str, files: str, image: str) -> None:
    both = segment(endpoint, {"Url": files + "/portrait.png", "Image": image,
                              "SegmentationOptions": options("Head")})
    alone = segment(endpoint, {"Image": b64(PORTRAIT_PNG), "SegmentationOptions": options("Head")})
    check_outputs(both, PNG_SIZE)
    same_outputs(both, alone)


def test_a_bad_url_is_not_rescued_by_a_good_image(endpoint: str) -> None:
    err = sdk_error(lambda: segment(endpoint, {"Url": "ftp://x/y.jpg", "Image": b64(PORTRAIT_PNG),
                                               "SegmentationOptions": options("Head")}))
    assert err.get_code() == "InvalidParameterValue.UrlIllegal"


def test_an_empty_url_counts_as_absent(endpoint: str) -> None:
    resp = segment(endpoint, {"Url": "", "Image": b64(PORTRAIT_PNG),
                              "SegmentationOptions": options("Head")})
    check_outputs(resp, PNG_SIZE)


def test_url_body_of_exactly_the_cap_is_accepted(endpoint: str, files: str) -> None:
    resp = segment(endpoint, {"Url": files + "/at-cap.png", "SegmentationOptions": options("Hair")})
    check_outputs(resp, PNG_SIZE)


# ---- determinism across signatures and encodings ------------------------------------------


ENCODINGS = [("TC3-HMAC-SHA256", "POST"), ("TC3-HMAC-SHA256", "GET"), ("HmacSHA1", "POST"),
             ("HmacSHA256", "GET")]


@pytest.mark.parametrize("source", ["url", "tiny-image"])
@pytest.mark.parametrize("which", ["server", "uncached"])
def test_every_encoding_gives_byte_identical_outputs(request: pytest.FixtureRequest, files: str,
                                                      which: str, source: str) -> None:
    srv: EmulatorServer = request.getfixturevalue(which)
    wanted = options("Head", "Hair", "Body", "Background")
    params: dict[str, Any] = ({"Url": files + "/portrait.png"} if source == "url"
                              else {"Image": b64(tiny_portrait())})
    replies = [segment(srv.endpoint, {**params, "SegmentationOptions": wanted},
                       sign_method=sign, req_method=method) for sign, method in ENCODINGS]
    check_outputs(replies[0], PNG_SIZE if source == "url" else (72, 96))
    for reply in replies[1:]:
        same_outputs(replies[0], reply)


def test_concurrent_requests_give_the_same_outputs_as_sequential_ones(
        uncached: EmulatorServer) -> None:
    jobs = [(image, names) for image in (PORTRAIT_PNG, PORTRAIT_JPG, TWO_PEOPLE_JPG)
            for names in (("Head",), ("Body", "Hair"), ("Background", "Face"))]

    def run(job: tuple[bytes, tuple[str, ...]]) -> Any:
        image, names = job
        return segment(uncached.endpoint, {"Image": b64(image),
                                           "SegmentationOptions": options(*names)})

    sequential = [run(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        concurrent = list(pool.map(run, jobs))
    for one, other in zip(sequential, concurrent, strict=True):
        same_outputs(one, other)


# ---- image errors from natural inputs -----------------------------------------------------


def _random_bytes() -> str:
    data = random.Random(20200324).randbytes(4096)
    assert data[:2] not in (b"\x89P", b"\xff\xd8", b"BM", b"GI", b"RI", b"II", b"MM")
    return b64(data)


IMAGE_ERRORS: dict[str, tuple[Callable[[], str], str]] = {
    "base64-over-5MiB": (lambda: b64(padded_png(URL_MAX_BYTES + 3)),
                         "FailedOperation.ImageSizeExceed"),
    "invalid-base64": (lambda: "this is not base64!", "FailedOperation.ImageDecodeFailed"),
    "data-url-prefix": (lambda: "data:image/png;base64," + b64(PORTRAIT_PNG),
                        "FailedOperation.ImageDecodeFailed"),
    "mime-line-breaks": (lambda: base64.encodebytes(PORTRAIT_PNG).decode(),
                         "FailedOperation.ImageDecodeFailed"),
    "random-bytes": (_random_bytes, "FailedOperation.ImageDecodeFailed"),
    "truncated-png": (lambda: b64(PORTRAIT_PNG[:len(PORTRAIT_PNG) // 2]),
                      "FailedOperation.ImageDecodeFailed"),
    "gif": (lambda: b64(encode(portrait_rgb(), "GIF")), "FailedOperation.ImageNotSupported"),
    "webp": (lambda: b64(encode(portrait_rgb(), "WEBP")), "FailedOperation.ImageNotSupported"),
    "2000-wide": (lambda: b64(uniform((2000, 64))), "FailedOperation.ImageResolutionExceed"),
    "2000-high": (lambda: b64(uniform((64, 2000))), "FailedOperation.ImageResolutionExceed"),
    "20x20": (lambda: b64(uniform((20, 20))), "FailedOperation.ImageResolutionInsufficient"),
    "31-wide": (lambda: b64(uniform((31, 64))), "FailedOperation.ImageResolutionInsufficient"),
    "31-high": (lambda: b64(uniform((64, 31))), "FailedOperation.ImageResolutionInsufficient"),
    # Sizes just inside the limits pass the resolution check and reach subject detection.
    "1999-wide-uniform": (lambda: b64(uniform((1999, 64))), "InvalidParameterValue.NoFaceInPhoto"),
    "32x32-uniform": (lambda: b64(uniform((32, 32))), "InvalidParameterValue.NoFaceInPhoto"),
    "uniform": (lambda: b64(uniform((400, 300))), "InvalidParameterValue.NoFaceInPhoto"),
    "tiny-subject": (lambda: b64(figures((64, 64), [(22, 17, 20, 30)])),
                     "FailedOperation.ImageFacedetectFailed"),
    "subject-31x48": (lambda: b64(figures((80, 80), [(20, 16, 31, 48)])),
                      "FailedOperation.ImageFacedetectFailed"),
    "subject-32x47": (lambda: b64(figures((80, 80), [(20, 16, 32, 47)])),
                      "FailedOperation.ImageFacedetectFailed"),
    "six-people": (lambda: b64(people(6)), "FailedOperation.ProfileNumExceed"),
    "2000-wide-jpeg": (lambda: b64(encode(Image.new("RGB", (2000, 40)), "JPEG")),
                       "FailedOperation.ImageResolutionExceed"),
    "2000-high-bmp": (lambda: b64(encode(Image.new("RGB", (40, 2000)), "BMP")),
                      "FailedOperation.ImageResolutionExceed"),
    "20x20-jpeg": (lambda: b64(encode(Image.new("RGB", (20, 20)), "JPEG")),
                   "FailedOperation.ImageResolutionInsufficient"),
    "20x20-bmp": (lambda: b64(encode(Image.new("RGB", (20, 20)), "BMP")),
                  "FailedOperation.ImageResolutionInsufficient"),
    "png-header-claims-100000x100000": (lambda: b64(claimed_png_size(100_000, 100_000)),
                                        "FailedOperation.ImageResolutionExceed"),
}


@pytest.mark.parametrize("case", list(IMAGE_ERRORS))
def test_image_errors(endpoint: str, case: str) -> None:
    make, code = IMAGE_ERRORS[case]
    image = make()
    assert len(image) + 200 < 10 * 1024 * 1024  # under the v3 body limit
    err = sdk_error(lambda: segment(endpoint, {"Image": image,
                                               "SegmentationOptions": options("Head")}))
    assert err.get_code() == code, err


def test_base64_of_exactly_5_mib_is_accepted(endpoint: str) -> None:
    image = b64(padded_png(URL_MAX_BYTES))
    assert len(image) == BASE64_MAX_CHARS
    check_outputs(segment(endpoint, {"Image": image, "SegmentationOptions": options("Nose")}),
                  PNG_SIZE)


@pytest.mark.parametrize(("size", "subject"), [
    ((80, 80), (20, 16, 32, 48)),
    ((1999, 120), (900, 20, 60, 90)),
    ((120, 1999), (30, 900, 60, 90)),
], ids=["face-minimum-32x48", "1999-wide", "1999-high"])
def test_limits_just_inside_are_accepted(endpoint: str, size: tuple[int, int],
                                         subject: tuple[int, int, int, int]) -> None:
    resp = segment(endpoint, {"Image": b64(figures(size, [subject])),
                              "SegmentationOptions": options("Body")})
    out = check_outputs(resp, size)
    x, y, w, h = subject
    bbox = out.alpha.getbbox()
    assert bbox is not None
    slack = -(-max(size) // 96) + 1  # detection runs on a copy whose longest side is 96 px
    left, top, right, bottom = bbox
    assert x - slack <= left and right <= x + w + slack, (bbox, subject)
    assert y - slack <= top and bottom <= y + h + slack, (bbox, subject)


def test_five_people_are_accepted(endpoint: str) -> None:
    resp = segment(endpoint, {"Image": b64(people(5)), "SegmentationOptions": options("Head")})
    out = check_outputs(resp, (540, 200))
    head = out.rects[0]
    assert head["X"] < 100 and head["X"] + head["Width"] > 440  # from the first to the fifth


def test_objects_too_small_for_a_face_do_not_count_as_people(endpoint: str) -> None:
    """Five people and three flat objects (above the noise floor, too low for a face)."""
    bars = [(40, 200, 120, 20), (240, 200, 120, 20), (400, 200, 120, 20)]
    image = figures((540, 260), [(40 + 100 * i, 40, 60, 120) for i in range(5)] + bars)
    resp = segment(endpoint, {"Image": b64(image), "SegmentationOptions": options("Body")})
    out = check_outputs(resp, (540, 260))
    assert out.rects[0]["Y"] + out.rects[0]["Height"] < 190  # the bars are not bodies


def test_the_largest_object_must_be_able_to_hold_a_face(endpoint: str) -> None:
    """A person beside a larger flat object (a table top): the biggest thing is not a face."""
    image = figures((400, 300), [(170, 40, 60, 120), (20, 240, 360, 24)])
    err = sdk_error(lambda: segment(endpoint, {"Image": b64(image),
                                               "SegmentationOptions": options("Head")}))
    assert err.get_code() == "FailedOperation.ImageFacedetectFailed"


# ---- Url errors ---------------------------------------------------------------------------


URL_ERRORS: dict[str, tuple[Callable[[str], str], str]] = {
    "ftp": (lambda base: "ftp://x/y.jpg", "InvalidParameterValue.UrlIllegal"),
    "not-a-url": (lambda base: "not a url", "InvalidParameterValue.UrlIllegal"),
    "closed-port": (lambda base: f"http://127.0.0.1:{closed_port()}/portrait.png",
                    "FailedOperation.ImageDownloadError"),
    "404": (lambda base: base + "/missing.png", "FailedOperation.ImageDownloadError"),
    "500": (lambda base: base + "/broken.png", "FailedOperation.ImageDownloadError"),
    "empty-body": (lambda base: base + "/empty.png", "FailedOperation.ImageDownloadError"),
    "non-loopback-host": (lambda base: "http://192.0.2.1/x.jpg",
                          "FailedOperation.ImageDownloadError"),
    "over-cap-declared": (lambda base: base + "/over-cap.png", "LimitExceeded.TooLargeFileError"),
    "over-cap-streamed": (lambda base: base + "/over-cap-streamed.png",
                          "LimitExceeded.TooLargeFileError"),
    # an answer that is no image at all reads like any failed download (no port-scan oracle)
    "html-page": (lambda base: base + "/page.html", "FailedOperation.ImageDownloadError"),
    "gif": (lambda base: base + "/portrait.gif", "FailedOperation.ImageNotSupported"),
}


@pytest.mark.parametrize("case", list(URL_ERRORS))
def test_url_errors(endpoint: str, files: str, case: str) -> None:
    make, code = URL_ERRORS[case]
    url = make(files)
    err = sdk_error(lambda: segment(endpoint, {"Url": url,
                                               "SegmentationOptions": options("Head")}))
    assert err.get_code() == code, err


def test_url_to_the_emulator_itself_is_not_an_image(server: EmulatorServer) -> None:
    err = sdk_error(lambda: segment(server.endpoint, {
        "Url": server.url + "/_emulator/health", "SegmentationOptions": options("Head")}))
    assert err.get_code() == "FailedOperation.ImageDownloadError"


def test_non_loopback_host_is_refused_before_connecting(endpoint: str) -> None:
    started = time.monotonic()
    err = sdk_error(lambda: segment(endpoint, {"Url": "http://192.0.2.1/x.jpg",
                                               "SegmentationOptions": options("Head")}))
    elapsed = time.monotonic() - started
    assert err.get_code() == "FailedOperation.ImageDownloadError"
    assert err.get_message() == "Error downloading the image."  # the host only in the journal
    assert elapsed < 2.0, f"took {elapsed:.1f} s: a connection was attempted (timeout 3 s)"


# ---- language -----------------------------------------------------------------------------


LANGUAGE_CASES: dict[str, tuple[dict[str, str], str, str]] = {
    "decode": ({"Image": "this is not base64!"}, "图片解码失败", "Image decoding failed"),
    "format": ({"Image": b64(b"GIF89a" + b"\0" * 64)}, "不支持的图片文件",
               "Unsupported image file"),
    "no-face": ({"Image": b64(uniform((64, 64)))}, "图片中没有人脸", "There are no faces"),
    "url": ({"Url": "ftp://x/y.jpg"}, "URL格式不合法", "Invalid URL format"),
    "size": ({"Image": "A" * (BASE64_MAX_CHARS + 4)}, "base64编码后的图片数据过大",
             "Base64-encoded image data too large"),
}


@pytest.mark.parametrize("case", list(LANGUAGE_CASES))
@pytest.mark.parametrize("language", ["zh-CN", "en-US"])
def test_messages_follow_the_client_language(endpoint: str, language: str, case: str) -> None:
    params, chinese, english = LANGUAGE_CASES[case]
    err = sdk_error(lambda: segment(endpoint, {**params, "SegmentationOptions": options("Head")},
                                    language=language))
    message = err.get_message()
    assert message.startswith(chinese if language == "zh-CN" else english), message
    if language == "en-US":
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in message), message


@pytest.mark.parametrize("sign_method", ["HmacSHA256", "TC3-HMAC-SHA256"])
def test_zh_cn_download_error_through_each_signature(endpoint: str, files: str,
                                                     sign_method: str) -> None:
    err = sdk_error(lambda: segment(endpoint, {"Url": files + "/missing.png",
                                               "SegmentationOptions": options("Head")},
                                    language="zh-CN", sign_method=sign_method))
    assert err.get_code() == "FailedOperation.ImageDownloadError"
    assert "图片下载错误" in err.get_message()
