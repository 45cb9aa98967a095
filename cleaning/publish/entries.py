"""One product's media placed and described as its :class:`~schemas.dataset.DatasetEntry`
(:func:`_entry`): its videos (one for a test product), shop image and views."""

from __future__ import annotations

from typing import Any

from cleaning.publish.layout import VIEW_KINDS
from cleaning.publish.products import _accepted, _Group, _key
from cleaning.publish.publisher import _Publisher
from cleaning.publish.recipes import _image_format, _video_recipe
from schemas.catalog import Catalog
from schemas.dataset import DatasetEntry, Split
from schemas.errors import CatalogError
from schemas.items import AssetKind, MediaAsset
from schemas.official import VideoChoice, pick_test_video, shop_relpath, video_relpath
from schemas.taxonomy import Partition
from schemas.video_items import VIDEO_ITEMS


def _image_recipe(pub: _Publisher, rel: str, asset: MediaAsset, want: str) -> str:
    src = pub.source(asset)
    if not src.is_file():  # place() says it is missing, unless the copy it made stands
        prev = pub.state.get(rel)
        return prev["recipe"] if prev else want
    return "copy" if _image_format(src) == want else want


def _entry(
    catalog: Catalog, pub: _Publisher, g: _Group, test_video_before: str | None = None
) -> tuple[DatasetEntry, list[int]]:
    """Place one product's media and describe it; also returns its videos' frame counts.

    ``test_video_before``: the SHA-256 of the collected video the product was published with in
    test before; a test product keeps that video while it is one of its videos."""
    pid, rep = g.product_id, g.rep
    partition, split = Partition(rep.partition or Partition.HARD), Split(rep.split)
    vids = [(r, v) for r in g.rows for v in _accepted(g.assets[_key(r)], AssetKind.VIDEO)]
    left_out = 0
    before = [i for i, (_, v) in enumerate(vids) if test_video_before and v.sha256 == test_video_before]
    if split == Split.TEST and len(vids) > 1 and before:
        left_out, vids = len(vids) - 1, [vids[before[0]]]
    elif split == Split.TEST and len(vids) > 1:
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
        sha[rel] = pub.place(rel, v, _video_recipe(v))
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
    sha[img_path] = pub.place(img_path, shops[0], _image_recipe(pub, img_path, shops[0], fmt))
    views: dict[str, str | None] = {}
    for kind in VIEW_KINDS:
        imgs = [a for r in g.rows for a in _accepted(g.assets[_key(r)], kind)]
        views[str(kind)] = None
        if imgs:
            rel = f"{kind}/{pid}.jpg"
            sha[rel] = pub.place(rel, imgs[0], _image_recipe(pub, rel, imgs[0], "jpeg"))
            views[str(kind)] = rel
    meta: dict[str, Any] = {
        "title": rep.item.title,
        "url": rep.item.url,
        "designer": rep.item.designer,
        "colour": rep.item.colour,
        "source_id": rep.item.source_id,
        VIDEO_ITEMS: [r.item.source_id for r, _ in vids],
        "source_crops": [v.crop.box if v.crop else None for _, v in vids],
    }
    if len(g.rows) > 1:
        meta["merged_items"] = [r.item.source_id for r in g.rows]
        meta["merged_product_ids"] = [str(r.product_id) for r in g.rows]
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
