"""The media half of ``CreateSegmentationTask``: probing a video, then segmenting every frame.

PyAV (FFmpeg in its wheels) is imported inside the functions, never at module load, so the
image actions, the server and the pytest plugin start without it (60-100 ms of import time;
the wheel installs ~107 MB).

Refusals, checked in this order (emulator limits and codes; the real ones are undocumented):

1. empty bytes, image bytes (magic of PNG, JPEG, BMP or any format
   :func:`~emulator.imaging.images.sniff_format` names: FFmpeg would open them as one-frame
   videos), a container outside ``CONTAINERS`` (audio files, playlists, image demuxers),
   no video stream (audio only) → ``FailedOperation.VideoDecodeFailed``;
2. a side over ``MAX_SIDE``, a duration over ``MAX_DURATION`` s or more than ``MAX_FRAMES``
   frames → ``FailedOperation.TooLargeFileError``, from the headers and a packet count,
   before any frame is segmented; the byte size is the caller's to cap;
3. an odd width or height (yuv420p output cannot keep it), no packet, no decodable first
   frame, a size change mid-stream, corrupt data while decoding
   → ``FailedOperation.VideoDecodeFailed``.

The output (:func:`segment_video`) has the input's stored size (rotation metadata and pixel
aspect ratio are ignored, as EXIF orientation is for images) and its average frame rate as a
constant rate, one output frame per decoded frame; H.264 (``libx264``) in MP4 when the FFmpeg
build has it, else MPEG-4 Part 2 (``mpeg4``); yuv420p, BT.601 limited range; audio dropped.
Same input and av build → byte-identical MP4: pixel conversions use swscale's bit-exact mode,
x264 runs on one thread, and the muxer writes no version string or creation time.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from PIL import Image, ImageOps

from emulator.errors import ApiError
from emulator.imaging.images import load_image, sniff_format
from emulator.imaging.person import person_mask

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.frame import VideoFrame
    from av.video.stream import VideoStream

__all__ = ["CODECS", "CONTAINERS", "ENCODER_OPTIONS", "MAX_DURATION", "MAX_FRAMES", "MAX_SIDE",
           "PROGRESS_EVERY", "VideoCancelled", "VideoInfo", "VideoResult", "encode_video",
           "encoder_name", "probe", "segment_video"]

MAX_SIDE = 1920
MAX_DURATION = 60.0
MAX_FRAMES = 1800
#: ``progress`` is called after every this many frames, and after the last.
PROGRESS_EVERY = 5
#: Encoders in order of preference; the first the FFmpeg build has is used.
CODECS: tuple[str, ...] = ("libx264", "mpeg4")
#: FFmpeg demuxers allowed to open the input (its ``format_whitelist``): video containers
#: only, so no playlist demuxer can open other files and no image demuxer a picture. Not
#: MPEG-PS (``.mpg``, ``.vob``): FFmpeg estimates its durations from the bit rate.
CONTAINERS: tuple[str, ...] = ("mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm",
                               "avi", "flv", "mpegts", "asf")
#: x264 on one thread, without its macroblock tree (with it, the same frames came out
#: differently in 5 of 30 runs in one process, and differently on a CPU without AVX-512) or
#: B-frames (they cost 50-70 MB more per 1080p job, for files ~10 % smaller).
ENCODER_OPTIONS: dict[str, dict[str, str]] = {
    "libx264": {"preset": "veryfast", "crf": "20", "threads": "1",
                "x264-params": "mbtree=0:bframes=0"},
    "mpeg4": {"qmin": "3", "qmax": "3", "flags": "+bitexact"},
}
_DECODE = "FailedOperation.VideoDecodeFailed"
_TOO_LARGE = "FailedOperation.TooLargeFileError"
_SPC_SMPTE170M, _RANGE_MPEG = 6, 1  # the stream's tags: BT.601, limited range (AVCOL_*)


class VideoCancelled(Exception):
    """``cancelled()`` answered true: the job was terminated; no output was produced."""


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What :func:`probe` read: the documented ``VideoBasicInformation`` and a little more.

    ``width``, ``height``: the stored frame size; ``fps``: the average frame rate rounded (at
    least 1), as the documented integer field wants; ``rate``: that rate exactly, which the
    output keeps; ``duration``: seconds (3 decimals); ``frames``: the video packets;
    ``codec``: FFmpeg's name of the input codec (``h264``).
    """

    width: int
    height: int
    fps: int
    duration: float
    frames: int
    has_audio: bool
    codec: str
    rate: Fraction

    def basic_information(self) -> dict[str, int | float]:
        """The ``VideoBasicInformation`` object of ``DescribeSegmentationTask``."""
        return {"FrameWidth": self.width, "FrameHeight": self.height,
                "FramesPerSecond": self.fps, "Duration": self.duration,
                "TotalFrames": self.frames}


