"""Golden outputs of the bundled images, through the official SDK: a change shows up here.

``tests/golden/golden.json`` pins, for each bundled image (fixtures/images/portrait.jpg,
portrait.png, two-people.jpg) and a few option sets: the ``ImageRects`` exactly, the sha256 of
the decoded ``PortraitImage`` pixels (PNG is lossless) and of its alpha channel, and the decoded
``MaskImage`` as a PNG beside it, compared per pixel within ``mask_tolerance`` because libjpeg
builds may decode a JPEG slightly differently.

For the ``.jpg`` inputs the cut-out's colours are the input as *this* Pillow's libjpeg decodes
it; if only ``portrait_sha256`` differs (shape, rectangles and mask unchanged), compare the
``environment`` recorded in golden.json with yours before suspecting the emulator.

To accept a deliberate change: ``.venv/bin/python scripts/make_golden.py``, then review
``git diff tests/golden/``.
"""

from __future__ import annotations

import base64
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from PIL import Image, ImageChops, features

from emulator.resources import fixture_path
from tests.helpers import bda, segment_request

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
SCRIPT = ROOT / "scripts" / "make_golden.py"
INDEX: dict[str, Any] = json.loads((GOLDEN / "golden.json").read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = INDEX["cases"]
TOLERANCE: int = INDEX["mask_tolerance"]
REGENERATE = ("If this change is deliberate, regenerate the golden files with "
              "`.venv/bin/python scripts/make_golden.py` and review `git diff tests/golden/` "
              "before committing.")


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_golden", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATOR = _generator()
_decode = GENERATOR.decode
_sha256 = GENERATOR.sha256


def _environment() -> dict[str, str | None]:
    return {"pillow": features.version("pil"), "libjpeg": features.version("jpg"),
            "libjpeg_turbo": features.version_feature("libjpeg_turbo"),
            "zlib": features.version("zlib")}


def test_golden_files_match_the_generator() -> None:
    """golden.json holds exactly the generator's cases, and every mask file it names."""
    generator = GENERATOR
    expected = [(generator.case_name(image, option_set), image,
                 list(generator.OPTION_SETS[option_set]))
                for image, option_set in generator.CASES]
    found = [(case["name"], case["image"], case["options"]) for case in CASES]
    assert found == expected, f"golden.json is older than scripts/make_golden.py. {REGENERATE}"
    assert {case["image"] for case in CASES} == {"portrait.jpg", "portrait.png", "two-people.jpg"}
    masks = {case["mask"] for case in CASES}
    assert masks == {path.name for path in GOLDEN.glob("*.mask.png")}, REGENERATE


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_golden_outputs(endpoint: str, case: dict[str, Any]) -> None:
    data = fixture_path(f"images/{case['image']}").read_bytes()
    resp = bda(endpoint).SegmentCustomizedPortraitPic(segment_request({
        "Image": base64.b64encode(data).decode("ascii"),
        "SegmentationOptions": dict.fromkeys(case["options"], True)}))
    portrait, mask = _decode(resp.PortraitImage), _decode(resp.MaskImage)
    size = tuple(case["size"])
    assert (portrait.mode, portrait.size) == ("RGBA", size), REGENERATE
    assert (mask.mode, mask.size) == ("L", size), REGENERATE

    rects = [{"X": r.X, "Y": r.Y, "Width": r.Width, "Height": r.Height, "Label": r.Label}
             for r in resp.ImageRects]
    assert rects == case["rects"], f"ImageRects of {case['name']} changed. {REGENERATE}"

    assert _sha256(portrait.getchannel("A")) == case["alpha_sha256"], (
        f"the cut-out's shape (PortraitImage alpha) of {case['name']} changed. {REGENERATE}")

    with Image.open(GOLDEN / case["mask"]) as stored:
        golden = stored.convert("L")
    assert golden.size == size, REGENERATE
    diff = ImageChops.difference(mask, golden)
    histogram = diff.histogram()
    worst = max(level for level, count in enumerate(histogram) if count)
    off = sum(histogram[TOLERANCE + 1:])
    assert worst <= TOLERANCE, (
        f"MaskImage of {case['name']} differs from tests/golden/{case['mask']} by up to {worst} "
        f"(tolerance {TOLERANCE}) on {off} pixels within {diff.getbbox()}. {REGENERATE}")

    assert _sha256(portrait) == case["portrait_sha256"], (
        f"the cut-out's colours (PortraitImage RGBA pixels) of {case['name']} changed while its "
        f"shape did not. If the input is a JPEG, check the decoder first: golden files made with "
        f"{INDEX['environment']}, this run uses {_environment()}. {REGENERATE}")
