"""`mf publish`: write the dataset folder (official JSON + richer JSONL + media + manifest + datasheet).

Layout (docs/contracts.md "Published dataset")::

    train.json, test.json       official format, source 1 = Regular / 2 = Hard, tracklets {} per video
    entries.jsonl               one DatasetEntry per product, sorted by product id
    videos/<pid>_<n>.mp4        split-screen videos re-encoded (H.264), cropped to the moving half
    shop/<pid>.jpg              front/, rear/, fabric/ alike (non-JPEG sources are re-encoded)
    manifest.json               SHA-256 of every file; datasheet.md; plots/*.png

Only accepted items are published (so no duplicates, no rejected or needs_review items).
Determinism: everything is sorted, JSON is written with fixed formatting, plots carry no
date/software metadata and crops are encoded single-threaded with bit-exact flags, so a rerun
on unchanged input gives byte-identical files. Unchanged media is not copied again
(``.publish-state.json`` remembers source SHA-256 -> output SHA-256); files left from an
earlier publish that no longer belong are removed. Tracklets already written by
``mf-tracklets`` are kept when a product's videos did not change.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from cleaning.splits import rebuild_splits
from movingfashion.media.ffmpeg import transcode
from movingfashion.media.images import encode_image, read_image
from schemas.atomic import atomic_open, atomic_write_bytes, sha256_file, sweep_partials
from schemas.catalog import Catalog, ItemRow
from schemas.dataset import DatasetEntry, Split
from schemas.errors import CatalogError, MediaError, MFError
from schemas.faults import reraise_local_fault
from schemas.items import AssetKind, MediaAsset, Status
from schemas.naming import check_safe_name
from schemas.official import OfficialEntry, read_official, write_official
from schemas.paths import PathEscapeError, inside, resolve_under
from schemas.taxonomy import DF2_CLASSES, PARTITION_SOURCE_CODE, Partition

MEDIA_DIRS = ("videos", "shop", "front", "rear", "fabric")
STATE_FILE = ".publish-state.json"


def _write_if_changed(path: Path, data: bytes) -> bool:
    if path.exists() and path.read_bytes() == data:
        return False
    atomic_write_bytes(path, data)
    return True


class _Publisher:
    def __init__(self, root: Path, out: Path) -> None:
        self.root, self.out = root, out
        self.state_path = out / STATE_FILE
        try:
            self.state: dict[str, Any] = (
                json.loads(self.state_path.read_text()) if self.state_path.exists() else {}
            )
        except json.JSONDecodeError:
            self.state = {}
        self.new_state: dict[str, Any] = {}
        self.copied = self.skipped = 0

    def source(self, asset: MediaAsset) -> Path:
        """The collected file of ``asset``, refused when its path leaves the collection root."""
        return resolve_under(self.root, asset.path or "", what="asset path", root_label="the collection root")

    def place(self, rel: str, asset: MediaAsset, recipe: str) -> str:
        """Produce ``out/rel`` from ``asset``; returns its SHA-256.

        ``recipe``: 'copy', 'jpeg' (re-encode) or 'crop:x1,y1,x2,y2' (cropped H.264).
        """
        dst = inside(self.out, rel, what="published file", root_label="the output folder")
        src = self.source(asset)
        src_sha = asset.sha256 or sha256_file(src)
        prev = self.state.get(rel)
        if (
            prev
            and prev["src"] == src_sha
            and prev["recipe"] == recipe
            and dst.exists()
            and sha256_file(dst) == prev["out"]
        ):
            self.new_state[rel] = prev
            self.skipped += 1
            return prev["out"]
        if not src.is_file():
            raise MediaError("collected file is missing", where=str(src), hint="rerun mf-collect / mf clean")
        if recipe == "copy":
            with open(src, "rb") as fin, atomic_open(dst) as fout:
                shutil.copyfileobj(fin, fout)
        elif recipe == "jpeg":
            atomic_write_bytes(dst, encode_image(read_image(src), ".jpg", quality=95))
        else:
            transcode(src, dst, crop=[float(v) for v in recipe.split(":", 1)[1].split(",")])
        out_sha = sha256_file(dst)
        self.new_state[rel] = {"src": src_sha, "recipe": recipe, "out": out_sha}
        self.copied += 1
        return out_sha


def _is_jpeg(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(3) == b"\xff\xd8\xff"


def publish(
    catalog: Catalog,
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    seed: int = 0,
    test_fraction: float = 0.1,
    keep_going: bool = False,
) -> dict[str, Any]:
    """Write the dataset folder from the accepted items of the catalog; returns counts.

    A product whose media cannot be published (a collected file missing, a crop that does not
    encode) raises :class:`MediaError`; with ``keep_going`` it is left out of this publish
    instead and listed in ``failed`` (product id and error), and the others are published.
    """
    root, out = Path(root), Path(out)
    check_paths(catalog, root, out)  # before anything is written (splits included)
    rows = _publishable(catalog, seed, test_fraction)
    out.mkdir(parents=True, exist_ok=True)
    sweep_partials(out, recursive=True)  # what a killed publish left half-written
    pub = _Publisher(root, out)
    entries: list[DatasetEntry] = []
    failed: list[dict[str, str]] = []
    for r in rows:
        placed = set(pub.new_state)
        try:
            entries.append(_entry(catalog, pub, r))
        except (MFError, OSError) as exc:
            reraise_local_fault(exc)  # disk full etc. is not the product's fault: stop the run
            if not keep_going:
                raise
            for rel in set(pub.new_state) - placed:  # its media leave the dataset with it
                del pub.new_state[rel]
            failed.append({"product": str(r.product_id), "error": str(exc)})
    removed = _remove_stale_media(out, set(pub.new_state))
    _write_official_splits(out, entries)
    lines = "".join(e.model_dump_json(exclude_none=False) + "\n" for e in entries)
    _write_if_changed(out / "entries.jsonl", lines.encode())
    _write_if_changed(out / "datasheet.md", datasheet(entries).encode())
    (out / "plots").mkdir(exist_ok=True)
    _write_if_changed(out / "plots" / "class_histogram.png", class_histogram_png(entries))
    _write_if_changed(out / "plots" / "frames_per_video.png", frames_histogram_png(catalog, entries))
    _write_if_changed(pub.state_path, json.dumps(pub.new_state, indent=1, sort_keys=True).encode() + b"\n")
    manifest = write_manifest(out)
    n_test = sum(e.split == Split.TEST for e in entries)
    return {
        "out": str(out),
        "products": len(entries),
        "train": len(entries) - n_test,
        "test": n_test,
        "videos": sum(len(e.video_paths) for e in entries),
        "files": len(manifest),
        "written": pub.copied,
        "unchanged": pub.skipped,
        "removed": removed,
        "failed": failed,
    }


def check_paths(catalog: Catalog, root: Path, out: Path) -> None:
    """Refuse (:class:`PathEscapeError`) a catalog whose accepted rows would make publish read or
    write outside its folders: a product id that is not a plain file name (it names
    ``videos/<pid>_<n>.mp4`` and ``shop/<pid>.jpg``), or an asset path leaving the collection root."""
    for r in catalog.items(status=Status.ACCEPTED):
        item = f"{r.item.source}/{r.item.source_id}"
        if r.product_id:
            try:
                check_safe_name(r.product_id, what="product id")
            except ValueError as exc:
                raise PathEscapeError(
                    f"accepted item {item}: {exc}; its files would leave the output folder '{out}'",
                    value=r.product_id,
                    what="product_id",
                    root=out,
                    where=str(catalog.path),
                    hint="product ids are written by `mf clean`; rerun it or fix the row",
                ) from None
        for a in catalog.assets(source=r.item.source, source_id=r.item.source_id, status=Status.ACCEPTED):
            if a.path:
                resolve_under(
                    root,
                    a.path,
                    what=f"{a.kind} path of accepted item {item}",
                    where=str(catalog.path),
                    root_label="the collection root",
                )


def _publishable(catalog: Catalog, seed: int, test_fraction: float) -> list[ItemRow]:
    """The accepted rows, sorted by product id, with splits; CatalogError if `mf clean` did not run."""
    rows = catalog.items(status=Status.ACCEPTED)
    for r in rows:
        if not r.product_id or r.df2_class is None:
            raise CatalogError(
                f"accepted item {r.item.source}/{r.item.source_id} lacks product id or class",
                where=str(catalog.path),
                hint="run `mf clean` first",
            )
    if any(r.split is None for r in rows):
        rebuild_splits(catalog, seed=seed, test_fraction=test_fraction)
        rows = catalog.items(status=Status.ACCEPTED)
    return sorted(rows, key=lambda r: r.product_id or "")


def _entry(catalog: Catalog, pub: _Publisher, r: ItemRow) -> DatasetEntry:
    """Place one product's media and describe it."""
    pid = str(r.product_id)
    assets = catalog.assets(source=r.item.source, source_id=r.item.source_id)
    vids = sorted(
        (a for a in assets if a.kind == AssetKind.VIDEO and a.status == Status.ACCEPTED and a.path),
        key=lambda a: a.path,
    )
    sha: dict[str, str] = {}
    video_paths = []
    for n, v in enumerate(vids):
        rel = f"videos/{pid}_{n}.mp4"
        recipe = "copy" if v.crop is None else "crop:" + ",".join(f"{x:g}" for x in v.crop.box)
        sha[rel] = pub.place(rel, v, recipe)
        video_paths.append(rel)
    views: dict[str, str | None] = {}
    for kind in (AssetKind.SHOP, AssetKind.FRONT, AssetKind.REAR, AssetKind.FABRIC):
        imgs = sorted(
            (a for a in assets if a.kind == kind and a.status == Status.ACCEPTED and a.path),
            key=lambda a: ((a.url or "").startswith("splitscreen:"), a.path),
        )
        if not imgs:
            views[str(kind)] = None
            continue
        rel = f"{kind}/{pid}.jpg"
        sha[rel] = pub.place(rel, imgs[0], "copy" if _is_jpeg(pub.source(imgs[0])) else "jpeg")
        views[str(kind)] = rel
    if not video_paths or views["shop"] is None:
        raise CatalogError(
            f"accepted item {pid} has no video or no shop image",
            where=str(catalog.path),
            hint="rerun `mf clean`",
        )
    meta = {
        "title": r.item.title,
        "url": r.item.url,
        "designer": r.item.designer,
        "colour": r.item.colour,
        "source_id": r.item.source_id,
        "source_crops": [v.crop.box if v.crop else None for v in vids],
    }
    return DatasetEntry(
        product_id=pid,
        df2_class=r.df2_class,
        partition=Partition(r.partition),
        split=Split(r.split),
        source=r.item.source,
        video_paths=video_paths,
        img_path=views["shop"],
        front_path=views["front"],
        rear_path=views["rear"],
        fabric_path=views["fabric"],
        video_crops=[None]
        * len(video_paths),  # crops are applied by re-encoding; the loader has nothing to do
        sha256=sha,
        metadata={k: v for k, v in meta.items() if v is not None},
    )


