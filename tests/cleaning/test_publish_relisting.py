"""A published product stays what it was when the catalog grows: a new item carrying its shop
image (a re-listing of the same garment, whose key sorts first) joins it without renaming it,
dropping its tracklets or replacing its test video; and publish rewrites the split files under
the dataset's lock, so tracklets written meanwhile (mf-tracklets build / import, review picks)
are kept."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

import cleaning.publish.run as publish_run
from annotations.tracklet_files import set_official_tracklet
from cleaning.publish import publish
from cleaning.publish.split_files import _kept_tracklets
from schemas.atomic import sha256_file
from schemas.catalog import Catalog
from schemas.dataset import DatasetEntry, Split, Tracklet, VideoTracklets
from schemas.items import AssetKind, Status
from schemas.official import OfficialEntry, read_official, write_official

BOX = {"0": [1.0, 2.0, 30.0, 40.0]}


def _relist(cat: Catalog, root: Path, pid: str, new_id: str, video_from: str) -> None:
    """A new accepted item of product ``pid``'s source: its shop image is a copy of ``pid``'s (a
    duplicate the cleaning found), its video a copy of item ``video_from``'s, its split unset."""
    old = next(r for r in cat.items(status=Status.ACCEPTED) if r.product_id == pid)
    src, sid = old.item.source, old.item.source_id
    assert f"{src}/{new_id}" < f"{src}/{sid}"  # the newcomer's key sorts first
    donor = next(r for r in cat.items(status=Status.ACCEPTED) if r.product_id == video_from)
    shop = next(a for a in cat.assets(source=src, source_id=sid) if a.kind == AssetKind.SHOP)
    video = next(
        a
        for a in cat.assets(source=donor.item.source, source_id=donor.item.source_id)
        if a.kind == AssetKind.VIDEO and a.status == Status.ACCEPTED
    )
    cat.upsert_item(
        old.item.model_copy(update={"source_id": new_id, "url": f"{old.item.url}-{new_id}"}),
        status=Status.ACCEPTED,
        product_id=new_id,
        df2_class=old.df2_class,
        partition=old.partition,
    )
    for asset, dup in ((shop, shop.path), (video, None)):
        rel = f"{src}/{new_id}/{Path(asset.path).name}"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / asset.path, root / rel)
        cat.upsert_asset(
            asset.model_copy(
                update={
                    "source": src,
                    "source_id": new_id,
                    "url": f"{asset.url}-{new_id}",
                    "path": rel,
                    "duplicate_of": dup,
                }
            )
        )


def _video_sources(cat: Catalog) -> dict[str, str]:
    return {a.path: a.sha256 for a in cat.assets(kind=AssetKind.VIDEO) if a.path}


def test_a_relisting_keeps_the_published_test_product_its_id_tracklets_and_video(
    catalog_copy, root_copy, tmp_path
):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        first = publish(cat, root_copy, out)
        assert first["verify"]["ok"]
        test = read_official(out / "test.json")
        pid = min(test)
        video = test[pid].video_paths[0]
        before = sha256_file(out / video)
        test[pid].tracklets = [BOX]  # what mf-tracklets wrote for the test video
        write_official(out / "test.json", test, indent=None)
        # the longest video of another product joins it: it would be picked as its test video
        donor = max(
            (r for r in cat.items(status=Status.ACCEPTED) if r.product_id != pid),
            key=lambda r: max(
                (
                    a.probe.frames
                    for a in cat.assets(source=r.item.source, source_id=r.item.source_id)
                    if a.kind == AssetKind.VIDEO and a.probe is not None
                ),
                default=0,
            ),
        )
        _relist(cat, root_copy, pid, "0000001", donor.product_id)
        second = publish(cat, root_copy, out)
    assert second["verify"]["ok"] and not second["failed"]
    splits = {s: read_official(out / f"{s}.json") for s in ("train", "test")}
    assert "0000001" not in splits["train"] and "0000001" not in splits["test"]
    assert pid in splits["test"], "the published product was renamed"
    assert splits["test"][pid].video_paths == [video]
    assert sha256_file(out / video) == before, "the test product's video was replaced"
    assert splits["test"][pid].tracklets == [BOX]
    entry = next(
        DatasetEntry.model_validate_json(x)
        for x in (out / "entries.jsonl").read_text().splitlines()
        if DatasetEntry.model_validate_json(x).product_id == pid
    )
    assert sorted(entry.metadata["merged_items"])[0] == "0000001"
    assert entry.metadata["test_videos_left_out"] == 1


def test_a_relisting_of_a_train_product_adds_its_video_and_keeps_the_tracklets(
    catalog_copy, root_copy, tmp_path
):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        publish(cat, root_copy, out)
        train = read_official(out / "train.json")
        pid, other = sorted(train)[:2]
        train[pid].tracklets = [BOX] * len(train[pid].video_paths)
        write_official(out / "train.json", train, indent=None)
        videos = list(train[pid].video_paths)
        before = {v: sha256_file(out / v) for v in videos}
        _relist(cat, root_copy, pid, "0000001", other)
        res = publish(cat, root_copy, out)
    assert res["verify"]["ok"] and not res["failed"]
    train2 = read_official(out / "train.json")
    assert "0000001" not in train2 and pid in train2
    assert train2[pid].video_paths[: len(videos)] == videos
    assert len(train2[pid].video_paths) == len(videos) + 1
    assert {v: sha256_file(out / v) for v in videos} == before
    assert train2[pid].tracklets == [BOX] * len(videos) + [{}]


