"""The geometric region rules: where the emulator says people and their parts are.

No model runs here: the answer is a deterministic function of the pixels, cheap enough to run
per request, and simple enough for a test author to predict.

Subject detection (:func:`find_subjects`), on a copy downscaled with a box filter so that its
longest side is ``WORK_SIDE`` (96) pixels (smaller images are used as they are):

* the background colour is the most common colour of the outermost pixel ring, quantised to
  ``QUANTUM`` (16) levels per channel (ties: the smallest colour), averaged within that bin;
* a pixel is foreground when any channel differs from the background by more than
  ``THRESHOLD`` (40);
* each 4-connected foreground component is a candidate; components under ``NOISE_FRACTION``
  (1 %) of the downscaled area are noise. None left → ``InvalidParameterValue.NoFaceInPhoto``;
* the largest component (most pixels) must be able to hold a face: its box, scaled back to
  full resolution, at least ``FACE_MIN_WIDTH`` × ``FACE_MIN_HEIGHT`` (32 × 48) px, else
  ``FailedOperation.ImageFacedetectFailed``; smaller components that cannot are dropped;
* more remaining components than ``max_subjects`` (5) → ``FailedOperation.ProfileNumExceed``.

Parts (:func:`label_map`): one portrait template is laid into each subject box in coordinates
normalised to the box, painted at full resolution in a fixed order, later parts covering
earlier ones: body (neck and torso to the box bottom), necklace (band at the neck base),
belongings (a bag at the lower left), hair behind the head, ears at the head's sides, earrings
below them, the face ellipse (upper 8–46 % of the box height), the hair cap and fringe,
eyebrows, eyes, nose, upper and lower lip, mouth (between the lips), teeth (a strip at the top
of the mouth), hat (crown and brim on the hair) and headdress (an ornament on the hair). Every
subject gets every part, whether or not the picture shows a hat or a bag. Boxes are painted
smallest area first, so the main subject lies on top.

Left and right are the person's, as anatomy names them: in a frontal portrait ``LeftEye``,
``LeftEyebrow`` and ``LeftEar`` lie on the image's right side.

Options (:func:`option_mask`): each part is one exclusive label, except ``Head``, the union of
hair, face, eyebrows, eyes, nose, lips, mouth, teeth and ears (accessories excluded, as the
documentation defines it), and ``Background``, every pixel with no person label.
:func:`option_rects` gives one rectangle per option, the bounding box of its region over all
subjects (``Width``/``Height`` in pixels, so ``X + Width`` ≤ the image width).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw

from emulator.errors import ApiError

OPTIONS: tuple[str, ...] = (
    "Background", "Hair", "LeftEyebrow", "RightEyebrow", "LeftEye", "RightEye", "Nose",
    "UpperLip", "LowerLip", "Tooth", "Mouth", "LeftEar", "RightEar", "Face", "Head", "Body",
    "Hat", "Headdress", "Earrings", "Necklace", "Belongings",
)
HEAD_PARTS: tuple[str, ...] = (
    "Hair", "LeftEyebrow", "RightEyebrow", "LeftEye", "RightEye", "Nose", "UpperLip",
    "LowerLip", "Tooth", "Mouth", "LeftEar", "RightEar", "Face",
)
WORK_SIDE = 96
QUANTUM = 16
THRESHOLD = 40
NOISE_FRACTION = 0.01
FACE_MIN_WIDTH = 32
FACE_MIN_HEIGHT = 48

# The value painted in the label map is the option's index; Head (a composite) is never painted.
_LABEL: Mapping[str, int] = {name: index for index, name in enumerate(OPTIONS)}


@dataclass(frozen=True)
class Box:
    """A subject's bounding box in full-resolution pixels."""

    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class _Part:
    """One template shape: box or points in box-normalised coordinates, painted as ``label``."""

    label: str
    shape: str  # ellipse | rect | rounded | polygon | chord | arc
    coords: tuple[float, ...]
    angles: tuple[int, int] = (0, 360)


