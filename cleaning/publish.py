"""`mf publish`: write the dataset folder in the real MovingFashion archive's layout, and prove it.

Layout (docs/contracts.md "Published dataset")::

    train.json, test.json       official format: source 0 = Hard, 1 = Regular; tracklets {} per video
    videos/<pid>_<n>.mp4        split-screen videos re-encoded (H.264), cropped to the moving half
    imgs/<pid>.jpg | .png       the shop image: JPEG for Regular, PNG for Hard (re-encoded when the
                                collected file is in the other format)
    front/, rear/, fabric/      <pid>.jpg where collected (non-JPEG sources re-encoded)
    entries.jsonl               one DatasetEntry per product, sorted by product id
    plots/*.png                 class histogram, frames per video
    pairs/, boxes/, datasheet.md, README.md (card), croissant.json, manifest.json
                                written by :func:`movingfashion.archive.describe.describe`

**Products.** Only accepted items are published (no duplicates, no rejected or needs_review
items: the result's ``held_back`` lists those two with their reasons, so a maintainer sees what
waits for review; rerun ``mf publish`` after ``mf-tracklets build --catalog`` and ``mf review``
to refresh the splits). Accepted items whose shop images are one picture (the same SHA-256, or found duplicate by
the ``shop_images`` cleaning step, directly or through other items' shop images) and that share
partition and class are *one product with several videos*, the way the archive holds the same
shop item seen in several posts. Its id, shop image and views are those of the member with the
smallest item key (the member whose split the whole group follows, see :mod:`cleaning.splits`);
its videos come member by member, each member's by path. A **test** product keeps one video,
:func:`schemas.official.pick_test_video` (the longest, then the largest frame, then the first by
item and path); its other videos are published in neither split.

None of the items a reviewer rejected in ``mf review`` is published
(``schemas.review.apply_review``, which also applies class changes made there).
Determinism: everything is sorted, JSON is written with fixed formatting, plots carry no
date/software metadata and crops are encoded single-threaded with bit-exact flags, so a rerun
on unchanged input gives byte-identical files. Unchanged media is not copied again
(``.publish-state.json`` remembers source SHA-256 -> output SHA-256); files left from an
earlier publish that no longer belong are removed (the older layout's ``shop/`` too). Tracklets
already written by ``mf-tracklets`` are kept when a product's videos did not change.

Last, :func:`movingfashion.archive.verify.verify_dataset` audits the folder: the result's
``verify`` says whether every archive invariant holds (``mf publish`` exits 1 when one breaks),
and only then does ``archive=True`` zip the folder (:mod:`movingfashion.archive.pack`).
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cleaning.mih import UnionFind
from cleaning.splits import rebuild_splits
from cleaning.steps.state import SPLITSCREEN_URL, item_key
from movingfashion.archive.describe import describe
from movingfashion.archive.verify import verify_dataset
from movingfashion.media.ffmpeg import transcode
from movingfashion.media.images import encode_image, read_image
from schemas.atomic import atomic_open, atomic_write_bytes, sha256_file, sweep_partials, write_if_changed
from schemas.catalog import Catalog, ItemRow
from schemas.dataset import DatasetEntry, DatasetInfo, Split
from schemas.errors import CatalogError, MediaError, MFError
from schemas.faults import reraise_local_fault
from schemas.items import AssetKind, MediaAsset, Status
from schemas.naming import check_safe_name
from schemas.official import (
    LEGACY_SHOP_DIR,
    SHOP_DIR,
    VIDEO_DIR,
    OfficialEntry,
    VideoChoice,
    pick_test_video,
    read_official,
    shop_relpath,
    video_relpath,
    write_official,
)
from schemas.paths import PathEscapeError, inside, resolve_under
from schemas.review import apply_review
from schemas.taxonomy import DF2_CLASSES, PARTITION_SOURCE_CODE, Partition

VIEW_KINDS = (AssetKind.FRONT, AssetKind.REAR, AssetKind.FABRIC)
#: Folders of published media; files in them that no longer belong are removed on republish.
MEDIA_DIRS = (VIDEO_DIR, SHOP_DIR, *(str(k) for k in VIEW_KINDS), LEGACY_SHOP_DIR)
STATE_FILE = ".publish-state.json"


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

        ``recipe``: 'copy', 'jpeg' / 'png' (re-encode) or 'crop:x1,y1,x2,y2' (cropped H.264).
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
        elif recipe in ("jpeg", "png"):
            suffix = ".jpg" if recipe == "jpeg" else ".png"
            atomic_write_bytes(dst, encode_image(read_image(src), suffix, quality=95))
        else:
            transcode(src, dst, crop=[float(v) for v in recipe.split(":", 1)[1].split(",")])
        out_sha = sha256_file(dst)
        self.new_state[rel] = {"src": src_sha, "recipe": recipe, "out": out_sha}
        self.copied += 1
        return out_sha


def _image_format(path: Path) -> str | None:
    """'jpeg' or 'png' by the file's magic bytes, else None."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head == b"\x89PNG\r\n\x1a\n":
        return "png"
    return None