def _remove_stale_media(out: Path, wanted: set[str]) -> int:
    """Delete media left over from an earlier publish; returns how many files went."""
    removed = 0
    for d in MEDIA_DIRS:
        for f in sorted((out / d).glob("*")) if (out / d).is_dir() else []:
            if f.is_file() and f"{d}/{f.name}" not in wanted:
                f.unlink()
                removed += 1
    return removed


def _write_official_splits(out: Path, entries: list[DatasetEntry]) -> None:
    """train.json / test.json; tracklets already written for unchanged videos are kept."""
    for split in (Split.TRAIN, Split.TEST):
        path = out / f"{split}.json"
        old = read_official(path) if path.exists() else {}
        official = {}
        for e in entries:
            if e.split != split:
                continue
            prev = old.get(e.product_id)
            trk = (
                prev.tracklets
                if prev and prev.video_paths == e.video_paths and len(prev.tracklets) == len(e.video_paths)
                else [{} for _ in e.video_paths]
            )
            official[e.product_id] = OfficialEntry(
                video_paths=e.video_paths,
                img_path=e.img_path,
                source=PARTITION_SOURCE_CODE[e.partition],
                tracklets=trk,
            )
        write_official(path, official, indent=None)


def write_manifest(out: Path) -> dict[str, str]:
    """manifest.json: relative path -> SHA-256 of every file in the dataset (except itself and state)."""
    files = {}
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out).as_posix()
        if p.is_file() and rel not in ("manifest.json", STATE_FILE) and not p.name.startswith("."):
            files[rel] = sha256_file(p)
    _write_if_changed(
        out / "manifest.json", (json.dumps({"files": files}, indent=1, sort_keys=True) + "\n").encode()
    )
    return files


