"""The geometric region rules: subject detection, the portrait template, option masks."""

from __future__ import annotations

import time

import pytest
from PIL import Image, ImageChops, ImageDraw

from emulator.errors import ApiError
from emulator.imaging.images import load_image
from emulator.imaging.regions import (
    HEAD_PARTS,
    OPTIONS,
    Box,
    find_subjects,
    label_map,
    option_mask,
    option_rects,
)
from emulator.resources import fixture_path

BACKGROUND = (228, 226, 220)
FIGURE = (60, 80, 150)

API_ORDER = (
    "Background", "Hair", "LeftEyebrow", "RightEyebrow", "LeftEye", "RightEye", "Nose",
    "UpperLip", "LowerLip", "Tooth", "Mouth", "LeftEar", "RightEar", "Face", "Head", "Body",
    "Hat", "Headdress", "Earrings", "Necklace", "Belongings",
)
EXCLUSIVE = tuple(name for name in OPTIONS if name not in ("Background", "Head"))


def canvas(size: tuple[int, int], *blobs: tuple[int, int, int, int]) -> Image.Image:
    """A plain background with solid rectangles (x0, y0, x1, y1) as figures."""
    image = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(image)
    for blob in blobs:
        draw.rectangle(blob, fill=FIGURE)
    return image


def same(a: Image.Image, b: Image.Image) -> bool:
    return ImageChops.difference(a, b).getbbox() is None


@pytest.fixture(scope="module")
def labels() -> Image.Image:
    return label_map((300, 400), [Box(50, 60, 200, 300)])


# --- subject detection ------------------------------------------------------------------------


def test_options_follow_the_api_order() -> None:
    assert OPTIONS == API_ORDER


def test_uniform_image_has_no_face() -> None:
    with pytest.raises(ApiError) as excinfo:
        find_subjects(Image.new("RGB", (400, 300), (30, 140, 90)))
    assert excinfo.value.code == "InvalidParameterValue.NoFaceInPhoto"


def test_specks_are_noise() -> None:
    with pytest.raises(ApiError) as excinfo:
        find_subjects(canvas((400, 400), (100, 100, 104, 104), (300, 50, 303, 52)))
    assert excinfo.value.code == "InvalidParameterValue.NoFaceInPhoto"


def test_subject_too_small_for_a_face() -> None:
    with pytest.raises(ApiError) as excinfo:
        find_subjects(canvas((300, 300), (100, 100, 159, 129)))  # 60 × 30
    assert excinfo.value.code == "FailedOperation.ImageFacedetectFailed"


def six_blobs(count: int) -> Image.Image:
    return canvas((1200, 400), *[(40 + 190 * i, 100, 140 + 190 * i, 260) for i in range(count)])


def test_six_people_exceed_the_default_five() -> None:
    with pytest.raises(ApiError) as excinfo:
        find_subjects(six_blobs(6))
    assert excinfo.value.code == "FailedOperation.ProfileNumExceed"


def test_five_people_and_a_raised_limit_are_fine() -> None:
    assert len(find_subjects(six_blobs(5))) == 5
    assert len(find_subjects(six_blobs(6), max_subjects=6)) == 6
    with pytest.raises(ApiError):
        find_subjects(six_blobs(2), max_subjects=1)


def test_small_extra_subjects_are_dropped_silently() -> None:
    boxes = find_subjects(canvas((600, 400), (100, 80, 299, 399), (450, 50, 489, 74)))
    assert len(boxes) == 1


def test_boxes_largest_first_inside_the_image() -> None:
    image = canvas((800, 500), (20, 100, 139, 299), (300, 40, 599, 499))
    boxes = find_subjects(image)
    assert len(boxes) == 2
    assert boxes[0].width * boxes[0].height > boxes[1].width * boxes[1].height
    for box in boxes:
        assert box.x >= 0 and box.y >= 0
        assert box.x + box.width <= 800 and box.y + box.height <= 500
    big = boxes[0]
    assert abs(big.x - 300) <= 10 and abs(big.y - 40) <= 10
    assert abs(big.width - 300) <= 20 and abs(big.height - 460) <= 20


def test_dark_background_works_too() -> None:
    image = Image.new("RGB", (300, 300), (10, 10, 10))
    ImageDraw.Draw(image).ellipse((80, 40, 220, 299), fill=(230, 190, 160))
    assert len(find_subjects(image)) == 1


def test_bundled_samples() -> None:
    portrait = load_image(fixture_path("images/portrait.jpg").read_bytes())
    assert len(find_subjects(portrait)) == 1
    assert len(find_subjects(load_image(fixture_path("images/portrait.png").read_bytes()))) == 1
    pair = load_image(fixture_path("images/two-people.jpg").read_bytes())
    assert len(find_subjects(pair)) == 2


def test_detection_is_cheap_on_the_largest_image() -> None:
    image = canvas((1999, 1000), (700, 150, 1299, 999))
    find_subjects(image)
    started = time.perf_counter()
    for _ in range(5):
        find_subjects(image)
    assert (time.perf_counter() - started) / 5 < 0.1  # a few ms in practice; generous for CI


# --- the template -----------------------------------------------------------------------------


