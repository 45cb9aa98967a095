import pytest
import torch

from movingfashion.seam.features import choose_query, mean_iou
from schemas.dataset import Tracklet, VideoTracklets
from schemas.errors import DataFormatError
from tests.movingfashion.helpers import write_image
from tests.movingfashion.seam.synthetic import synthetic_bank


def test_query_is_the_inference_tracklet_with_the_best_mean_iou_with_the_ground_truth():
    gt = {0: [10, 10, 50, 90], 5: [12, 10, 52, 90], 9: [14, 10, 54, 90]}
    truth = Tracklet(video="v.mp4", boxes=gt, mode="ground-truth")  # never the query itself
    other = Tracklet(
        video="v.mp4",
        boxes={0: [100, 10, 140, 90], 5: [100, 10, 140, 90]},
        scores={0: 0.99, 5: 0.99},
        mode="inference",
    )
    partial = Tracklet(video="v.mp4", boxes={0: [10, 10, 50, 90]}, scores={0: 0.9}, mode="inference")
    good = Tracklet(
        video="v.mp4",
        boxes={0: [11, 10, 51, 90], 5: [12, 11, 52, 90], 9: [14, 10, 54, 91]},
        scores={0: 0.5, 5: 0.6, 9: 0.7},
        mode="inference",
        noise={5: "blur"},
    )
    vt = VideoTracklets(
        product_id="p",
        video="v.mp4",
        frames=10,
        width=200,
        height=100,
        tracklets=[truth, other, partial, good],
        ground_truth=0,
    )
    q = choose_query(gt, vt)
    assert q.source == "tracklets[3]" and q.boxes == good.boxes and q.scores == good.scores
    assert q.noise == {5: "blur"}
    assert 0.9 < q.iou < 1.0 and mean_iou(partial.boxes, gt) < q.iou
    # without the richer file, or without inference tracklets in it, the ground truth is the query;
    # its IoU is unknown (None), not 1.0: no inference tracklet was measured
    for rich in (None, vt.model_copy(update={"tracklets": [truth]})):
        q = choose_query(gt, rich)
        assert (q.boxes, q.scores, q.source, q.iou) == (gt, {}, "ground_truth", None)
        assert q.fallback == "no_inference_tracklet" and q.best_iou is None and not q.below_min_iou


def test_bank_subset_keeps_the_gallery_and_the_targets():
    bank = synthetic_bank(6, videos_per_product=2, pool=4)
    sub = bank.subset([1, 4])
    assert len(sub) == 2 and sub.gallery_ids == bank.gallery_ids
    assert sub.targets.tolist() == [0, 2] and torch.equal(sub.fmaps[1], bank.fmaps[4])


def _vt(*tracklets):
    return VideoTracklets(
        product_id="p", video="v.mp4", frames=100, width=640, height=480, tracklets=list(tracklets)
    )


def test_query_iou_counts_every_frame_either_tracklet_boxes():
    gt = {f: [100, 100, 200, 300] for f in range(10)}
    # follows the item for the ground truth's 10 frames, then another object for 90 more
    drift = {**gt, **{f: [400, 50, 500, 250] for f in range(10, 100)}}
    clean = {f: [104, 104, 204, 304] for f in range(10)}  # the item, a few px off
    assert mean_iou(drift, gt) == 0.1 and mean_iou(gt, gt) == 1.0
    assert mean_iou({f: b for f, b in gt.items() if f < 5}, gt) == 0.5  # missing frames still count
    q = choose_query(
        gt,
        _vt(
            Tracklet(video="v.mp4", boxes=drift, mode="inference"),
            Tracklet(video="v.mp4", boxes=clean, mode="inference"),
        ),
    )
    assert q.source == "tracklets[1]" and 0.85 < q.iou < 0.95 and q.best_iou == q.iou and not q.below_min_iou