@dataclass
class _Group:
    """Accepted items that are one product: the same shop image, partition and class."""

    rows: list[ItemRow]  #: sorted by item key; the first one names the product
    assets: dict[str, list[MediaAsset]]  #: item key -> its assets

    @property
    def rep(self) -> ItemRow:
        return self.rows[0]

    @property
    def product_id(self) -> str:
        return str(self.rep.product_id)


def _key(r: ItemRow) -> str:
    return item_key(r.item.source, r.item.source_id)


def _accepted(assets: list[MediaAsset], kind: AssetKind) -> list[MediaAsset]:
    """Accepted assets of one kind; images collected before derived (split-screen) ones, then by path."""
    return sorted(
        (a for a in assets if a.kind == kind and a.status == Status.ACCEPTED and a.path),
        key=lambda a: ((a.url or "").startswith(SPLITSCREEN_URL), a.path),
    )


def product_groups(catalog: Catalog, rows: list[ItemRow]) -> list[_Group]:
    """The accepted rows as products (see the module docstring), sorted by product id."""
    assets = {_key(r): catalog.assets(source=r.item.source, source_id=r.item.source_id) for r in rows}
    uf = UnionFind()
    for r in rows:
        shops = _accepted(assets[_key(r)], AssetKind.SHOP)
        uf.add(("item", _key(r)))
        if shops:
            uf.union(("item", _key(r)), ("path", shops[0].path))
            if shops[0].sha256:
                uf.union(("item", _key(r)), ("sha", shops[0].sha256))
    for a in catalog.assets(kind=AssetKind.SHOP):
        if a.path and a.duplicate_of:
            uf.union(("path", a.path), ("path", a.duplicate_of))
    by_group: dict[tuple[Any, ...], list[ItemRow]] = {}
    for r in sorted(rows, key=_key):
        by_group.setdefault((uf.find(("item", _key(r))), r.partition, r.df2_class), []).append(r)
    groups = [_Group(members, {_key(m): assets[_key(m)] for m in members}) for members in by_group.values()]
    return sorted(groups, key=lambda g: g.product_id)