@dataclass(frozen=True, slots=True)
class VideoResult:
    """The segmented video: MP4 bytes, the input's info, the encoder used, frames written."""

    mp4: bytes
    info: VideoInfo
    codec: str
    frames: int


def probe(data: bytes) -> VideoInfo:
    """Read and check ``data``'s video stream; raises :class:`~emulator.errors.ApiError`.

    Demuxes the whole input (counting packets is the one count every container gets right)
    and decodes only the first frame.
    """
    _refuse_images(data)
    with _open(data) as container:
        stream = _video_stream(container)
        width, height = stream.codec_context.width, stream.codec_context.height
        _check_size(width, height)
        duration = _stream_duration(stream)
        _check_duration(duration)  # before the packet count, when the header tells
        frames = _count_frames(container, stream, width, height)
        rate = _rate(stream, frames, duration)
        if duration is None:
            duration = round(float(frames / rate), 3)
            _check_duration(duration)
        return VideoInfo(width, height, max(1, round(rate)), duration, frames,
                         bool(container.streams.audio), stream.codec_context.name, rate)


def encoder_name() -> str:
    """The first encoder of ``CODECS`` this FFmpeg build has."""
    from av.codec import Codec

    for name in CODECS:
        try:
            Codec(name, "w")
        except ValueError:  # av.codec.codec.UnknownCodecError
            continue
        return name
    raise RuntimeError(f"this FFmpeg build has none of the encoders {', '.join(CODECS)}")


def segment_video(data: bytes, background: bytes | None, *, max_subjects: int,
                  progress: Callable[[int, int], None] | None = None,
                  cancelled: Callable[[], bool] | None = None) -> VideoResult:
    """Segment every frame of ``data`` with SegmentPortraitPic's person rule.

    With ``background`` (image bytes, checked like an ``Image``), the person is composited over
    it, scaled to cover the frame and centre-cropped; without, the output is the mask (white
    person on black). ``cancelled`` is polled before each frame (raising
    :class:`VideoCancelled`); ``progress(done, total)`` follows every ``PROGRESS_EVERY``
    frames and the last, ``total`` being the probe's ``frames``. Runs on the calling
    thread with one decoder and one encoder thread.
    """
    info = probe(data)
    size = (info.width, info.height)
    backdrop = None if background is None else _cover(load_image(background), size)
    frames = _segmented(data, info, backdrop, max_subjects, progress, cancelled)
    mp4, codec, written = encode_video(frames, size, info.rate)
    return VideoResult(mp4, info, codec, written)


def encode_video(frames: Iterable[Image.Image], size: tuple[int, int],
                 rate: Fraction) -> tuple[bytes, str, int]:
    """(MP4 bytes, encoder, frame count) of RGB ``frames`` of ``size`` at a constant ``rate``.

    The encoder's time base must fit MPEG-4 Part 2 (a denominator ≤ 65535), so ``rate`` is
    approximated to that precision first.
    """
    import av
    from av.video.stream import VideoStream

    codec = encoder_name()
    rate = _encodable(rate)
    out = io.BytesIO()
    count = 0
    with av.open(out, "w", format="mp4", container_options={"fflags": "+bitexact"}) as mp4:
        stream = mp4.add_stream(codec, rate=rate, options=ENCODER_OPTIONS.get(codec, {}))
        assert isinstance(stream, VideoStream)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.thread_count = 1
        stream.colorspace, stream.color_range = _SPC_SMPTE170M, _RANGE_MPEG
        for image in frames:
            frame = _to_yuv(image)
            frame.pts = count
            count += 1
            mp4.mux(stream.encode(frame))
        mp4.mux(stream.encode(None))
    return out.getvalue(), codec, count


