"""Video task cost: what :func:`emulator.imaging.video.segment_video` costs per frame, its memory
with four jobs at once, and what PyAV adds to the install and to start-up.

For each size, a clip of a figure sliding over a photo-like background (seeded noise, so the
encoder has real work) at 10 fps: the probe, then the whole segmentation without and with a
background, per frame, and its parts (decoding to RGB, the person rule, encoding). Then, in a
fresh process per cell, four jobs in four threads (as the task workers run them) against the
same four jobs one after another: wall time, CPU time and the peak RSS (VmHWM, reset through
``/proc/self/clear_refs`` once the clip is made) above the RSS before the jobs. Writes
``benchmarks/video-results.md``; never asserts a timing.

Run ``python -m benchmarks.video [--quick]`` from the repository root.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

from PIL import Image, ImageChops

from emulator.imaging import video
from emulator.imaging.person import person_mask
from emulator.resources import fixture_path

from .inputs import make_photo
from .report import preamble

OUT = Path(__file__).resolve().parent / "video-results.md"
RATE = Fraction(10)
Size = tuple[int, int]


def make_clip(size: Size, frames: int) -> bytes:
    """``frames`` frames of the benchmark photo, the figure sliding 2 px per frame."""
    photo = Image.open(io.BytesIO(make_photo(size, seed=7))).convert("RGB")
    shifts = (ImageChops.offset(photo, 2 * index - frames, 0) for index in range(frames))
    mp4, _, _ = video.encode_video(shifts, size, RATE)
    return mp4


def best_ms(run: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` runs, in ms (the least disturbed by the rest of the machine)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return min(times)


def cost_row(size: Size, frames: int, repeat: int, background: bytes) -> str:
    """``| size | frames | probe | mask | composite | decode | person rule | encode | KB |``."""
    clip = make_clip(size, frames)
    info = video.probe(clip)
    images = list(video._decoded(clip, info))  # the module's own decode, for the parts
    masks = [person_mask(image, 5)[0].convert("RGB") for image in images]
    results: dict[str, video.VideoResult] = {}

    def segment(name: str, with_background: bytes | None) -> Callable[[], object]:
        def run() -> None:
            results[name] = video.segment_video(clip, with_background, max_subjects=5)
        return run

    per_frame = {
        "probe": best_ms(lambda: video.probe(clip), repeat),
        "mask": best_ms(segment("mask", None), repeat) / frames,
        "composite": best_ms(segment("composite", background), repeat) / frames,
        "decode": best_ms(lambda: list(video._decoded(clip, info)), repeat) / frames,
        "rule": best_ms(lambda: [person_mask(image, 5) for image in images], repeat) / frames,
        "encode": best_ms(lambda: video.encode_video(masks, size, RATE), repeat) / frames,
    }
    kb = len(results["composite"].mp4) / 1024
    return (f"| {size[0]}x{size[1]} | {frames} | {per_frame['probe']:.1f} | "
            f"{per_frame['mask']:.2f} | {per_frame['composite']:.2f} | "
            f"{per_frame['decode']:.2f} | {per_frame['rule']:.2f} | {per_frame['encode']:.2f} | "
            f"{kb:.0f} |")


def _vm(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def jobs_child(width: int, height: int, frames: int, threads: int) -> None:
    """In a fresh process: ``threads`` jobs at once (or one after another for 1); JSON out."""
    clip = make_clip((width, height), frames)
    background = fixture_path("video/background.jpg").read_bytes()
    with contextlib.suppress(OSError):  # reset VmHWM to the current RSS (Linux 4.0+)
        Path("/proc/self/clear_refs").write_text("5")
    before = _vm("VmRSS")
    cpu, start = time.process_time(), time.perf_counter()
    if threads == 1:
        for _ in range(4):
            video.segment_video(clip, background, max_subjects=5)
    else:
        workers = [threading.Thread(target=video.segment_video, args=(clip, background),
                                    kwargs={"max_subjects": 5}) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    print(json.dumps({"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu,
                      "before": before, "peak": _vm("VmHWM")}))


def jobs_row(size: Size, frames: int) -> str:
    """``| size | frames | 4 jobs: wall 1 thread / 4 threads | CPU s | RSS before | peak |``."""
    found = {}
    for threads in (1, 4):
        proc = subprocess.run([sys.executable, "-m", "benchmarks.video", "--jobs-child",
                               f"{size[0]}x{size[1]}", str(frames), str(threads)],
                              capture_output=True, text=True, check=True, timeout=900)
        found[threads] = json.loads(proc.stdout)
    one, four = found[1], found[4]
    return (f"| {size[0]}x{size[1]} | 4 x {frames} | {one['wall']:.2f} | {four['wall']:.2f} | "
            f"{four['cpu']:.2f} | {one['peak'] - one['before']:.0f} | {four['before']:.0f} | "
            f"{four['peak']:.0f} | {four['peak'] - four['before']:.0f} |")


def pyav_rows() -> list[str]:
    """PyAV's version, its size on disk and what importing it adds to a fresh interpreter."""
    import importlib.util

    spec = importlib.util.find_spec("av")
    assert spec is not None and spec.origin is not None
    package = Path(spec.origin).parent
    sizes = {name: sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
             for name, path in (("av/", package), ("av.libs/", package.parent / "av.libs"))
             if path.is_dir()}

    def fresh(code: str) -> float:
        return min(_timed([sys.executable, "-c", code]) for _ in range(7))

    bare, with_av = fresh("pass"), fresh("import av")
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import av"],
                          capture_output=True, text=True, check=True)
    cumulative = int(proc.stderr.strip().splitlines()[-1].split("|")[1]) / 1000
    import av

    rows = [f"| version | PyAV {av.__version__}, libavcodec "
            f"{'.'.join(map(str, av.library_versions['libavcodec']))} |",
            f"| encoder used | {video.encoder_name()} |"]
    rows += [f"| installed {name} | {size / 1e6:.1f} MB |" for name, size in sizes.items()]
    rows += [f"| `import av`, fresh interpreter | +{(with_av - bare) * 1000:.0f} ms "
             f"(`-X importtime` cumulative {cumulative:.0f} ms) |"]
    return rows