def test_label_map_values(labels: Image.Image) -> None:
    assert labels.mode == "L" and labels.size == (300, 400)
    colours = labels.getcolors()
    assert colours is not None
    present = {value for _, value in colours}
    assert present == {OPTIONS.index(name) for name in (*EXCLUSIVE, "Background")}


@pytest.mark.parametrize("box", [Box(50, 60, 200, 300), Box(0, 0, 300, 400),
                                 Box(10, 20, 120, 180), Box(100, 0, 80, 120)])
@pytest.mark.parametrize("name", OPTIONS)
def test_every_option_alone_is_a_region(box: Box, name: str) -> None:
    labels = label_map((300, 400), [box])
    mask = option_mask(labels, [name])
    assert mask.mode == "L" and mask.size == labels.size
    assert mask.getbbox() is not None
    (rect,) = option_rects(labels, [name])
    assert rect["Label"] == name
    x, y, width, height = (int(rect[key]) for key in ("X", "Y", "Width", "Height"))
    assert x >= 0 and y >= 0 and width > 0 and height > 0
    assert x + width <= 300 and y + height <= 400
    if name != "Background":
        assert box.x <= x and x + width <= box.x + box.width
        assert box.y <= y and y + height <= box.y + box.height


def test_masks_are_binary(labels: Image.Image) -> None:
    colours = option_mask(labels, ["Face", "Hat"]).getcolors()
    assert colours is not None and {value for _, value in colours} == {0, 255}


def test_head_is_the_union_of_its_parts_without_accessories(labels: Image.Image) -> None:
    head = option_mask(labels, ["Head"])
    union = Image.new("L", labels.size, 0)
    for part in HEAD_PARTS:
        union = ImageChops.lighter(union, option_mask(labels, [part]))
    assert same(head, union)
    assert same(option_mask(labels, HEAD_PARTS), head)
    for accessory in ("Hat", "Headdress", "Earrings", "Necklace", "Body"):
        overlap = ImageChops.multiply(head, option_mask(labels, [accessory]))
        assert overlap.getbbox() is None, accessory


def test_background_is_the_complement_of_the_person(labels: Image.Image) -> None:
    person = option_mask(labels, EXCLUSIVE)
    assert same(option_mask(labels, ["Background"]), ImageChops.invert(person))
    everything = option_mask(labels, OPTIONS)
    assert everything.getextrema() == (255, 255)


def test_exclusive_labels_do_not_overlap(labels: Image.Image) -> None:
    total = sum(option_mask(labels, [name]).histogram()[255] for name in EXCLUSIVE)
    assert total == option_mask(labels, EXCLUSIVE).histogram()[255]


@pytest.mark.parametrize("side", ["Eye", "Eyebrow", "Ear"])
def test_left_is_the_persons_left_on_the_image_right(labels: Image.Image, side: str) -> None:
    left, right = option_rects(labels, [f"Right{side}", f"Left{side}"])  # OPTIONS order
    assert left["Label"] == f"Left{side}"
    assert int(left["X"]) > int(right["X"]) + int(right["Width"])


def test_parts_stack_sensibly(labels: Image.Image) -> None:
    def rect(name: str) -> dict[str, int | str]:
        return option_rects(labels, [name])[0]

    def centre_y(name: str) -> float:
        r = rect(name)
        return int(r["Y"]) + int(r["Height"]) / 2

    assert centre_y("Hat") < centre_y("Hair") < centre_y("LeftEye") < centre_y("Nose")
    assert centre_y("Nose") < centre_y("UpperLip") < centre_y("LowerLip") < centre_y("Necklace")
    assert centre_y("Necklace") < centre_y("Body")
    tooth, mouth = rect("Tooth"), rect("Mouth")
    assert int(mouth["X"]) <= int(tooth["X"]) and int(mouth["Y"]) <= int(tooth["Y"])


def test_rects_follow_options_order_and_skip_empty_regions(labels: Image.Image) -> None:
    rects = option_rects(labels, ["Body", "Hair", "Background", "Hair"])
    assert [r["Label"] for r in rects] == ["Background", "Hair", "Body"]
    assert set(rects[0]) == {"X", "Y", "Width", "Height", "Label"}
    empty = label_map((300, 400), [])
    assert [r["Label"] for r in option_rects(empty, ["Head", "Background"])] == ["Background"]
    assert option_rects(labels, []) == []


def test_unknown_option_is_a_programming_error(labels: Image.Image) -> None:
    with pytest.raises(ValueError, match="Ears"):
        option_mask(labels, ["Ears"])
    with pytest.raises(ValueError, match="Ears"):
        option_rects(labels, ["Ears"])


def test_painting_order_does_not_depend_on_input_order() -> None:
    boxes = [Box(0, 0, 200, 300), Box(120, 40, 150, 220), Box(20, 200, 100, 150)]
    assert same(label_map((320, 360), boxes), label_map((320, 360), boxes[::-1]))


def test_largest_subject_lies_on_top() -> None:
    big, small = Box(0, 0, 200, 300), Box(60, 240, 60, 90)
    labels = label_map((200, 300), [big, small])
    alone = label_map((200, 300), [big])
    assert same(labels.crop((0, 0, 200, 300)), alone)
