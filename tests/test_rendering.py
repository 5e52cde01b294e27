"""The encoded outputs: RGBA cut-out PNG, greyscale mask JPEG, rectangles; determinism."""

from __future__ import annotations

import io
import pickle
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageDraw

from emulator.errors import ACTION_CODES, ApiError
from emulator.imaging.images import load_image
from emulator.imaging.regions import OPTIONS, find_subjects, label_map, option_mask, option_rects
from emulator.imaging.rendering import Segmentation, segment
from emulator.resources import fixture_path


@pytest.fixture(scope="module")
def portrait() -> bytes:
    return fixture_path("images/portrait.jpg").read_bytes()


@pytest.fixture(scope="module")
def head(portrait: bytes) -> Segmentation:
    return segment(portrait, ["Head"])


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_portrait_is_rgba_png_of_the_input_size(head: Segmentation) -> None:
    image = decode(head.portrait_png)
    assert image.format == "PNG" and image.mode == "RGBA" and image.size == (640, 457)


def test_mask_is_baseline_greyscale_jpeg_of_the_input_size(head: Segmentation) -> None:
    image = decode(head.mask_jpeg)
    assert image.format == "JPEG" and image.mode == "L" and image.size == (640, 457)
    assert b"\xff\xc0" in head.mask_jpeg and b"\xff\xc2" not in head.mask_jpeg


def test_alpha_agrees_with_mask_and_rgb_is_cut_out(portrait: bytes, head: Segmentation) -> None:
    cut = decode(head.portrait_png)
    alpha = cut.getchannel("A")
    assert set(alpha.getextrema()) == {0, 255}
    mask = decode(head.mask_jpeg)
    assert ImageChops.difference(alpha, mask).getextrema()[1] <= 8  # type: ignore[operator]  # JPEG q100
    expected = option_mask(label_map((640, 457), find_subjects(load_image(portrait))), ["Head"])
    assert ImageChops.difference(alpha, expected).getbbox() is None
    source = load_image(portrait)
    inside = Image.composite(source, Image.new("RGB", source.size, 0), alpha)
    assert ImageChops.difference(cut.convert("RGB"), inside).getbbox() is None


def test_rects_match_the_region_rules(portrait: bytes) -> None:
    result = segment(portrait, ["Hat", "Head", "LeftEye"])
    labels = label_map((640, 457), find_subjects(load_image(portrait)))
    assert result.rects == option_rects(labels, ["Hat", "Head", "LeftEye"])
    assert [rect["Label"] for rect in result.rects] == ["LeftEye", "Head", "Hat"]


def test_all_options_give_21_rects_and_an_almost_opaque_cut(portrait: bytes) -> None:
    result = segment(portrait, list(OPTIONS))
    assert [rect["Label"] for rect in result.rects] == list(OPTIONS)
    assert decode(result.portrait_png).getchannel("A").getextrema() == (255, 255)


def test_no_option_gives_a_fully_transparent_cut(portrait: bytes) -> None:
    result = segment(portrait, [])
    assert result.rects == []
    assert decode(result.portrait_png).getextrema() == ((0, 0),) * 4
    assert decode(result.mask_jpeg).getextrema()[1] <= 8  # type: ignore[operator]


def test_two_people_get_two_heads() -> None:
    data = fixture_path("images/two-people.jpg").read_bytes()
    result = segment(data, ["Face"])
    (rect,) = result.rects
    assert int(rect["Width"]) > 400  # one rectangle spans both faces


def test_outputs_are_byte_deterministic(portrait: bytes) -> None:
    options = ["Hair", "Face", "Belongings"]
    first, second = segment(portrait, options), segment(portrait, options)
    assert first == second


def test_segment_is_picklable_for_process_pools(head: Segmentation) -> None:
    assert pickle.loads(pickle.dumps(segment)) is segment
    assert pickle.loads(pickle.dumps(head)) == head


def test_errors_come_through_as_api_errors() -> None:
    out = io.BytesIO()
    Image.new("RGB", (300, 300), (90, 90, 90)).save(out, "PNG")
    with pytest.raises(ApiError) as excinfo:
        segment(out.getvalue(), ["Head"])
    assert excinfo.value.code == "InvalidParameterValue.NoFaceInPhoto"


def test_max_subjects_is_passed_on() -> None:
    data = fixture_path("images/two-people.jpg").read_bytes()
    with pytest.raises(ApiError) as excinfo:
        segment(data, ["Head"], max_subjects=1)
    assert excinfo.value.code == "FailedOperation.ProfileNumExceed"


colours = st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))
rectangles = st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1),
                       colours)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=st.tuples(st.integers(20, 320), st.integers(20, 320)), background=colours,
       shapes=st.lists(rectangles, max_size=8), fmt=st.sampled_from(["PNG", "JPEG", "BMP"]),
       options=st.sets(st.sampled_from(OPTIONS), min_size=1))
def test_random_pictures_give_output_or_a_documented_error(
        size: tuple[int, int], background: tuple[int, int, int],
        shapes: list[tuple[Any, ...]], fmt: str, options: set[str]) -> None:
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    for u0, v0, u1, v1, colour in shapes:
        x0, x1 = sorted((round(u0 * (size[0] - 1)), round(u1 * (size[0] - 1))))
        y0, y1 = sorted((round(v0 * (size[1] - 1)), round(v1 * (size[1] - 1))))
        draw.rectangle((x0, y0, x1, y1), fill=colour)
    out = io.BytesIO()
    image.save(out, fmt)
    try:
        result = segment(out.getvalue(), sorted(options))
    except ApiError as error:
        assert error.code in ACTION_CODES
        return
    cut, mask = decode(result.portrait_png), decode(result.mask_jpeg)
    assert cut.mode == "RGBA" and mask.mode == "L"
    assert cut.size == mask.size == size
    for rect in result.rects:
        assert rect["Label"] in options
        x, y, width, height = (int(rect[key]) for key in ("X", "Y", "Width", "Height"))
        assert 0 <= x < x + width <= size[0] and 0 <= y < y + height <= size[1]
