"""Draw docs/video-strip.png: three frames of the sample video as input, mask and composite.

The mask and composite columns are frames of the MP4s that
:func:`emulator.imaging.video.segment_video` returns for ``fixtures/video/sample.mp4``
(without and with ``fixtures/video/background.jpg``), decoded again: exactly what a
``ResultVideoUrl`` holds. Run after ``scripts/make_sample_video.py``:
``python scripts/make_video_docs.py``.
"""

from __future__ import annotations

import io
from pathlib import Path

import av
from PIL import Image, ImageDraw, ImageFont

from emulator.imaging.video import segment_video
from emulator.resources import fixture_path

OUT = Path(__file__).resolve().parent.parent / "docs" / "video-strip.png"
PICKS = (0, 24, 49)
COLUMNS = ("input", "mask (no BackgroundImageUrl)", "composite (BackgroundImageUrl)")
GAP = 8
HEADER = 28


def frames(mp4: bytes, picks: tuple[int, ...]) -> list[Image.Image]:
    """The frames of ``mp4`` at the indexes ``picks``, as RGB images."""

    with av.open(io.BytesIO(mp4)) as container:
        return [frame.to_image() for index, frame in enumerate(container.decode(video=0))
                if index in picks]


def main() -> None:
    sample = fixture_path("video/sample.mp4").read_bytes()
    background = fixture_path("video/background.jpg").read_bytes()
    mask = segment_video(sample, None, max_subjects=5)
    composite = segment_video(sample, background, max_subjects=5)
    columns = [frames(sample, PICKS), frames(mask.mp4, PICKS), frames(composite.mp4, PICKS)]
    width, height = mask.info.width, mask.info.height
    canvas = Image.new("RGB", (3 * width + 4 * GAP, HEADER + 3 * height + 4 * GAP),
                       (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=14)
    for col, (title, images) in enumerate(zip(COLUMNS, columns, strict=True)):
        left = GAP + col * (width + GAP)
        draw.text((left, 6), title, fill=(0, 0, 0), font=font)
        for row, image in enumerate(images):
            top = HEADER + GAP + row * (height + GAP)
            canvas.paste(image, (left, top))
            if col == 0:
                draw.text((left + 4, top + 4), f"frame {PICKS[row]}", fill=(0, 0, 0),
                          font=font)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(OUT, "PNG", optimize=True)
    print(OUT, f"({mask.codec})")


if __name__ == "__main__":
    main()
