"""The media half of the video task: probing, refusals, mask and composite frames, determinism."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
from collections.abc import Callable
from fractions import Fraction

import av
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps, ImageStat

from emulator.errors import ApiError
from emulator.imaging import video
from emulator.imaging.images import load_image
from emulator.imaging.person import person_mask
from emulator.resources import fixture_path

SAMPLE = fixture_path("video/sample.mp4").read_bytes()
TINY = fixture_path("video/tiny.mp4").read_bytes()  # 96x72, 8 frames, with an AAC track
BACKGROUND = fixture_path("video/background.jpg").read_bytes()
DECODE = "FailedOperation.VideoDecodeFailed"
TOO_LARGE = "FailedOperation.TooLargeFileError"


def decoded(mp4: bytes) -> list[Image.Image]:
    """Every frame of ``mp4`` as an RGB image (the test's own decode, by PyAV)."""
    with av.open(io.BytesIO(mp4)) as container:
        return [frame.to_image() for frame in container.decode(video=0)]


def written(codec: str, size: tuple[int, int], count: int, pix_fmt: str = "yuv420p",
            fmt: str = "mp4") -> bytes:
    """A video of ``count`` grey frames written by PyAV with ``codec``."""
    out = io.BytesIO()
    with av.open(out, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=10)
        assert isinstance(stream, av.video.stream.VideoStream)
        stream.width, stream.height, stream.pix_fmt = *size, pix_fmt
        for index in range(count):
            frame = av.VideoFrame.from_image(Image.new("RGB", size, (90, 90, 90)))
            frame = frame.reformat(format=pix_fmt)
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()


def audio_only(fmt: str, codec: str) -> bytes:
    """Half a second of silence in ``fmt``, without any video stream."""
    out = io.BytesIO()
    with av.open(out, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=8000)
        assert isinstance(stream, av.audio.stream.AudioStream)
        stream.layout = "mono"
        sample_format = stream.codec_context.format.name
        for start in range(0, 4096, 1024):
            frame = av.AudioFrame(format=sample_format, layout="mono", samples=1024)
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            frame.sample_rate, frame.pts = 8000, start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()


def empty_video_track() -> bytes:
    """A Matroska file whose video stream has no packet (its audio track has some)."""
    out = io.BytesIO()
    with av.open(out, "w", format="matroska") as container:
        picture = container.add_stream("mpeg4", rate=10)
        assert isinstance(picture, av.video.stream.VideoStream)
        picture.width, picture.height, picture.pix_fmt = 64, 48, "yuv420p"
        sound = container.add_stream("aac", rate=8000)
        assert isinstance(sound, av.audio.stream.AudioStream)
        sound.layout = "mono"
        for start in range(0, 4096, 1024):
            frame = av.AudioFrame(format="fltp", layout="mono", samples=1024)
            frame.planes[0].update(bytes(frame.planes[0].buffer_size))
            frame.sample_rate, frame.pts = 8000, start
            container.mux(sound.encode(frame))
        container.mux(sound.encode(None))
    return out.getvalue()


def zeroed_samples(mp4: bytes) -> bytes:
    """``mp4`` with its headers intact and every byte of its ``mdat`` box zeroed."""
    out, pos = bytearray(mp4), 0
    while pos < len(out):
        size, kind = struct.unpack_from(">I4s", out, pos)
        if kind == b"mdat":
            out[pos + 8:pos + size] = bytes(size - 8)
        pos += size
    return bytes(out)


def image_bytes(fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(out, fmt, **options)
    return out.getvalue()


def refused(data: bytes) -> ApiError:
    with pytest.raises(ApiError) as caught:
        video.probe(data)
    return caught.value


def test_probe_reads_the_sample() -> None:
    info = video.probe(SAMPLE)
    assert info.basic_information() == {"FrameWidth": 320, "FrameHeight": 240,
                                        "FramesPerSecond": 10, "Duration": 5.0,
                                        "TotalFrames": 50}
    for name in ("FrameWidth", "FrameHeight", "FramesPerSecond", "TotalFrames"):
        assert type(info.basic_information()[name]) is int
    assert type(info.duration) is float
    assert (info.has_audio, info.codec, info.rate) == (False, "h264", Fraction(10))


def test_probe_sees_the_audio_track() -> None:
    info = video.probe(TINY)
    assert (info.width, info.height, info.fps, info.frames, info.duration) == (96, 72, 8, 8, 1.0)
    assert info.has_audio


@pytest.mark.parametrize("make", [
    pytest.param(lambda: image_bytes("JPEG"), id="jpeg"),
    pytest.param(lambda: image_bytes("PNG"), id="png"),
    pytest.param(lambda: image_bytes("BMP"), id="bmp"),
    pytest.param(lambda: image_bytes("GIF", save_all=True,
                                     append_images=[Image.new("RGB", (64, 48))]), id="gif"),
    pytest.param(lambda: image_bytes("WEBP"), id="webp"),
    pytest.param(lambda: b"", id="empty"),
    pytest.param(lambda: b"\x00\x00\x00\x18ftypmp42" + b"garbage!" * 200, id="garbage"),
    pytest.param(lambda: SAMPLE[:len(SAMPLE) // 2], id="truncated"),
    pytest.param(lambda: audio_only("mp4", "aac"), id="audio-only-mp4"),
    pytest.param(lambda: audio_only("wav", "pcm_s16le"), id="wav"),
    pytest.param(lambda: b"#EXTM3U\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n",
                 id="playlist"),
    pytest.param(lambda: written("png", (33, 32), 2, "rgb24", "mov"), id="odd-width"),
    pytest.param(lambda: audio_only("mp3", "libmp3lame"), id="mp3"),
    pytest.param(lambda: written("mpeg2video", (64, 48), 3, fmt="mpeg"), id="mpeg-ps"),
    pytest.param(empty_video_track, id="no-frames"),
    pytest.param(lambda: zeroed_samples(SAMPLE), id="undecodable"),
])
def test_refusals_are_video_decode_failed(make: Callable[[], bytes]) -> None:
    error = refused(make())
    assert error.code == DECODE
    assert error.explain


def test_the_explanation_says_what_was_wrong() -> None:
    assert refused(image_bytes("JPEG")).explain == "this is a JPEG image, not a video"
    assert refused(image_bytes("GIF")).explain == "this is a GIF image, not a video"
    assert refused(audio_only("mp4", "aac")).explain == "no video stream (1 audio stream(s))"
    assert "only the containers mov" in str(refused(audio_only("wav", "pcm_s16le")).explain)
    assert refused(empty_video_track()).explain == "the video stream has no frames"
    assert "odd sides" in str(refused(written("png", (33, 32), 2, "rgb24", "mov")).explain)


@pytest.mark.parametrize(("fmt", "codec"), [("matroska", "libx264"), ("webm", "libvpx-vp9"),
                                            ("avi", "mpeg4"), ("mov", "mpeg4"),
                                            ("mpegts", "libx264"), ("flv", "flv"),
                                            ("asf", "wmv2")])
def test_other_containers_and_codecs_are_read(fmt: str, codec: str) -> None:
    data = written(codec, (64, 48), 3, fmt=fmt)
    info = video.probe(data)
    assert (info.width, info.height, info.fps, info.frames) == (64, 48, 10, 3)
    assert video.segment_video(data, None, max_subjects=5).frames == 3


@pytest.mark.parametrize(("limit", "value"), [("MAX_SIDE", 300), ("MAX_DURATION", 4.5),
                                               ("MAX_FRAMES", 49)])
def test_over_the_limits_is_too_large(monkeypatch: pytest.MonkeyPatch, limit: str,
                                      value: float) -> None:
    monkeypatch.setattr(video, limit, value)
    error = refused(SAMPLE)
    assert error.code == TOO_LARGE
    assert str(value) in str(error.explain) or f"{value:g}" in str(error.explain)


def test_a_fractional_rate_is_kept_and_rounded() -> None:
    frames = [Image.new("RGB", (64, 48), (9, 9, 9))] * 30
    mp4, _, _ = video.encode_video(frames, (64, 48), Fraction(30000, 1001))
    info = video.probe(mp4)
    assert (info.fps, info.rate, info.duration, info.frames) == (30, Fraction(30000, 1001),
                                                                 1.001, 30)
    assert video.probe(video.segment_video(mp4, None, max_subjects=5).mp4) == info


def test_the_limits_are_inclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    for limit, value in (("MAX_SIDE", 320), ("MAX_DURATION", 5.0), ("MAX_FRAMES", 50)):
        monkeypatch.setattr(video, limit, value)
    assert video.probe(SAMPLE).frames == 50


def test_mask_video_is_white_where_the_person_is() -> None:
    result = video.segment_video(TINY, None, max_subjects=5)
    assert result.frames == 8
    out = video.probe(result.mp4)
    assert (out.width, out.height, out.fps, out.frames, out.has_audio) == (96, 72, 8, 8, False)
    for frame, source in zip(decoded(result.mp4), decoded(TINY), strict=True):
        expected, found = person_mask(source, 5)
        assert found
        assert mismatch(frame.convert("L"), expected) < 0.01


def mismatch(mask: Image.Image, expected: Image.Image) -> float:
    """The fraction of pixels more than 64 grey levels from ``expected`` (codec loss allowed)."""
    diff = ImageChops.difference(mask, expected).point([255 * (v > 64) for v in range(256)])
    return ImageStat.Stat(diff).mean[0] / 255


def test_composite_shows_the_background_where_no_person_is() -> None:
    result = video.segment_video(SAMPLE, BACKGROUND, max_subjects=5)
    size = (320, 240)
    backdrop = ImageOps.fit(load_image(BACKGROUND), size, Image.Resampling.BICUBIC)
    for index, (frame, source) in enumerate(zip(decoded(result.mp4), decoded(SAMPLE),
                                                strict=True)):
        if index % 10:
            continue
        mask, _ = person_mask(source, 5)
        inner = mask.filter(ImageFilter.MinFilter(5))  # away from the edges, where codecs smear
        outer = ImageChops.invert(mask.filter(ImageFilter.MaxFilter(5)))
        assert mean_error(frame, backdrop, outer) < 4
        assert mean_error(frame, source, inner) < 4


def mean_error(image: Image.Image, reference: Image.Image, where: Image.Image) -> float:
    """Mean absolute RGB difference inside the mask ``where``."""
    diff = ImageChops.difference(image, reference).convert("L")
    return float(ImageStat.Stat(diff, where).mean[0])


def test_output_is_byte_identical_across_runs() -> None:
    # x264's macroblock tree once made 5 runs in 30 differ here: repeat, with other work between
    for background in (None, BACKGROUND):
        runs = [video.segment_video(TINY, background, max_subjects=5) for _ in range(6)]
        decoded(runs[0].mp4)
        runs.append(video.segment_video(TINY, background, max_subjects=5))
        assert len({run.mp4 for run in runs}) == 1
        assert {run.codec for run in runs} == {video.encoder_name()}


def test_mpeg4_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(video, "CODECS", ("no-such-encoder", "mpeg4"))
    assert video.encoder_name() == "mpeg4"
    first = video.segment_video(TINY, None, max_subjects=5)
    assert first.codec == "mpeg4" and video.probe(first.mp4).codec == "mpeg4"
    assert video.segment_video(TINY, None, max_subjects=5).mp4 == first.mp4
    monkeypatch.setattr(video, "CODECS", ("no-such-encoder",))
    with pytest.raises(RuntimeError, match="no-such-encoder"):
        video.encoder_name()


def test_cancellation_stops_within_one_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    segmented: list[int] = []
    polls: list[int] = []
    real = video.person_mask

    def counting(image: Image.Image, max_subjects: int) -> tuple[Image.Image, bool]:
        segmented.append(1)
        return real(image, max_subjects)

    def cancelled() -> bool:
        polls.append(1)
        return len(polls) > 3

    monkeypatch.setattr(video, "person_mask", counting)
    with pytest.raises(video.VideoCancelled):
        video.segment_video(SAMPLE, None, max_subjects=5, cancelled=cancelled)
    assert (len(polls), len(segmented)) == (4, 3)


def test_progress_every_few_frames_and_at_the_end() -> None:
    calls: list[tuple[int, int]] = []
    video.segment_video(TINY, None, max_subjects=5, progress=lambda *call: calls.append(call))
    assert calls == [(5, 8), (8, 8)]
    calls.clear()
    video.segment_video(SAMPLE, None, max_subjects=5, progress=lambda *call: calls.append(call))
    assert calls == [(done, 50) for done in range(5, 51, 5)]


def test_too_many_people_in_a_frame_names_the_frame() -> None:
    def two_people(index: int) -> Image.Image:
        image = Image.new("RGB", (128, 96), (230, 230, 230))
        draw = ImageDraw.Draw(image)
        draw.rectangle((8 + index, 20, 50 + index, 95), fill=(40, 60, 140))
        draw.rectangle((76, 20, 118, 95), fill=(40, 60, 140))
        return image

    mp4, _, _ = video.encode_video([two_people(i) for i in range(3)], (128, 96), Fraction(5))
    with pytest.raises(ApiError) as caught:
        video.segment_video(mp4, None, max_subjects=1)
    assert caught.value.code == "FailedOperation.ProfileNumExceed"
    assert caught.value.explain == "frame 0: FailedOperation.ProfileNumExceed"
    assert video.segment_video(mp4, None, max_subjects=2).frames == 3


def test_a_bad_background_gets_the_image_codes() -> None:
    with pytest.raises(ApiError) as caught:
        video.segment_video(TINY, b"not an image", max_subjects=5)
    assert caught.value.code == "FailedOperation.ImageDecodeFailed"


def test_a_frame_rate_too_fine_for_mpeg4_is_approximated() -> None:
    assert video._encodable(Fraction(30000, 1001)) == Fraction(30000, 1001)
    assert video._encodable(Fraction(10**6, 33333)).numerator <= 65535
    fast = video._encodable(Fraction(240000, 1001))
    assert fast.numerator <= 65535 and abs(fast - Fraction(240000, 1001)) < Fraction(1, 100)


def test_the_image_actions_and_the_plugin_do_not_import_pyav() -> None:
    code = ("import sys, emulator.serve.app, emulator.pytest_plugin, emulator.actions.registry, "
            "emulator.cli; print(','.join(m for m in ('av', 'emulator.imaging.video') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""