def _segmented(data: bytes, info: VideoInfo, backdrop: Image.Image | None, max_subjects: int,
               progress: Callable[[int, int], None] | None,
               cancelled: Callable[[], bool] | None) -> Iterator[Image.Image]:
    """The output frames, one per decoded input frame, as RGB images."""
    done = 0
    with closing(_decoded(data, info)) as images:  # closed now even when a frame raises
        for image in images:
            if cancelled is not None and cancelled():
                raise VideoCancelled(f"cancelled after {done} of {info.frames} frames")
            try:
                mask, _ = person_mask(image, max_subjects)
            except ApiError as error:
                raise ApiError(error.code, explain=f"frame {done}: {error.code}") from error
            if backdrop is None:
                yield mask.convert("RGB")
            else:
                yield Image.composite(image, backdrop, mask)
            done += 1
            if progress is not None and done % PROGRESS_EVERY == 0:
                progress(done, info.frames)
    if progress is not None and done % PROGRESS_EVERY:
        progress(done, info.frames)


def _decoded(data: bytes, info: VideoInfo) -> Generator[Image.Image, None, None]:
    """Every frame of the video stream as an RGB image, checked against ``info``."""
    import av

    with _open(data) as container:
        stream = _video_stream(container)
        count = 0
        try:
            for packet in container.demux(stream):
                for frame in stream.decode(packet):
                    count += 1
                    if count > MAX_FRAMES:
                        raise ApiError(_TOO_LARGE, explain=f"more than {MAX_FRAMES} frames")
                    yield _to_rgb(frame, info)
        except av.FFmpegError as exc:
            raise ApiError(_DECODE, explain=f"frame {count}: {exc}") from exc
    if count == 0:
        raise ApiError(_DECODE, explain="no frame of the video stream could be decoded")


def _refuse_images(data: bytes) -> None:
    if not data:
        raise ApiError(_DECODE, explain="the video is empty (0 bytes)")
    try:
        name = sniff_format(data)
    except ApiError as error:
        if error.code != "FailedOperation.ImageNotSupported":
            return  # not an image: FFmpeg decides
        name = error.details.get("reason", "an image").removesuffix(" is not supported")
    raise ApiError(_DECODE, explain=f"this is a {name} image, not a video")


@contextmanager
def _open(data: bytes) -> Iterator[InputContainer]:
    """The input container, opened with only ``CONTAINERS`` allowed, errors as ApiError."""
    import av

    try:
        container = av.open(io.BytesIO(data), "r",
                            container_options={"format_whitelist": ",".join(CONTAINERS)})
    except av.InvalidDataError as exc:
        raise ApiError(_DECODE, explain="no video container FFmpeg recognises, or a truncated "
                                        "one (an MP4 without its moov box)") from exc
    except av.FFmpegError as exc:  # "Format not on whitelist" is an EINVAL
        raise ApiError(_DECODE, explain=f"FFmpeg refused it ({exc}): the emulator reads only "
                                        f"the containers {', '.join(CONTAINERS)}") from exc
    with container:
        yield container


def _video_stream(container: InputContainer) -> VideoStream:
    """The first video stream, set to decode on one thread and refuse frames over the limit."""
    if not container.streams.video:
        audio = len(container.streams.audio)
        raise ApiError(_DECODE, explain=f"no video stream ({audio} audio stream(s))")
    stream = container.streams.video[0]
    stream.thread_count = 1
    stream.codec_context.options = {"max_pixels": str(MAX_SIDE * MAX_SIDE),
                                    "flags": "+bitexact"}
    return stream