def test_tracklets_follow_their_video_when_a_new_video_comes_before_it():
    old_state = {"videos/p_0.mp4": {"src": "a" * 64, "recipe": "copy", "out": "x"}}
    new_state = {
        "videos/p_0.mp4": {"src": "b" * 64, "recipe": "copy", "out": "y"},
        "videos/p_1.mp4": {"src": "a" * 64, "recipe": "copy", "out": "x"},
    }
    prev = OfficialEntry(video_paths=["videos/p_0.mp4"], img_path="imgs/p.jpg", source=1, tracklets=[BOX])
    entry = DatasetEntry(
        product_id="p",
        df2_class=1,
        partition="regular",
        split=Split.TRAIN,
        source="netaporter",
        video_paths=["videos/p_0.mp4", "videos/p_1.mp4"],
        img_path="imgs/p.jpg",
        video_crops=[None, None],
    )
    assert _kept_tracklets(entry, prev, old_state, new_state) == [{}, BOX]
    # the same path made from another collected video has lost its tracklets
    same = entry.model_copy(update={"video_paths": ["videos/p_0.mp4"], "video_crops": [None]})
    assert _kept_tracklets(same, prev, old_state, new_state) == [{}]


def test_a_tracklet_written_while_publish_runs_is_kept_and_publish_holds_the_dataset_lock(
    cleaned_world, catalog_copy, tmp_path, monkeypatch
):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        publish(cat, cleaned_world.root, out)
    pid, entry = sorted(read_official(out / "train.json").items())[0]
    video = entry.video_paths[0]
    # held_videos: called once the media are placed, before the dataset's lock is taken
    # (_remove_stale_media, probed here before, now runs under the lock, after the split files)
    real_held, real_describe = publish_run.held_videos, publish_run.describe
    held = []

    def tracklets_written_meanwhile(*args, **kwargs):  # mf-tracklets import finishing now
        vt = VideoTracklets(
            product_id=pid,
            video=video,
            frames=48,
            width=320,
            height=384,
            tracklets=[Tracklet(video=video, boxes={0: [1, 2, 30, 40]})],
            ground_truth=0,
        )
        set_official_tracklet(out, vt)
        return real_held(*args, **kwargs)

    def describe_while_locked(*args, **kwargs):  # another writer cannot take the lock now
        fd = os.open(out / ".lock", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held.append(False)
        except BlockingIOError:
            held.append(True)
        finally:
            os.close(fd)
        return real_describe(*args, **kwargs)

    monkeypatch.setattr(publish_run, "held_videos", tracklets_written_meanwhile)
    monkeypatch.setattr(publish_run, "describe", describe_while_locked)
    with Catalog(catalog_copy) as cat:
        res = publish(cat, cleaned_world.root, out)
    assert res["verify"]["ok"]
    assert read_official(out / "train.json")[pid].tracklets[0] == {"0": [1.0, 2.0, 30.0, 40.0]}
    assert held == [True]


def test_a_repost_outliving_its_taken_down_original_keeps_the_products_id_split_and_tracklets(
    catalog_copy, root_copy, tmp_path
):
    """The original item of a published test product is taken down at its source (``gone:``)
    while an exact re-post of it (its video, its shop image) lives on: the product was
    published anew under the re-post's id and its tracklet file deleted (any human correction
    lost); now the re-post keeps the product's id, split, video and tracklets."""
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        publish(cat, root_copy, out)
        test = read_official(out / "test.json")
        pid = min(test)
        video = test[pid].video_paths[0]
        test[pid].tracklets = [BOX]  # what a person corrected
        write_official(out / "test.json", test, indent=None)
        _relist(cat, root_copy, pid, "0000001", pid)  # its video too: an exact re-post
        orig = next(r for r in cat.items(status=Status.ACCEPTED) if r.product_id == pid)
        cat.set_item_state("0000001" and orig.item.source, "0000001", split=orig.split)  # as clean places it
        cat.set_item_state(
            orig.item.source, orig.item.source_id, status=Status.REJECTED, reason="gone: http_404"
        )
        second = publish(cat, root_copy, out)
    assert second["verify"]["ok"] and not second["failed"]
    splits = {s: read_official(out / f"{s}.json") for s in ("train", "test")}
    assert "0000001" not in splits["train"] and "0000001" not in splits["test"]
    assert splits["test"][pid].video_paths == [video] and splits["test"][pid].tracklets == [BOX]
    assert (
        second["withdrawn"] == []
        and {"item": f"{orig.item.source}/0000001", "product_id": "0000001", "published_as": pid}
        in second["merged"]
    )
