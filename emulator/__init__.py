"""bda-emulator: an offline emulator of Tencent Cloud bda 2020-03-24 SegmentCustomizedPortraitPic."""

from __future__ import annotations

__all__: list[str] = []
__version__ = "0.1.0"
