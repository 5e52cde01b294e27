"""Draw the bundled sample video, its tiny test twin and the composite background under
fixtures/video/ (deterministic: no clock, no randomness; byte-identical for one av build).

* ``sample.mp4``: 320x240, 10 fps, 5 s (50 frames): the figure of ``make_samples.py`` walking
  slowly left to right over a plain wall; encoded by the emulator's own encoder;
* ``tiny.mp4``: 96x72, 8 fps, 1 s (8 frames) with a 1 s AAC tone, for fast tests of the
  frame rules and of the dropped audio;
* ``background.jpg``: a 480x270 landscape for ``BackgroundImageUrl`` (wider than the
  video, so the composite shows the cover-and-crop rule).

Run: ``python scripts/make_sample_video.py``.
"""

from __future__ import annotations

import io
import math
import struct
from fractions import Fraction
from pathlib import Path

import av
from av.video.reformatter import Interpolation
from make_samples import draw_person
from PIL import Image, ImageDraw

from emulator.imaging.video import ENCODER_OPTIONS, encode_video, encoder_name

OUT = Path(__file__).resolve().parent.parent / "fixtures" / "video"
WALL = (214, 222, 230)
EXACT = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.BITEXACT
Rect = tuple[int, int, int, int]


def walking(size: tuple[int, int], start: Rect, end_x: int, count: int) -> list[Image.Image]:
    """``count`` frames of one figure moving from ``start`` to x = ``end_x`` in even steps."""
    x0, y, width, height = start
    frames = []
    for index in range(count):
        image = Image.new("RGB", size, WALL)
        x = x0 + round((end_x - x0) * index / max(1, count - 1))
        draw_person(ImageDraw.Draw(image), (x, y, width, height))
        frames.append(image)
    return frames


def landscape(size: tuple[int, int]) -> Image.Image:
    """Sky, sun, mountains, hills and a meadow: nothing a person rule would mistake."""
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for row in range(height):
        t = row / (height - 1)
        draw.line((0, row, width, row), fill=(round(96 + 110 * t), round(150 + 80 * t), 236))
    draw.ellipse((width * 0.72, height * 0.10, width * 0.84, height * 0.31), fill=(255, 228, 150))
    draw.polygon([(0, height * 0.62), (width * 0.22, height * 0.30), (width * 0.45, height * 0.62)],
                 fill=(120, 130, 160))
    draw.polygon([(width * 0.30, height * 0.62), (width * 0.58, height * 0.22),
                  (width * 0.90, height * 0.62)], fill=(104, 112, 146))
    draw.polygon([(width * 0.58, height * 0.22), (width * 0.51, height * 0.32),
                  (width * 0.66, height * 0.32)], fill=(240, 244, 250))
    draw.ellipse((-width * 0.3, height * 0.52, width * 0.7, height * 1.1), fill=(86, 150, 72))
    draw.ellipse((width * 0.35, height * 0.56, width * 1.3, height * 1.2), fill=(70, 134, 60))
    draw.rectangle((0, height * 0.82, width, height), fill=(96, 168, 80))
    return image


def tiny_with_audio() -> bytes:
    """``tiny.mp4``: the walking figure at 96x72 plus an AAC track the segmenter drops."""
    frames = walking((96, 72), (6, 8, 44, 64), 46, 8)
    out = io.BytesIO()
    with av.open(out, "w", format="mp4", container_options={"fflags": "+bitexact"}) as mp4:
        codec = encoder_name()
        video = mp4.add_stream(codec, rate=8, options=ENCODER_OPTIONS[codec])
        video.width, video.height, video.pix_fmt = 96, 72, "yuv420p"
        audio = mp4.add_stream("aac", rate=8000, options={"flags": "+bitexact"})
        audio.layout = "mono"
        for index, image in enumerate(frames):
            frame = av.VideoFrame.from_image(image).reformat(format="yuv420p", interpolation=EXACT)
            frame.pts = index
            mp4.mux(video.encode(frame))
        for start in range(0, 8000, 1024):  # 1 s of a 440 Hz tone, in AAC-sized chunks
            count = min(1024, 8000 - start)
            tone = [0.2 * math.sin(2 * math.pi * 440 * (start + i) / 8000) for i in range(count)]
            chunk = av.AudioFrame(format="fltp", layout="mono", samples=count)
            chunk.planes[0].update(struct.pack(f"<{count}f", *tone))
            chunk.sample_rate, chunk.pts = 8000, start
            mp4.mux(audio.encode(chunk))
        mp4.mux(video.encode(None))
        mp4.mux(audio.encode(None))
    return out.getvalue()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    frames = walking((320, 240), (40, 44, 116, 196), 164, 50)
    mp4, codec, _ = encode_video(frames, (320, 240), Fraction(10))
    (OUT / "sample.mp4").write_bytes(mp4)
    (OUT / "tiny.mp4").write_bytes(tiny_with_audio())
    landscape((480, 270)).save(OUT / "background.jpg", "JPEG", quality=85)
    for name in ("sample.mp4", "tiny.mp4", "background.jpg"):
        print(OUT / name, (OUT / name).stat().st_size, "bytes")
    print("encoder:", codec)


if __name__ == "__main__":
    main()
