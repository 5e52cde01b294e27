"""Draw docs/regions.png: the bundled portrait with the emulator's 21 regions and a legend.

Uses only the emulator's own modules, so the picture is exactly what a request returns.
Exclusive parts and Background are tinted (semi-transparent); Head, a composite of parts, is
drawn as an outline. Run: ``python scripts/make_docs.py``.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from emulator.imaging.images import load_image
from emulator.imaging.regions import OPTIONS, find_subjects, label_map, option_mask
from emulator.resources import fixture_path

OUT = Path(__file__).resolve().parent.parent / "docs" / "regions.png"
ZOOM = 2
MARGIN = 16
ALPHA = 150  # of 255: the photo stays visible under the tint
ROW = 30

COLOURS: dict[str, tuple[int, int, int]] = {
    "Background": (200, 200, 200), "Hair": (140, 70, 20), "LeftEyebrow": (255, 0, 255),
    "RightEyebrow": (128, 0, 255), "LeftEye": (0, 255, 255), "RightEye": (0, 128, 255),
    "Nose": (255, 128, 0), "UpperLip": (255, 0, 0), "LowerLip": (160, 0, 0),
    "Tooth": (255, 255, 255), "Mouth": (40, 0, 40), "LeftEar": (0, 200, 0),
    "RightEar": (0, 110, 0), "Face": (255, 220, 120), "Head": (255, 0, 128),
    "Body": (40, 60, 220), "Hat": (255, 255, 0), "Headdress": (255, 120, 200),
    "Earrings": (0, 255, 128), "Necklace": (180, 255, 0), "Belongings": (120, 120, 0),
}


def main() -> None:
    photo = load_image(fixture_path("images/portrait.jpg").read_bytes())
    box = find_subjects(photo)[0]
    labels = label_map(photo.size, [box])
    tint = Image.new("RGB", photo.size, 0)
    for name in OPTIONS:
        if name != "Head":
            tint.paste(COLOURS[name], mask=option_mask(labels, [name]))
    overlay = Image.blend(photo, tint, ALPHA / 255)
    head = option_mask(labels, ["Head"])
    outline = ImageChops.subtract(head.filter(ImageFilter.MaxFilter(3)), head)
    overlay.paste(COLOURS["Head"], mask=outline)

    crop = (max(0, box.x - MARGIN), max(0, box.y - MARGIN),
            min(photo.width, box.x + box.width + MARGIN), min(photo.height, box.y + box.height))
    view = overlay.crop(crop)
    view = view.resize((view.width * ZOOM, view.height * ZOOM), Image.Resampling.NEAREST)

    legend_width = 230
    canvas = Image.new("RGB", (view.width + legend_width, max(view.height, ROW * 22)),
                       (255, 255, 255))
    canvas.paste(view, (0, 0))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=18)
    left = view.width + 16
    draw.text((left, 8), "Option", fill=(0, 0, 0), font=font)
    for row, name in enumerate(OPTIONS, start=1):
        top = 8 + row * ROW
        draw.rectangle((left, top, left + 22, top + 20), fill=COLOURS[name], outline=(0, 0, 0))
        label = f"{name} (outline)" if name == "Head" else name
        draw.text((left + 32, top), label, fill=(0, 0, 0), font=font)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(OUT, "PNG", optimize=True)
    print(OUT)


if __name__ == "__main__":
    main()
