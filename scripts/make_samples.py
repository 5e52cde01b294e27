"""Draw the bundled sample photos under fixtures/images/ (deterministic: fixed seed, no clock).

The figures are plain Pillow drawings of a head-and-shoulders person on a light, slightly
textured background, proportioned like the emulator's portrait template so that the returned
regions land on the drawn parts. Run: ``python scripts/make_samples.py``.
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fixtures" / "images"
SEED = 20200324

SKIN = (226, 176, 146)
HAIR = (62, 42, 32)
SHIRT = (52, 86, 150)
HAT = (150, 44, 48)
BAG = (128, 84, 42)
LIPS = (178, 72, 80)
EYE = (40, 34, 34)
WHITE = (245, 242, 236)
GOLD = (214, 170, 60)

Rect = tuple[int, int, int, int]


def _box(frame: Rect, u0: float, v0: float, u1: float, v1: float) -> Rect:
    x, y, w, h = frame
    return (x + round(u0 * w), y + round(v0 * h), x + round(u1 * w) - 1, y + round(v1 * h) - 1)


def draw_person(draw: ImageDraw.ImageDraw, frame: Rect) -> None:
    """One figure filling ``frame`` = (x, y, width, height); the torso reaches its bottom."""
    x, y, w, h = frame
    shirt = _box(frame, 0.0, 0.58, 1.0, 1.0)
    draw.rounded_rectangle(shirt, round(0.18 * w), fill=SHIRT, corners=(True, True, False, False))
    draw.rectangle(_box(frame, 0.42, 0.40, 0.58, 0.62), fill=SKIN)
    draw.arc(_box(frame, 0.40, 0.50, 0.60, 0.62), 15, 165, fill=GOLD, width=max(1, h // 90))
    draw.arc(_box(frame, 0.08, 0.74, 0.22, 0.86), 180, 360, fill=BAG, width=max(1, h // 90))
    draw.rectangle(_box(frame, 0.05, 0.80, 0.25, 0.98), fill=BAG)
    draw.ellipse(_box(frame, 0.26, 0.03, 0.74, 0.48), fill=HAIR)
    draw.ellipse(_box(frame, 0.27, 0.22, 0.32, 0.33), fill=SKIN)
    draw.ellipse(_box(frame, 0.68, 0.22, 0.73, 0.33), fill=SKIN)
    draw.ellipse(_box(frame, 0.283, 0.33, 0.307, 0.37), fill=GOLD)
    draw.ellipse(_box(frame, 0.693, 0.33, 0.717, 0.37), fill=GOLD)
    draw.ellipse(_box(frame, 0.30, 0.08, 0.70, 0.46), fill=SKIN)
    draw.chord(_box(frame, 0.28, 0.04, 0.72, 0.38), 180, 360, fill=HAIR)
    fringe = [(0.30, 0.20), (0.70, 0.20), (0.67, 0.235), (0.61, 0.215), (0.55, 0.24),
              (0.50, 0.215), (0.45, 0.24), (0.39, 0.215), (0.33, 0.235)]
    draw.polygon([(x + round(u * w), y + round(v * h)) for u, v in fringe], fill=HAIR)
    for u0, u1 in ((0.37, 0.46), (0.54, 0.63)):
        draw.ellipse(_box(frame, u0, 0.245, u1, 0.258), fill=HAIR)
    for u0, u1 in ((0.38, 0.46), (0.54, 0.62)):
        draw.ellipse(_box(frame, u0, 0.268, u1, 0.292), fill=WHITE)
        draw.ellipse(_box(frame, u0 + 0.025, 0.270, u1 - 0.025, 0.290), fill=EYE)
    nose = [(0.50, 0.28), (0.535, 0.345), (0.465, 0.345)]
    draw.polygon([(x + round(u * w), y + round(v * h)) for u, v in nose], fill=(206, 150, 122))
    draw.ellipse(_box(frame, 0.42, 0.362, 0.58, 0.414), fill=LIPS)
    draw.ellipse(_box(frame, 0.44, 0.378, 0.56, 0.398), fill=(90, 30, 36))
    draw.rectangle(_box(frame, 0.46, 0.380, 0.54, 0.387), fill=WHITE)
    draw.rectangle(_box(frame, 0.34, 0.0, 0.66, 0.05), fill=HAT)
    draw.ellipse(_box(frame, 0.25, 0.035, 0.75, 0.075), fill=HAT)
    draw.ellipse(_box(frame, 0.59, 0.09, 0.65, 0.13), fill=(236, 120, 170))


def scene(size: tuple[int, int], frames: list[Rect], seed: int) -> Image.Image:
    """A light gradient background, the figures, then mild noise and blur to look photographic."""
    width, height = size
    top, bottom = (234, 232, 226), (214, 219, 226)
    column = Image.new("RGB", (1, height))
    for row in range(height):
        t = row / max(1, height - 1)
        column.putpixel((0, row), tuple(round(a + (b - a) * t) for a, b in zip(top, bottom,
                                                                               strict=True)))
    image = column.resize(size, Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(image)
    for frame in frames:
        draw_person(draw, frame)
    rng = random.Random(seed)
    noise = Image.frombytes("L", size, rng.randbytes(width * height))
    noise = noise.point([120 + v * 17 // 256 for v in range(256)]).convert("RGB")
    image = ImageChops.add(image, noise, 1.0, -128)
    return image.filter(ImageFilter.GaussianBlur(0.7))


CHROMA_GREEN = (0, 177, 64)


def green_screen_scene(size: tuple[int, int], frame: Rect, seed: int) -> Image.Image:
    """A figure before a chroma-green backdrop, with a green card held against the shirt:
    ``Scene: GS`` clears the card (backdrop colour inside the person), ``GEN`` keeps it."""
    image = Image.new("RGB", size, CHROMA_GREEN)
    draw = ImageDraw.Draw(image)
    draw_person(draw, frame)
    draw.rectangle(_box(frame, 0.40, 0.70, 0.62, 0.90), fill=CHROMA_GREEN)
    rng = random.Random(seed)
    noise = Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))
    noise = noise.point([124 + v * 9 // 256 for v in range(256)]).convert("RGB")
    return ImageChops.add(image, noise, 1.0, -128)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    portrait = scene((640, 457), [(190, 36, 260, 421)], SEED)
    portrait.save(OUT / "portrait.jpg", "JPEG", quality=90)
    small = scene((300, 400), [(45, 40, 210, 360)], SEED + 1)
    small.save(OUT / "portrait.png", "PNG", optimize=True)
    pair = scene((800, 500), [(70, 90, 250, 410), (470, 60, 270, 440)], SEED + 2)
    pair.save(OUT / "two-people.jpg", "JPEG", quality=90)
    green = green_screen_scene((480, 400), (140, 40, 200, 360), SEED + 3)
    green.save(OUT / "green-screen.png", "PNG", optimize=True)
    for name in ("portrait.jpg", "portrait.png", "two-people.jpg", "green-screen.png"):
        print(OUT / name)


if __name__ == "__main__":
    main()
