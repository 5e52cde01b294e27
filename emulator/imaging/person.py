"""Person or not: the two-class mask of ``SegmentPortraitPic``, and its green-screen rule.

The person mask is the union of every person label of :mod:`emulator.imaging.regions` — the
same pixels ``SegmentCustomizedPortraitPic`` returns when every option but ``Background`` is
selected, so the two actions agree on the same picture. A picture in which the region rules
find nobody (no foreground, or none large enough to hold a face) has no person: an empty mask
and ``has_person`` false, not an error.

``Scene: GS`` (green screen): pixels near chroma green are background even inside the person
template — a backdrop seen between arm and body, or a green prop. "Near chroma green" is
``G >= GREEN_MIN`` and ``G - max(R, B) >= GREEN_MARGIN``: saturated greens only, so skin, hair
and clothes of ordinary colours never are.
"""

from __future__ import annotations

from PIL import Image, ImageChops

from emulator.errors import ApiError
from emulator.imaging.regions import OPTIONS, find_subjects, label_map, option_mask

__all__ = ["GREEN_MARGIN", "GREEN_MIN", "PERSON_OPTIONS", "green_screen", "person_mask"]

#: Every option that names a part of a person.
PERSON_OPTIONS: tuple[str, ...] = tuple(name for name in OPTIONS if name != "Background")
GREEN_MIN = 96
GREEN_MARGIN = 60
#: The region rules' answers for "nobody here" (find_subjects).
_NOBODY = frozenset({"InvalidParameterValue.NoFaceInPhoto",
                     "FailedOperation.ImageFacedetectFailed"})


def person_mask(image: Image.Image, max_subjects: int = 5) -> tuple[Image.Image, bool]:
    """An "L" mask (255 person, 0 background) of ``image``'s size, and whether anyone is in it.

    ``FailedOperation.ProfileNumExceed`` still applies: too many people is not "nobody".
    """
    try:
        subjects = find_subjects(image, max_subjects)
    except ApiError as error:
        if error.code not in _NOBODY:
            raise
        return Image.new("L", image.size, 0), False
    return option_mask(label_map(image.size, subjects), PERSON_OPTIONS), True


def green_screen(image: Image.Image, mask: Image.Image) -> Image.Image:
    """``mask`` with every chroma-green pixel of ``image`` cleared."""
    red, green, blue = image.convert("RGB").split()
    others = ImageChops.lighter(red, blue)
    excess = ImageChops.subtract(green, others)  # G - max(R, B), floored at 0
    saturated = excess.point([255 if v >= GREEN_MARGIN else 0 for v in range(256)])
    bright = green.point([255 if v >= GREEN_MIN else 0 for v in range(256)])
    chroma = ImageChops.multiply(saturated, bright)
    return ImageChops.subtract(mask, chroma)
