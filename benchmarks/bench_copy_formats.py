"""Which format for the training copy: bytes per frame, decode cost per clip, pixel error.

For each video of a dataset the tracklet crops of every boxed frame (224 x 224, exactly what
``MovingFashionDataset`` returns live) are stored in each candidate format:

* ``jpeg-Q`` / ``webp-Q``: one image per frame, OpenCV's encoder at quality Q;
* ``h264-intra-crfC``: every frame a key frame (``-g 1``), libx264 CRF C;
* ``h264-gopG-crfC``: a key frame every G frames (a clip's frame then needs up to G-1 others).

Then T = 10 frames drawn by RRS are read back per clip, and the script prints per format:
bytes per stored frame, CPU ms per clip to decode (process time, interleaved format by format
per clip so machine load cancels out), that decode time as a multiple of the baseline's
(``--baseline``, default ``jpg-90``, the training copy's format, measured in the same run: the
ratios the README quotes), and the pixel error against the live crops (mean absolute error in
0..255 levels, PSNR). Lossless ``raw`` (the crop cache's ``.npy``) is the reference row.

``--clips`` is a target for the number of clips decoded in all: each video of the train split
gives ``max(1, clips // videos)`` clips (different RRS draws), so the count printed is a
multiple of the number of videos (at least one clip per video).

Usage: python benchmarks/bench_copy_formats.py --dataset build/real-clips/dataset [--clips 60]
(``python benchmarks/real_clips.py --out build/real-clips`` builds that folder; ``make bench``
builds it when it can, else prints how and skips this benchmark).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import torch  # noqa: E402
from real_clips import DATASET_HINT, check_dataset, exit_on_error  # noqa: E402

from movingfashion.dataset import MovingFashionDataset  # noqa: E402
from movingfashion.media.ffmpeg import encode_frames  # noqa: E402
from movingfashion.media.readers import PyAVReader  # noqa: E402
from schemas.errors import DataFormatError  # noqa: E402


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


class ImageFormat:
    def __init__(self, ext: str, quality: int) -> None:
        self.ext, self.quality = ext, quality
        self.name = f"{ext[1:]}-{quality}"
        flag = cv2.IMWRITE_JPEG_QUALITY if ext == ".jpg" else cv2.IMWRITE_WEBP_QUALITY
        self.params = [flag, quality]

    def write(self, crops: np.ndarray, path: Path) -> int:
        blobs = [cv2.imencode(self.ext, c[..., ::-1], self.params)[1].tobytes() for c in crops]
        self.offsets = np.cumsum([0, *map(len, blobs)])
        path.write_bytes(b"".join(blobs))
        self.data = np.memmap(path, np.uint8, "r")
        return int(self.offsets[-1])

    def read(self, rows: list[int]) -> np.ndarray:
        out = []
        for r in rows:
            img = cv2.imdecode(self.data[self.offsets[r] : self.offsets[r + 1]], cv2.IMREAD_COLOR)
            out.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        return np.stack(out)


class H264Format:
    def __init__(self, gop: int, crf: int) -> None:
        self.gop, self.crf = gop, crf
        self.name = f"h264-{'intra' if gop == 1 else f'gop{gop}'}-crf{crf}"

    def write(self, crops: np.ndarray, path: Path) -> int:
        encode_frames(crops, path.with_suffix(".mp4"), fps=25, crf=self.crf, gop=self.gop, preset="veryfast")
        self.reader = PyAVReader(str(path.with_suffix(".mp4")))
        return path.with_suffix(".mp4").stat().st_size

    def read(self, rows: list[int]) -> np.ndarray:
        return self.reader.get(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", type=Path, required=True, help=DATASET_HINT)
    ap.add_argument(
        "--clips",
        type=int,
        default=60,
        help="clips to decode in all, about: max(1, clips // videos) per video of the train split",
    )
    ap.add_argument(
        "--baseline", default="jpg-90", help="format whose decode time the ratio column divides by"
    )
    args = ap.parse_args()
    check_dataset(args.dataset)
    torch.set_num_threads(1)
    ds = MovingFashionDataset(args.dataset, "train", frames=10, seed=0, crop_size=224, dtype=torch.uint8)
    if len(ds) == 0:
        raise DataFormatError("no product to read in the train split", where=str(args.dataset / "train.json"))
    formats = [
        ImageFormat(".jpg", 80),
        ImageFormat(".jpg", 90),
        ImageFormat(".jpg", 95),
        ImageFormat(".webp", 80),
        ImageFormat(".webp", 90),
        H264Format(1, 18),
        H264Format(1, 23),
        H264Format(8, 18),
    ]
    if args.baseline not in {f.name for f in formats} | {"raw"}:
        ap.error(f"--baseline: one of {', '.join(f.name for f in formats)}, raw; got {args.baseline!r}")
    stats = {f.name: {"bytes": 0, "frames": 0, "cpu": 0.0, "mae": [], "psnr": []} for f in formats}
    stats["raw"] = {"bytes": 0, "frames": 0, "cpu": 0.0, "mae": [0.0], "psnr": [99.0]}
    per_video = max(1, args.clips // max(1, len(ds)))
    # every boxed frame in 8 formats plus raw .npy (hundreds of MB): removed at the end, also on errors
    with tempfile.TemporaryDirectory(prefix="mf-copy-formats-", ignore_cleanup_errors=True) as work:
        tmp = Path(work)
        for vi, rec in enumerate(ds.products):
            video = rec.videos[0]
            frames = sorted(video.boxes)
            live = ds._crops(
                ds._decode(video, frames), np.array([video.boxes[f] for f in frames], np.float32)
            )
            raw_path = tmp / f"{vi}.npy"
            np.save(raw_path, live)
            raw = np.load(raw_path, mmap_mode="r")
            stats["raw"]["bytes"] += raw_path.stat().st_size
            stats["raw"]["frames"] += len(frames)
            for f in formats:
                stats[f.name]["bytes"] += f.write(live, tmp / f"{vi}-{f.name}")
                stats[f.name]["frames"] += len(frames)
            pos = {f: i for i, f in enumerate(frames)}
            for k in range(per_video):
                rows = [pos[f] for f in ds.plan(vi + k * len(ds))[2]]
                order = [*formats, None]
                for f in order[k % len(order) :] + order[: k % len(order)]:
                    t0 = time.process_time()
                    got = np.ascontiguousarray(raw[rows]) if f is None else f.read(rows)
                    dt = time.process_time() - t0
                    s = stats["raw" if f is None else f.name]
                    s["cpu"] += dt
                    if f is not None:
                        s["mae"].append(float(np.abs(got.astype(np.int16) - live[rows]).mean()))
                        s["psnr"].append(psnr(got, live[rows]))
    clips = per_video * len(ds)
    print(
        f"{len(ds)} videos x {per_video} = {clips} clips of T=10 (--clips {args.clips}), crops 224x224 "
        "(live reference: exact decode + crop)"
    )
    base_cpu = stats[args.baseline]["cpu"]
    ratio_head = f"x {args.baseline}"
    print(
        f"{'format':<20}{'KB/frame':>10}{'CPU ms/clip':>13}{ratio_head:>12}{'mean |err|':>12}{'PSNR dB':>10}"
    )
    for name, s in stats.items():
        ratio = f"{s['cpu'] / base_cpu:.2f}x" if base_cpu > 0 else "-"
        print(
            f"{name:<20}{s['bytes'] / s['frames'] / 1024:>10.1f}{1000 * s['cpu'] / clips:>13.2f}{ratio:>12}"
            f"{np.mean(s['mae']):>12.2f}{np.mean(s['psnr']):>10.1f}"
        )


if __name__ == "__main__":
    exit_on_error(main)