def datasheet(entries: list[DatasetEntry]) -> str:
    """Markdown datasheet: counts per class, partition and split."""
    c = Counter((e.df2_class, str(e.partition), str(e.split)) for e in entries)
    n_videos = sum(len(e.video_paths) for e in entries)
    n_train = sum(e.split == Split.TRAIN for e in entries)
    lines = [
        "# MovingFashion-format dataset: datasheet",
        "",
        f"Products: {len(entries)}; videos: {n_videos}; train: {n_train}; test: {len(entries) - n_train}.",
        "",
        "Written by `mf publish` from the accepted items of the catalog (duplicates, non-clothing and",
        "items needing review are left out). Official `source`: 1 = Regular, 2 = Hard.",
        "Split-screen videos are re-encoded, cropped to their moving half.",
        "",
        "| class | name | regular train | regular test | hard train | hard test | total |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for cid, name in DF2_CLASSES.items():
        row = [c[(cid, p, s)] for p in ("regular", "hard") for s in ("train", "test")]
        lines.append(f"| {cid} | {name} | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
    tot = [sum(c[(cid, p, s)] for cid in DF2_CLASSES) for p in ("regular", "hard") for s in ("train", "test")]
    lines.append("| | **total** | " + " | ".join(map(str, tot)) + f" | {sum(tot)} |")
    lines += [
        "",
        "Plots: `plots/class_histogram.png` (products per class and partition), "
        "`plots/frames_per_video.png` (frames per video).",
        "",
    ]
    return "\n".join(lines)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "movingfashion"
    return plt


def class_histogram_png(entries: list[DatasetEntry]) -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4))
    ids = list(DF2_CLASSES)
    reg = [sum(e.df2_class == i and e.partition == Partition.REGULAR for e in entries) for i in ids]
    hard = [sum(e.df2_class == i and e.partition == Partition.HARD for e in entries) for i in ids]
    ax.bar(ids, reg, label="Regular")
    ax.bar(ids, hard, bottom=reg, label="Hard")
    ax.set_xticks(ids, [DF2_CLASSES[i] for i in ids], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("products")
    ax.set_title("Products per class")
    ax.legend()
    fig.tight_layout()
    return _png(fig)


def frames_histogram_png(catalog: Catalog, entries: list[DatasetEntry]) -> bytes:
    plt = _plt()
    frames = []
    for e in entries:
        for a in catalog.assets(
            source=e.source, source_id=e.metadata.get("source_id", e.product_id), kind=AssetKind.VIDEO
        ):
            if a.status == Status.ACCEPTED and a.probe is not None:
                frames.append(a.probe.frames)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(np.array(sorted(frames) or [0]), bins=20)
    ax.set_xlabel("frames per video")
    ax.set_ylabel("videos")
    ax.set_title("Frames per video")
    fig.tight_layout()
    return _png(fig)