def test_a_query_below_the_minimum_iou_falls_back_to_the_ground_truth_and_is_flagged():
    """Only with a minimum asked for (the default follows the paper: no minimum)."""
    gt = {f: [100, 100, 200, 300] for f in range(10)}
    elsewhere = Tracklet(video="v.mp4", boxes={f: [400, 50, 500, 250] for f in range(10)}, mode="inference")
    q = choose_query(gt, _vt(elsewhere), min_iou=0.5)
    assert (q.boxes, q.source, q.iou) == (gt, "ground_truth", None)  # its IoU is not 1.0
    assert q.best_iou == 0.0 and q.below_min_iou and q.fallback == "below_min_iou"
    half = Tracklet(video="v.mp4", boxes={f: b for f, b in gt.items() if f < 4}, mode="inference")
    q = choose_query(gt, _vt(half), min_iou=0.5)  # mean IoU 0.4
    assert q.below_min_iou and q.iou is None and q.best_iou == 0.4
    q = choose_query(gt, _vt(half), min_iou=0.4)
    assert q.source == "tracklets[0]" and q.iou == 0.4 and not q.below_min_iou and q.fallback is None
    assert choose_query(gt, None).best_iou is None and not choose_query(gt, None).below_min_iou


def test_the_default_query_is_the_best_inference_tracklet_whatever_its_iou():
    """Paper section 5: the inference tracklet with the highest mean IoU with the ground truth is
    the query, even a poor one (the ground truth used to stand in below IoU 0.5)."""
    from movingfashion.seam.config import EvalConfig
    from movingfashion.seam.features import QUERY_MIN_IOU

    assert QUERY_MIN_IOU == EvalConfig().query_min_iou == 0.0  # the evaluation setting's default
    gt = {f: [100, 100, 200, 300] for f in range(10)}
    half = Tracklet(video="v.mp4", boxes={f: b for f, b in gt.items() if f < 4}, mode="inference")
    for q in (choose_query(gt, _vt(half)), choose_query(gt, _vt(half), EvalConfig().query_min_iou)):
        assert q.source == "tracklets[0]" and q.boxes == half.boxes
        assert q.iou == q.best_iou == 0.4 and q.fallback is None and not q.below_min_iou
    elsewhere = Tracklet(video="v.mp4", boxes={f: [400, 50, 500, 250] for f in range(10)}, mode="inference")
    q = choose_query(gt, _vt(elsewhere))
    assert q.source == "tracklets[0]" and q.iou == 0.0  # not even overlapping: still the query


def _tiny_encoder():
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 1), nn.AdaptiveAvgPool2d(4))


def test_the_bank_records_each_querys_iou_and_the_fallbacks(tiny_dataset, tmp_path):
    import json
    import shutil

    from movingfashion.seam.features import build_bank

    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    boxes = json.loads((root / "test.json").read_text())["102"]["tracklets"]  # videos 102_0, 102_1
    far = {f: [b[0], 0, b[2], 30] for f, b in boxes[0].items()}  # above the item: no overlap
    for n, trk in ((0, far), (1, boxes[1])):
        vt = _vt(
            Tracklet(video=f"videos/102_{n}.mp4", boxes={int(f): b for f, b in trk.items()}, mode="inference")
        )
        vt = vt.model_copy(update={"product_id": "102", "video": f"videos/102_{n}.mp4", "frames": 50})
        (root / "tracklets" / f"102_{n}.json").write_text(vt.model_dump_json())
    cache = tmp_path / "cache"
    bank = build_bank(root, "test", _tiny_encoder(), crop_size=32, pool=4, query_min_iou=0.5, cache_dir=cache)
    assert bank.tracklet_sources == ["ground_truth", "tracklets[0]"]
    assert bank.query_ious == [None, 1.0] and bank.query_below_min == [True, False]
    assert bank.query_best_ious == [0.0, 1.0] and bank.query_fallbacks == ["below_min_iou", None]
    sub = bank.subset([1])
    assert sub.query_ious == [1.0] and sub.query_below_min == [False] and sub.query_fallbacks == [None]
    again = build_bank(
        root, "test", _tiny_encoder(), crop_size=32, pool=4, query_min_iou=0.5, cache_dir=cache
    )
    assert again.key == bank.key and again.query_ious == [None, 1.0]  # the records survive the cache
    assert again.query_fallbacks == ["below_min_iou", None]
    summary = json.loads((cache / f"test-{bank.key}.json").read_text())
    assert summary["query_fallbacks"] == {"no_inference_tracklet": 0, "below_min_iou": 1}
    default = build_bank(root, "test", _tiny_encoder(), crop_size=32, pool=4)  # the paper's protocol
    assert default.tracklet_sources == ["tracklets[0]", "tracklets[0]"]
    assert default.query_ious == [0.0, 1.0] and default.query_fallbacks == [None, None]