def _check_size(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise ApiError(_DECODE, explain="the video stream declares no frame size")
    if max(width, height) > MAX_SIDE:
        raise ApiError(_TOO_LARGE, explain=f"{width}x{height}: the emulator's limit is "
                                           f"{MAX_SIDE} px on the longest side")
    if width % 2 or height % 2:
        raise ApiError(_DECODE, explain=f"{width}x{height}: odd sides cannot be encoded as "
                                        "yuv420p at the same size (an emulator limit)")


def _check_duration(duration: float | None) -> None:
    if duration is not None and duration > MAX_DURATION:
        raise ApiError(_TOO_LARGE, explain=f"the video lasts {duration:.3f} s; the emulator's "
                                           f"limit is {MAX_DURATION:g} s")


def _stream_duration(stream: VideoStream) -> float | None:
    """Seconds, from the stream's header; None when it does not say (then :func:`probe` uses
    frames / rate rather than the container's estimate)."""
    if stream.duration and stream.time_base:
        return round(float(stream.duration * stream.time_base), 3)
    return None


def _count_frames(container: InputContainer, stream: VideoStream, width: int,
                  height: int) -> int:
    """Video packets (edit-list discards and empty flush packets excluded); the first is
    decoded, so a stream FFmpeg cannot decode is refused here."""
    import av

    count = 0
    decoded = False
    try:
        for packet in container.demux(stream):
            if not packet.size or packet.is_discard:
                continue
            count += 1
            if count > MAX_FRAMES:
                raise ApiError(_TOO_LARGE, explain=f"more than {MAX_FRAMES} frames: the "
                                                   "emulator's limit")
            if not decoded:
                decoded = _first_frame(stream.decode(packet), width, height)
        if count and not decoded:
            decoded = _first_frame(stream.decode(None), width, height)
    except av.FFmpegError as exc:
        raise ApiError(_DECODE, explain=f"undecodable video stream: {exc}") from exc
    if count == 0:
        raise ApiError(_DECODE, explain="the video stream has no frames")
    if not decoded:
        raise ApiError(_DECODE, explain="no frame of the video stream could be decoded")
    return count


def _first_frame(frames: list[VideoFrame], width: int, height: int) -> bool:
    """Whether a frame came out; it must have the size the header declared."""
    if not frames:
        return False
    _same_size(frames[0], width, height)
    return True


def _same_size(frame: VideoFrame, width: int, height: int) -> None:
    if (frame.width, frame.height) != (width, height):
        raise ApiError(_DECODE, explain=f"a frame of {frame.width}x{frame.height} in a "
                                        f"{width}x{height} stream: size changes are refused")


def _rate(stream: VideoStream, frames: int, duration: float | None) -> Fraction:
    """The average frame rate: the header's, else frames over duration."""
    for rate in (stream.average_rate, stream.guessed_rate):
        if rate is not None and rate > 0:
            return Fraction(rate)
    if duration:
        return Fraction(frames) / Fraction(duration)
    raise ApiError(_DECODE, explain="the video stream has no frame rate")


def _encodable(rate: Fraction) -> Fraction:
    """``rate`` with a numerator (the time base's denominator) of at most 65535."""
    limited = rate.limit_denominator(1001)
    if limited.numerator > 65535:
        limited = rate.limit_denominator(max(1, 65535 // math.ceil(rate)))
    return limited


def _cover(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``image`` scaled to cover ``size``, centre-cropped to it."""
    return ImageOps.fit(image, size, Image.Resampling.BICUBIC, centering=(0.5, 0.5))


def _bit_exact() -> int:
    from av.video.reformatter import Interpolation

    return int(Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.BITEXACT)


def _to_rgb(frame: VideoFrame, info: VideoInfo) -> Image.Image:
    _same_size(frame, info.width, info.height)
    rgb = frame.reformat(format="rgb24", interpolation=_bit_exact(),
                         src_color_range=frame.color_range, threads=1)
    plane = rgb.planes[0]
    return Image.frombytes("RGB", (rgb.width, rgb.height), bytes(plane), "raw", "RGB",
                           plane.line_size)


def _to_yuv(image: Image.Image) -> VideoFrame:
    from av.video.frame import VideoFrame
    from av.video.reformatter import ColorRange, Colorspace

    width, height = image.size
    frame = VideoFrame(width, height, "rgb24")
    plane = frame.planes[0]
    data, row = image.tobytes(), 3 * width
    if plane.line_size != row:  # rows are padded to the plane's alignment
        pad = bytes(plane.line_size - row)
        data = b"".join(data[y * row:(y + 1) * row] + pad for y in range(height))
    plane.update(data)
    return frame.reformat(format="yuv420p", interpolation=_bit_exact(),
                          dst_colorspace=Colorspace.ITU601, dst_color_range=ColorRange.MPEG,
                          threads=1)