def _timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two sizes, short clips")
    parser.add_argument("--out", type=Path, default=OUT, help="results file")
    parser.add_argument("--jobs-child", nargs=3, metavar=("WxH", "FRAMES", "THREADS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.jobs_child:
        size, frames, threads = args.jobs_child
        width, height = map(int, size.split("x"))
        jobs_child(width, height, int(frames), int(threads))
        return
    background = fixture_path("video/background.jpg").read_bytes()
    sizes: list[Size] = [(320, 240), (640, 360)] + ([] if args.quick else [(1280, 720),
                                                                          (1920, 1080)])
    frames, repeat = (10, 1) if args.quick else (50, 3)
    lines = [*preamble("Video task cost (benchmarks/video.py)"), "",
             f"Best of {repeat}; ms per frame except the probe (ms per clip); clips at "
             f"{RATE} fps; composite over `fixtures/video/background.jpg`.", "",
             "| size | frames | probe ms | mask ms/frame | composite ms/frame | decode | "
             "person rule | encode | composite KB |", "|---|---|---|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for size in sizes:
        lines.append(cost_row(size, frames, repeat, background))
        print(lines[-1], flush=True)
    jobs = [(320, 240), (640, 360)] if args.quick else [(640, 360), (1920, 1080)]
    lines += ["", f"Four composite jobs, fresh process per cell (nproc {os.cpu_count()}): one "
              "after another, then in four threads. RSS in MB; peak is VmHWM.", "",
              "| size | jobs | wall s, sequential | wall s, 4 threads | CPU s, 4 threads | "
              "peak above before, 1 job | RSS before | peak RSS, 4 threads | peak above "
              "before, 4 threads |", "|---|---|---|---|---|---|---|---|---|"]
    print("\n".join(lines[-5:]), flush=True)
    for size in jobs:
        lines.append(jobs_row(size, 10 if args.quick else 30))
        print(lines[-1], flush=True)
    pyav = ["", "| PyAV | |", "|---|---|", *pyav_rows()]
    print("\n".join(pyav))
    lines += pyav
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