def test_products_sharing_a_shop_image_share_one_gallery_entry(tiny_dataset, tmp_path):
    """The gallery is every test shop image once: a perfect matcher must hit every query."""
    import json
    import shutil

    from movingfashion.seam.features import build_bank
    from movingfashion.seam.protocol import make_pools, pooled_topk, query_groups

    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    train = json.loads((root / "train.json").read_text())
    test = {pid: train[pid] for pid in ("101", "102", "ab_C")}  # 101.jpg and 102.jpg: the same bytes
    test["x9"] = {**train["ab_C"], "img_path": "imgs/ab_C.png"}  # the same file as ab_C's
    write_image(root / "imgs/ab_C.png", colour=(200, 30, 30))  # unlike 101's and 102's
    (root / "test.json").write_text(json.dumps(test))
    bank = build_bank(root, "test", _tiny_encoder(), crop_size=32, pool=4)
    g = bank.shop_fmaps.float().flatten(1)
    oracle = -torch.cdist(g[bank.targets], g)  # each query scores its own product's image best
    res = pooled_topk(
        oracle, bank.targets, query_groups(bank.partitions, bank.classes), make_pools(len(g), 1, 10, 0), [1]
    )
    assert res["all"]["top1"] == 1.0 and len(g) == 2
    assert bank.gallery_ids == ["101", "ab_C"] and bank.gallery_products == [["101", "102"], ["ab_C", "x9"]]
    assert bank.shop_paths == ["imgs/101.jpg", "imgs/ab_C.png"]
    row = {p: bank.targets[bank.product_ids.index(p)].item() for p in test}
    assert row == {"101": 0, "102": 0, "ab_C": 1, "x9": 1}


