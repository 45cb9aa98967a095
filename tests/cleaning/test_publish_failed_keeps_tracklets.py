"""A product that fails in one publish (its video's place taken by a folder, its collected file
damaged) leaves the split files for that run, but its tracklet files stay: the publish after the
fault puts its ground truth back instead of leaving it to be built (and reviewed) again."""

from __future__ import annotations

import json
import shutil

from annotations.tracklet_files import read_video_tracklets, set_official_tracklet
from cleaning.publish import publish
from schemas.catalog import Catalog
from schemas.official import read_official
from tests.cleaning.test_publish_stale_tracklets import _tracklet_files_of

BOX = {"0": [1.0, 2.0, 30.0, 40.0]}


def test_a_failed_product_gets_its_tracklets_back_once_the_fault_is_fixed(
    cleaned_world, catalog_copy, tmp_path
):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        publish(cat, cleaned_world.root, out)
        train = read_official(out / "train.json")
        pid = sorted(train)[0]
        video = train[pid].video_paths[0]
        files = _tracklet_files_of(out, pid, video)  # what mf-tracklets build wrote (and review checked)
        set_official_tracklet(out, read_video_tracklets(files[0]))
        assert read_official(out / "train.json")[pid].tracklets[0] == BOX
        (out / video).unlink()
        (out / video).mkdir()  # a folder where the video goes: the product fails this run
        res = publish(cat, cleaned_world.root, out, keep_going=True)  # as mf publish runs it
        assert [f["product"] for f in res["failed"]] == [pid]
        assert pid not in read_official(out / "train.json")
        assert all(f.is_file() for f in files)  # its boxes stay, recorded as publish's own
        assert files[0].relative_to(out).as_posix() not in res["removed_tracklets"]
        assert json.loads((out / ".publish-held.json").read_text())[video]["product_id"] == pid
        assert res["verify"]["ok"], res["verify"]["breaks"]
        shutil.rmtree(out / video)  # the fault fixed
        res = publish(cat, cleaned_world.root, out)
    assert res["failed"] == [] and res["verify"]["ok"], res["verify"]["breaks"]
    assert read_official(out / "train.json")[pid].tracklets[0] == BOX  # not rebuilt: kept
    assert video not in res["without_tracklets"]