def publish(
    catalog: Catalog,
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    seed: int = 0,
    test_fraction: float = 0.1,
    keep_going: bool = False,
    progress: Callable[[Iterable[_Group]], Iterable[_Group]] | None = None,
    info: DatasetInfo | None = None,
    archive: bool = False,
    workers: int | None = None,
) -> dict[str, Any]:
    """Write the dataset folder from the accepted items of the catalog, verify it; returns counts.

    ``progress`` wraps the loop over products (e.g. a progress bar).

    A product whose media cannot be published (a collected file missing, a crop that does not
    encode) raises :class:`MediaError`; with ``keep_going`` it is left out of this publish
    instead and listed in ``failed`` (product id and error), and the others are published.
    ``info`` describes the dataset (Croissant metadata, card). ``verify`` in the result is the
    audit of the written folder; ``archive`` zips the folder beside it when the audit is clean.
    """
    root, out = Path(root), Path(out)
    check_paths(catalog, root, out)  # before anything is written (splits included)
    rows = apply_review(catalog, _publishable(catalog, seed, test_fraction))  # rejected in review: out
    groups = product_groups(catalog, rows)
    out.mkdir(parents=True, exist_ok=True)
    sweep_partials(out, recursive=True)  # what a killed publish left half-written
    pub = _Publisher(root, out)
    entries: list[DatasetEntry] = []
    frames: list[int] = []
    failed: list[dict[str, str]] = []
    for g in progress(groups) if progress else groups:
        placed = set(pub.new_state)
        try:
            entry, n = _entry(catalog, pub, g)
        except (MFError, OSError) as exc:
            reraise_local_fault(exc)  # disk full etc. is not the product's fault: stop the run
            if not keep_going:
                raise
            for rel in set(pub.new_state) - placed:  # its media leave the dataset with it
                del pub.new_state[rel]
            failed.append({"product": g.product_id, "error": str(exc)})
            continue
        entries.append(entry)
        frames += n
    removed = _remove_stale_media(out, set(pub.new_state))
    _write_official_splits(out, entries)
    lines = "".join(e.model_dump_json(exclude_none=False) + "\n" for e in entries)
    write_if_changed(out / "entries.jsonl", lines.encode())
    (out / "plots").mkdir(exist_ok=True)
    write_if_changed(out / "plots" / "class_histogram.png", class_histogram_png(entries))
    write_if_changed(out / "plots" / "frames_per_video.png", frames_histogram_png(frames))
    write_if_changed(pub.state_path, json.dumps(pub.new_state, indent=1, sort_keys=True).encode() + b"\n")
    described = describe(out, info, data_date=max((r.updated_at for r in rows), default=None))
    report = verify_dataset(out, workers=workers)
    n_test = sum(e.split == Split.TEST for e in entries)
    res: dict[str, Any] = {
        "out": str(out),
        "products": len(entries),
        "train": len(entries) - n_test,
        "test": n_test,
        "videos": sum(len(e.video_paths) for e in entries),
        "multi_video_products": sum(len(e.video_paths) > 1 for e in entries),
        "test_videos_left_out": sum(e.metadata.get("test_videos_left_out", 0) for e in entries),
        "files": described["files"],
        "date_published": described["date_published"],
        "written": pub.copied,
        "unchanged": pub.skipped,
        "removed": removed,
        "failed": failed,
        **held_back(catalog),
        "verify": {"ok": report.ok, "breaks": [b.describe() for b in report.breaks]},
        "archive": None,
    }
    if archive and report.ok:
        from movingfashion.archive.pack import pack_dataset

        path, digest = pack_dataset(out)
        res["archive"] = {"path": str(path), "sha256": digest}
    return res


def held_back(catalog: Catalog) -> dict[str, Any]:
    """What publish leaves out of train.json/test.json until it is accepted, and why: every item
    that is ``needs_review`` (association check, carousel pick, tracklet flags, ...) or
    ``rejected`` (bad media, non-clothing, a reviewer's reject), with its reason; the counts by
    the stage that decided (the reason's prefix)."""
    rows = []
    for status in (Status.NEEDS_REVIEW, Status.REJECTED):
        for r in catalog.items(status=status):
            rows.append(
                {
                    "item": item_key(r.item.source, r.item.source_id),
                    "product_id": r.product_id,
                    "status": str(status),
                    "reason": r.reason or "",
                }
            )
    by: dict[str, int] = {}
    for h in rows:
        stage = h["reason"].split(":", 1)[0] if ":" in h["reason"] else "other"
        key = f"{h['status']}/{stage}"
        by[key] = by.get(key, 0) + 1
    return {"held_back": rows, "held_back_by_reason": dict(sorted(by.items()))}


def check_paths(catalog: Catalog, root: Path, out: Path) -> None:
    """Refuse (:class:`PathEscapeError`) a catalog whose accepted rows would make publish read or
    write outside its folders: a product id that is not a plain file name (it names
    ``videos/<pid>_<n>.mp4`` and ``imgs/<pid>.jpg``), or an asset path leaving the collection root."""
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


def _image_recipe(pub: _Publisher, asset: MediaAsset, want: str) -> str:
    return "copy" if _image_format(pub.source(asset)) == want else want