def test_a_bank_parses_each_tracklet_file_once_and_a_shared_video_s_query_is_its_product_s(
    shared_video_dataset, monkeypatch
):
    """The dataset read each tracklet file of the split, then the bank parsed every file of the
    folder again (those of no video of the split too): 101_0.json twice, zz_0.json once. Now each file
    of the split is parsed once, by the dataset, and the bank takes each record's. A video two
    products list has a file per product (``<video>@<product>.json``): each one's query is its own."""
    import json
    from pathlib import Path

    from movingfashion import richer_files as richer_files_module
    from movingfashion.seam.features import build_bank

    root = shared_video_dataset  # ab_C lists 101's video, with its own boxes 4 px inside 101's
    train = json.loads((root / "train.json").read_text())
    folder = root / "tracklets"
    plain = json.loads((folder / "101_0.json").read_text())  # product 101's
    shifted = {f: [x + 8, y, x2 + 8, y2] for f, (x, y, x2, y2) in train["101"]["tracklets"][0].items()}
    plain["tracklets"].append({"video": "videos/101_0.mp4", "boxes": shifted, "mode": "inference"})
    (folder / "101_0.json").write_text(json.dumps(plain))
    own = {**plain, "product_id": "ab_C", "ground_truth": None}
    own["tracklets"] = [
        {"video": "videos/101_0.mp4", "boxes": train["ab_C"]["tracklets"][0], "mode": "inference"}
    ]
    (folder / "101_0@ab_C.json").write_text(json.dumps(own))
    for name, pid in (("102_0", "102"), ("zz_0", "zz")):  # a video of the split's; of none
        vt = {
            **plain,
            "product_id": pid,
            "video": f"videos/{name}.mp4",
            "tracklets": [],
            "ground_truth": None,
        }
        (folder / f"{name}.json").write_text(json.dumps(vt))
    parsed: list[str] = []
    real = richer_files_module.read_file_bytes

    def spy(path, *args, **kwargs):
        if kwargs.get("what") == "tracklet file" and Path(path).is_file():
            parsed.append(Path(path).name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(richer_files_module, "read_file_bytes", spy)
    bank = build_bank(root, "train", _tiny_encoder(), crop_size=32, pool=4, select_query=True)
    assert sorted(parsed) == ["101_0.json", "101_0@ab_C.json", "102_0.json"]
    row = {(p, v): i for i, (p, v) in enumerate(zip(bank.product_ids, bank.videos, strict=True))}
    ab_c, p101 = row["ab_C", "videos/101_0.mp4"], row["101", "videos/101_0.mp4"]
    assert bank.tracklet_sources[ab_c] == "tracklets[0]" and bank.query_ious[ab_c] == 1.0
    assert bank.tracklet_sources[p101] == "tracklets[1]" and 0 < bank.query_ious[p101] < 1


def _with_a_product_file_of_101(tiny_dataset, tmp_path):
    """A copy of the tiny dataset whose ``101_0.json`` also holds an inference tracklet on the
    truth, and a ``101_0@101.json`` beside it whose one tracklet is the truth moved 8 px right;
    returns the copy and the truth's boxes."""
    import json
    import shutil

    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    folder = root / "tracklets"
    plain = json.loads((folder / "101_0.json").read_text())
    gt = plain["tracklets"][0]["boxes"]
    plain["tracklets"].append({"video": "videos/101_0.mp4", "boxes": gt, "mode": "inference"})
    (folder / "101_0.json").write_text(json.dumps(plain))
    shifted = {f: [x + 8, y, x2 + 8, y2] for f, (x, y, x2, y2) in gt.items()}
    own = {**plain, "ground_truth": None}
    own["tracklets"] = [{"video": "videos/101_0.mp4", "boxes": shifted, "mode": "inference"}]
    (folder / "101_0@101.json").write_text(json.dumps(own))
    return root, gt


def test_a_bank_reads_no_file_left_from_when_a_video_was_shared(tiny_dataset, tmp_path):
    """A video no other product lists has its ``<stem>.json``; a ``<stem>@<product>.json`` left
    from when it was shared is stale, and the dataset does not read it. The bank took it (its own
    lookup preferred the product's file); now it takes the file the dataset read."""

    from movingfashion.seam.features import build_bank

    root, _ = _with_a_product_file_of_101(tiny_dataset, tmp_path)
    bank = build_bank(root, "train", _tiny_encoder(), crop_size=32, pool=4, select_query=True)
    i = bank.product_ids.index("101")
    assert bank.tracklet_sources[i] == "tracklets[1]" and bank.query_ious[i] == 1.0


def test_a_changed_shop_image_or_video_gives_the_bank_another_key(tiny_dataset, tmp_path):
    """Republished media under the same names (same JSON) are not served from the stale cached
    bank, nor from the loader's decoded shop images kept in this process."""
    import json
    import os
    import shutil

    from movingfashion.seam.features import build_bank

    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    cache = tmp_path / "cache"
    build = lambda: build_bank(root, "test", _tiny_encoder(), crop_size=32, pool=4, cache_dir=cache)  # noqa: E731
    first = build()
    assert build().key == first.key  # nothing changed: the cached bank
    test = json.loads((root / "test.json").read_text())
    img = root / next(iter(test.values()))["img_path"]
    write_image(img, colour=(250, 250, 5))  # a republished shop image, same name
    changed = build()
    assert changed.key != first.key
    assert not torch.equal(changed.shop_fmaps, first.shop_fmaps)
    video = root / next(iter(test.values()))["video_paths"][0]
    st = video.stat()
    os.utime(video, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a re-encoded video, same name
    assert build().key != changed.key


def test_a_cached_bank_parses_its_split_once_and_keys_it_as_before(tiny_dataset, tmp_path, split_loads):
    """With a cache the split was parsed twice: for the key's media stamps, then by the dataset.
    Parsed once now (the dataset takes the rows the key read); the key is bank_key's, and a
    changed split still changes it."""
    import json
    import shutil

    from movingfashion.seam.features import bank_key, build_bank

    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    cache = tmp_path / "cache"

    def build(**kw):
        return build_bank(root, "train", _tiny_encoder(), crop_size=32, pool=4, cache_dir=cache, **kw)

    first = build()
    assert split_loads.count("train.json") == 1
    assert first.key == bank_key(root, "train", "encoder|q0", 4, 32)
    assert build().key == first.key and (cache / f"train-{first.key}.pt").is_file()
    data = json.loads((root / "train.json").read_text())
    frame, box = next(iter(data["101"]["tracklets"][0].items()))
    box[2] -= 1
    (root / "train.json").write_text(json.dumps(data))
    split_loads.clear()
    changed = build()
    assert changed.key != first.key and split_loads.count("train.json") == 1
    data["101"]["tracklets"][0][frame] = [box[2], box[1], box[0], box[3]]  # x1 > x2: a bad row
    (root / "train.json").write_text(json.dumps(data))
    with pytest.raises(DataFormatError, match="product '101'"):
        build()


def test_a_skip_bank_leaves_a_bad_row_out_and_is_no_answer_to_raise(tiny_dataset, tmp_path, caplog):
    """on_bad='skip' over a split with a bad row: the product is in neither the queries nor the
    gallery, listed once in ``skipped`` and counted in one warning (before, the gallery step
    raised). The cached bank that skipped it is served to 'skip' callers only: a 'raise' caller
    gets the error, not the bank (on_bad is no part of the key)."""
    import json
    import logging
    import shutil

    from movingfashion.seam.features import build_bank

    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    train = json.loads((root / "train.json").read_text())
    good = dict(train)
    train["102"] = {k: v for k, v in train["102"].items() if k != "img_path"}  # a bad row
    (root / "train.json").write_text(json.dumps(train))
    cache = tmp_path / "cache"

    def build(on_bad):
        return build_bank(
            root, "train", _tiny_encoder(), crop_size=32, pool=4, cache_dir=cache, on_bad=on_bad
        )

    with caplog.at_level(logging.WARNING):
        bank = build("skip")
    assert "102" not in bank.product_ids and set(bank.product_ids) == {"101", "ab_C"}
    assert "102" not in {p for g in bank.gallery_products for p in g}
    assert [pid for pid, _ in bank.skipped] == ["102"] and "img_path" in bank.skipped[0][1]
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len([m for m in said if "skipped 1 product (" in m]) == 1, said
    assert not [m for m in said if "102" in m], said  # named in `skipped`, not warned about again
    (pt,) = cache.glob("*.pt")
    stamp = pt.stat().st_mtime_ns
    with pytest.raises(DataFormatError, match=r"product '102'.*img_path"):
        build("raise")
    again = build("skip")  # the skip bank, from the cache
    assert again.key == bank.key and pt.stat().st_mtime_ns == stamp and again.skipped == bank.skipped
    # a bank that skipped nothing is the one either mode builds: served to both
    (root / "train.json").write_text(json.dumps(good))
    clean = build("raise")
    assert clean.skipped == [] and clean.key != bank.key
    (clean_pt,) = set(cache.glob("*.pt")) - {pt}
    stamp = clean_pt.stat().st_mtime_ns
    assert build("skip").key == clean.key and clean_pt.stat().st_mtime_ns == stamp


def test_a_cached_bank_is_not_served_once_the_other_split_unshares_a_video(tiny_dataset, tmp_path):
    """Whether a video is shared (so which tracklet file the dataset reads for a product) depends
    on the other split file too. A cached train bank built while test.json also listed 101's
    video (its query from ``101_0@101.json``) was served after test.json stopped listing it: the
    key did not cover test.json. Now the bank is built again, with the query from ``101_0.json``."""
    import json

    from movingfashion.seam.features import build_bank

    root, gt = _with_a_product_file_of_101(tiny_dataset, tmp_path)
    test = json.loads((root / "test.json").read_text())
    unshared = dict(test)
    test["t9"] = {**test["102"], "video_paths": ["videos/101_0.mp4"], "tracklets": [gt]}
    (root / "test.json").write_text(json.dumps(test))  # 101's video shared with a test product

    def build():
        bank = build_bank(
            root, "train", _tiny_encoder(), crop_size=32, pool=4, select_query=True, cache_dir=tmp_path / "c"
        )
        i = bank.product_ids.index("101")
        return bank.tracklet_sources[i], bank.query_ious[i]

    source, iou = build()
    assert source == "tracklets[0]" and iou < 1  # the product's own file of a shared video
    (root / "test.json").write_text(json.dumps(unshared))
    assert build() == ("tracklets[1]", 1.0)  # no longer shared: the video's own file
