"""Regenerate tests/golden/: the pinned outputs of the bundled images for a few option sets.

Run ``.venv/bin/python scripts/make_golden.py`` after a *deliberate* change to the region rules,
the decoders or the encoders, then review ``git diff tests/golden/`` (docs/regions.png shows the
regions) before committing. The output is deterministic: running it twice changes nothing.

Each case goes through a freshly started emulator (cache off) and the official Python SDK,
exactly like a client, and records in ``tests/golden/golden.json``:

* ``rects``: the ``ImageRects``, compared exactly;
* ``alpha_sha256`` / ``portrait_sha256``: sha256 of the decoded ``PortraitImage`` alpha channel
  and of all its RGBA pixels (PNG is lossless, so these are exact);
* ``mask``: a PNG beside it holding the decoded ``MaskImage`` pixels, compared with a per-pixel
  tolerance (``mask_tolerance``), since libjpeg builds may decode a JPEG slightly differently;
* ``environment``: the Pillow, libjpeg and zlib versions that made them, to tell a decoder
  difference from a behaviour change.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path
from typing import Any

from PIL import Image, features
from tencentcloud.bda.v20200324 import bda_client, models
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

from emulator.imaging.regions import OPTIONS
from emulator.resources import fixture_path
from emulator.serve.server import EmulatorServer
from emulator.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "golden"
INDEX = OUT / "golden.json"
MASK_TOLERANCE = 16  # of 255: libjpeg variance is a few levels; a region change is ~255

IMAGES = ("portrait.jpg", "portrait.png", "two-people.jpg")
OPTION_SETS: dict[str, tuple[str, ...]] = {
    "head": ("Head",),
    "background": ("Background",),
    "face-parts": ("LeftEye", "RightEye", "Nose", "UpperLip", "LowerLip", "Mouth", "Tooth"),
    "accessories": ("Body", "Hat", "Headdress", "Earrings", "Necklace", "Belongings"),
    "all": OPTIONS,
}
CASES: tuple[tuple[str, str], ...] = tuple(
    (image, option_set) for image in IMAGES for option_set in OPTION_SETS
)

SECRET_ID = "AKIDEMULATOR000000000000000000000000"
SECRET_KEY = "emulatorsecretkey000000000000000"


def case_name(image: str, option_set: str) -> str:
    return f"{image.replace('.', '-')}.{option_set}"


def client(endpoint: str) -> bda_client.BdaClient:
    http = HttpProfile(endpoint=endpoint, protocol="http", reqTimeout=30)
    cred = credential.Credential(SECRET_ID, SECRET_KEY)
    return bda_client.BdaClient(cred, "ap-guangzhou", ClientProfile(httpProfile=http))


def request(image: str, names: tuple[str, ...]) -> models.SegmentCustomizedPortraitPicRequest:
    data = fixture_path(f"images/{image}").read_bytes()
    req = models.SegmentCustomizedPortraitPicRequest()
    req.from_json_string(json.dumps({"Image": base64.b64encode(data).decode("ascii"),
                                     "SegmentationOptions": dict.fromkeys(names, True)}))
    return req


def decode(text: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(text, validate=True)))
    image.load()
    return image


def sha256(image: Image.Image) -> str:
    return hashlib.sha256(image.tobytes()).hexdigest()


def run_case(bda: bda_client.BdaClient, image: str, option_set: str) -> tuple[dict[str, Any],
                                                                            Image.Image]:
    resp = bda.SegmentCustomizedPortraitPic(request(image, OPTION_SETS[option_set]))
    portrait, mask = decode(resp.PortraitImage), decode(resp.MaskImage)
    name = case_name(image, option_set)
    entry = {
        "name": name,
        "image": image,
        "options": list(OPTION_SETS[option_set]),
        "size": list(portrait.size),
        "rects": [{"X": r.X, "Y": r.Y, "Width": r.Width, "Height": r.Height, "Label": r.Label}
                  for r in resp.ImageRects],
        "alpha_sha256": sha256(portrait.getchannel("A")),
        "portrait_sha256": sha256(portrait),
        "mask": f"{name}.mask.png",
    }
    return entry, mask


def dump(index: dict[str, Any]) -> str:
    """JSON with one line per rectangle, so a diff shows exactly which rectangle moved."""
    head = {key: value for key, value in index.items() if key != "cases"}
    lines = ["{"] + [f"  {json.dumps(key)}: {json.dumps(value)}," for key, value in head.items()]
    lines.append('  "cases": [')
    for number, case in enumerate(index["cases"]):
        lines.append("    {")
        for key, value in case.items():
            if key == "rects":
                rects = [f"        {json.dumps(rect)}" for rect in value]
                lines.append('      "rects": [\n' + ",\n".join(rects) + "\n      ],")
            else:
                lines.append(f"      {json.dumps(key)}: {json.dumps(value)},")
        lines[-1] = lines[-1].rstrip(",")
        lines.append("    }" + ("," if number < len(index["cases"]) - 1 else ""))
    lines += ["  ]", "}"]
    text = "\n".join(lines) + "\n"
    assert json.loads(text) == index
    return text


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = []
    with EmulatorServer(Settings(port=0, cache_size=0, workers=1)) as server:
        bda = client(server.endpoint)
        for image, option_set in CASES:
            entry, mask = run_case(bda, image, option_set)
            mask.save(OUT / entry["mask"], "PNG", optimize=True)
            entries.append(entry)
    wanted = {entry["mask"] for entry in entries}
    for stale in OUT.glob("*.mask.png"):
        if stale.name not in wanted:
            stale.unlink()
    index = {
        "regenerate": "python scripts/make_golden.py",
        "mask_tolerance": MASK_TOLERANCE,
        "environment": {"pillow": features.version("pil"),
                        "libjpeg": features.version("jpg"),
                        "libjpeg_turbo": features.version_feature("libjpeg_turbo"),
                        "zlib": features.version("zlib")},
        "cases": entries,
    }
    INDEX.write_text(dump(index), encoding="utf-8")
    print(f"wrote {len(entries)} cases to {INDEX.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