def _entry(catalog: Catalog, pub: _Publisher, g: _Group) -> tuple[DatasetEntry, list[int]]:
    """Place one product's media and describe it; also returns its videos' frame counts."""
    pid, rep = g.product_id, g.rep
    partition, split = Partition(rep.partition or Partition.HARD), Split(rep.split)
    vids = [(r, v) for r in g.rows for v in _accepted(g.assets[_key(r)], AssetKind.VIDEO)]
    left_out = 0
    if split == Split.TEST and len(vids) > 1:
        keep = pick_test_video(
            [
                VideoChoice(
                    v.probe.frames if v.probe else 0,
                    v.probe.width if v.probe else 0,
                    v.probe.height if v.probe else 0,
                    f"{_key(r)}/{v.path}",
                )
                for r, v in vids
            ]
        )
        left_out, vids = len(vids) - 1, [vids[keep]]
    sha: dict[str, str] = {}
    video_paths = []
    for n, (_, v) in enumerate(vids):
        rel = video_relpath(pid, n)
        recipe = "copy" if v.crop is None else "crop:" + ",".join(f"{x:g}" for x in v.crop.box)
        sha[rel] = pub.place(rel, v, recipe)
        video_paths.append(rel)
    shops = [a for r in g.rows for a in _accepted(g.assets[_key(r)], AssetKind.SHOP)]
    if not video_paths or not shops:
        raise CatalogError(
            f"accepted item {pid} has no video or no shop image",
            where=str(catalog.path),
            hint="rerun `mf clean`",
        )
    img_path = shop_relpath(pid, partition)
    fmt = "png" if partition == Partition.HARD else "jpeg"
    sha[img_path] = pub.place(img_path, shops[0], _image_recipe(pub, shops[0], fmt))
    views: dict[str, str | None] = {}
    for kind in VIEW_KINDS:
        imgs = [a for r in g.rows for a in _accepted(g.assets[_key(r)], kind)]
        views[str(kind)] = None
        if imgs:
            rel = f"{kind}/{pid}.jpg"
            sha[rel] = pub.place(rel, imgs[0], _image_recipe(pub, imgs[0], "jpeg"))
            views[str(kind)] = rel
    meta: dict[str, Any] = {
        "title": rep.item.title,
        "url": rep.item.url,
        "designer": rep.item.designer,
        "colour": rep.item.colour,
        "source_id": rep.item.source_id,
        "video_items": [r.item.source_id for r, _ in vids],
        "source_crops": [v.crop.box if v.crop else None for _, v in vids],
    }
    if len(g.rows) > 1:
        meta["merged_items"] = [r.item.source_id for r in g.rows]
    if left_out:
        meta["test_videos_left_out"] = left_out
    entry = DatasetEntry(
        product_id=pid,
        df2_class=rep.df2_class,
        partition=partition,
        split=split,
        source=rep.item.source,
        video_paths=video_paths,
        img_path=img_path,
        front_path=views["front"],
        rear_path=views["rear"],
        fabric_path=views["fabric"],
        video_crops=[None]
        * len(video_paths),  # crops are applied by re-encoding; the loader has nothing to do
        sha256=sha,
        metadata={k: v for k, v in meta.items() if v is not None},
    )
    return entry, [v.probe.frames for _, v in vids if v.probe is not None]


def _remove_stale_media(out: Path, wanted: set[str]) -> int:
    """Delete media left over from an earlier publish (the older layout's too); returns how many went."""
    removed = 0
    for d in MEDIA_DIRS:
        folder = out / d
        for f in sorted(folder.glob("*")) if folder.is_dir() else []:
            if f.is_file() and f"{d}/{f.name}" not in wanted:
                f.unlink()
                removed += 1
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
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


def frames_histogram_png(frames: list[int]) -> bytes:
    """Histogram of the published videos' frame counts."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(np.array(sorted(frames) or [0]), bins=20)
    ax.set_xlabel("frames per video")
    ax.set_ylabel("videos")
    ax.set_title("Frames per video")
    fig.tight_layout()
    return _png(fig)