_TEMPLATE: tuple[_Part, ...] = (
    _Part("Body", "rect", (0.42, 0.40, 0.58, 0.62)),
    _Part("Body", "rounded", (0.0, 0.58, 1.0, 1.0)),
    _Part("Necklace", "arc", (0.40, 0.50, 0.60, 0.62), (15, 165)),
    _Part("Belongings", "arc", (0.08, 0.74, 0.22, 0.86), (180, 360)),
    _Part("Belongings", "rect", (0.05, 0.80, 0.25, 0.98)),
    _Part("Hair", "ellipse", (0.26, 0.03, 0.74, 0.48)),
    _Part("RightEar", "ellipse", (0.27, 0.22, 0.32, 0.33)),
    _Part("LeftEar", "ellipse", (0.68, 0.22, 0.73, 0.33)),
    _Part("Earrings", "ellipse", (0.283, 0.33, 0.307, 0.37)),
    _Part("Earrings", "ellipse", (0.693, 0.33, 0.717, 0.37)),
    _Part("Face", "ellipse", (0.30, 0.08, 0.70, 0.46)),
    _Part("Hair", "chord", (0.28, 0.04, 0.72, 0.38), (180, 360)),
    _Part("Hair", "polygon", (0.30, 0.20, 0.70, 0.20, 0.67, 0.235, 0.61, 0.215, 0.55, 0.24,
                              0.50, 0.215, 0.45, 0.24, 0.39, 0.215, 0.33, 0.235)),
    _Part("RightEyebrow", "ellipse", (0.37, 0.245, 0.46, 0.258)),
    _Part("LeftEyebrow", "ellipse", (0.54, 0.245, 0.63, 0.258)),
    _Part("RightEye", "ellipse", (0.38, 0.268, 0.46, 0.292)),
    _Part("LeftEye", "ellipse", (0.54, 0.268, 0.62, 0.292)),
    _Part("Nose", "polygon", (0.50, 0.28, 0.535, 0.345, 0.465, 0.345)),
    _Part("UpperLip", "chord", (0.42, 0.362, 0.58, 0.402), (180, 360)),
    _Part("LowerLip", "chord", (0.42, 0.372, 0.58, 0.414), (0, 180)),
    _Part("Mouth", "ellipse", (0.44, 0.378, 0.56, 0.398)),
    _Part("Tooth", "rect", (0.46, 0.380, 0.54, 0.387)),
    _Part("Hat", "rect", (0.34, 0.0, 0.66, 0.05)),
    _Part("Hat", "ellipse", (0.25, 0.035, 0.75, 0.075)),
    _Part("Headdress", "ellipse", (0.59, 0.09, 0.65, 0.13)),
)


def find_subjects(image: Image.Image, max_subjects: int = 5) -> list[Box]:
    """The people in ``image`` as boxes, largest (most foreground pixels) first."""
    if max_subjects < 1:
        raise ValueError("max_subjects must be at least 1")
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    width, height = rgb.size
    scale = WORK_SIDE / max(width, height)
    small = rgb
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = rgb.resize(size, Image.Resampling.BOX)
    background = Image.new("RGB", small.size, _border_colour(small))
    diff = ImageChops.difference(small, background).split()
    spread = ImageChops.lighter(ImageChops.lighter(diff[0], diff[1]), diff[2])
    foreground = spread.point([255 if v > THRESHOLD else 0 for v in range(256)])
    sw, sh = small.size
    components = [c for c in _components(foreground.tobytes(), sw, sh)
                  if c[0] >= NOISE_FRACTION * sw * sh]
    if not components:
        raise ApiError("InvalidParameterValue.NoFaceInPhoto")
    components.sort(key=lambda c: -c[0])  # stable: ties keep scan order
    boxes = [_scale_box(c[1:], (sw, sh), (width, height)) for c in components]
    if not _can_hold_face(boxes[0]):
        raise ApiError("FailedOperation.ImageFacedetectFailed")
    boxes = [box for box in boxes if _can_hold_face(box)]
    if len(boxes) > max_subjects:
        raise ApiError("FailedOperation.ProfileNumExceed")
    return boxes


def _border_colour(small: Image.Image) -> tuple[int, int, int]:
    width, height = small.size
    edges = [(0, 0, width, 1), (0, height - 1, width, height),
             (0, 1, 1, max(1, height - 1)), (width - 1, 1, width, max(1, height - 1))]
    data = b"".join(small.crop(edge).tobytes() for edge in edges)
    pixels = list(zip(data[0::3], data[1::3], data[2::3], strict=True))
    bins = Counter((r // QUANTUM, g // QUANTUM, b // QUANTUM) for r, g, b in pixels)
    top = max(sorted(bins), key=bins.__getitem__)
    members = [p for p in pixels if (p[0] // QUANTUM, p[1] // QUANTUM, p[2] // QUANTUM) == top]
    n = len(members)
    r, g, b = (sum(p[c] for p in members) // n for c in range(3))
    return r, g, b


def _components(mask: bytes, width: int, height: int) -> list[tuple[int, int, int, int, int]]:
    """(pixels, x0, y0, x1, y1) of each 4-connected component of 255s, in scan order.

    Labels horizontal runs and joins runs that overlap in consecutive rows (union-find), so
    the Python loop runs per run, not per pixel.
    """
    runs: list[tuple[int, int, int]] = []  # (row, first, last + 1)
    parent: list[int] = []

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    previous: list[int] = []
    for y in range(height):
        row = mask[y * width:(y + 1) * width]
        current: list[int] = []
        x = row.find(255)
        while x >= 0:
            end = row.find(0, x)
            end = width if end < 0 else end
            index = len(runs)
            runs.append((y, x, end))
            parent.append(index)
            for other in previous:
                if runs[other][1] < end and x < runs[other][2]:
                    a, b = root(other), root(index)
                    parent[max(a, b)] = min(a, b)
            current.append(index)
            x = row.find(255, end)
        previous = current
    found: dict[int, list[int]] = {}  # root → [pixels, x0, y0, x1, y1]; roots in scan order
    for index, (y, first, stop) in enumerate(runs):
        agg = found.setdefault(root(index), [0, first, y, stop - 1, y])
        agg[0] += stop - first
        agg[1], agg[3], agg[4] = min(agg[1], first), max(agg[3], stop - 1), y
    return [(a[0], a[1], a[2], a[3], a[4]) for a in found.values()]


def _scale_box(bounds: tuple[int, ...], small: tuple[int, int], full: tuple[int, int]) -> Box:
    x0, y0, x1, y1 = bounds
    left, top = x0 * full[0] // small[0], y0 * full[1] // small[1]
    right = min(full[0], -(-(x1 + 1) * full[0] // small[0]))
    bottom = min(full[1], -(-(y1 + 1) * full[1] // small[1]))
    return Box(left, top, right - left, bottom - top)


def _can_hold_face(box: Box) -> bool:
    return box.width >= FACE_MIN_WIDTH and box.height >= FACE_MIN_HEIGHT


def label_map(size: tuple[int, int], subjects: Sequence[Box]) -> Image.Image:
    """An "L" image holding one label per pixel: the index in ``OPTIONS``, 0 = background."""
    labels = Image.new("L", size, 0)
    draw = ImageDraw.Draw(labels)
    for box in sorted(subjects, key=lambda b: b.width * b.height):
        for part in _TEMPLATE:
            _paint(draw, box, part)
    return labels


def _paint(draw: ImageDraw.ImageDraw, box: Box, part: _Part) -> None:
    fill = _LABEL[part.label]
    c = part.coords
    if part.shape == "polygon":
        points = [(box.x + min(box.width - 1, round(u * box.width)),
                   box.y + min(box.height - 1, round(v * box.height)))
                  for u, v in zip(c[0::2], c[1::2], strict=True)]
        draw.polygon(points, fill=fill)
        return
    xy = _rect(box, c)
    if part.shape == "ellipse":
        draw.ellipse(xy, fill=fill)
    elif part.shape == "rect":
        draw.rectangle(xy, fill=fill)
    elif part.shape == "rounded":
        radius = min((xy[2] - xy[0]) // 2, (xy[3] - xy[1]) // 2, round(0.18 * box.width))
        draw.rounded_rectangle(xy, radius, fill=fill, corners=(True, True, False, False))
    elif part.shape == "chord":
        draw.chord(xy, *part.angles, fill=fill)
    else:
        line = max(1, round(0.012 * box.height))
        draw.arc(xy, *part.angles, fill=fill, width=line)


def _rect(box: Box, c: tuple[float, ...]) -> tuple[int, int, int, int]:
    """Inclusive pixel corners of a normalised rectangle, never inverted."""
    x0 = box.x + int(c[0] * box.width)
    y0 = box.y + int(c[1] * box.height)
    x1 = max(x0, box.x + math.ceil(c[2] * box.width) - 1)
    y1 = max(y0, box.y + math.ceil(c[3] * box.height) - 1)
    return x0, y0, x1, y1


def _selected_labels(options: Iterable[str]) -> set[int]:
    selected: set[int] = set()
    for name in options:
        if name not in _LABEL:
            raise ValueError(f"unknown segmentation option {name!r}")
        parts = HEAD_PARTS if name == "Head" else (name,)
        selected.update(_LABEL[part] for part in parts)
    return selected


def option_mask(labels: Image.Image, options: Iterable[str]) -> Image.Image:
    """An "L" mask: 255 inside the union of the options' regions, 0 outside."""
    selected = _selected_labels(options)
    return labels.point([255 if value in selected else 0 for value in range(256)])


def option_rects(labels: Image.Image, options: Iterable[str]) -> list[dict[str, int | str]]:
    """One ``ImageRect`` per selected option with a non-empty region, in ``OPTIONS`` order."""
    wanted = set(options)
    _selected_labels(wanted)  # refuse unknown names even when nothing else is asked
    people = labels.getbbox() or (0, 0, 0, 0)  # person labels are nonzero: search only there
    crop = labels.crop(people)
    rects: list[dict[str, int | str]] = []
    for name in OPTIONS:
        if name not in wanted:
            continue
        if name == "Background":
            bbox = option_mask(labels, (name,)).getbbox()
        else:
            found = option_mask(crop, (name,)).getbbox()
            bbox = None if found is None else (found[0] + people[0], found[1] + people[1],
                                               found[2] + people[0], found[3] + people[1])
        if bbox is not None:
            left, top, right, bottom = bbox
            rects.append({"X": left, "Y": top, "Width": right - left, "Height": bottom - top,
                          "Label": name})
    return rects
