"""``score_cleaning``: the figures follow the decisions recorded in the catalog, from nothing
decided (zero recall everywhere) to the world's own truth written in (perfect scores)."""

from __future__ import annotations

import pytest

from movingfashion.world.scoring.cleaning import recall_by_kind, score_cleaning
from movingfashion.world.seed import seed_catalog_from_world
from schemas.catalog import Catalog
from schemas.items import AssetKind, Crop, Status


@pytest.fixture()
def seeded(small_world, world_truth, tmp_path):
    """A catalog as a collector leaves it: every item downloaded, nothing decided."""
    path, root = tmp_path / "catalog.sqlite", tmp_path / "root"
    with Catalog(path) as cat:
        seed_catalog_from_world(small_world, cat, root, world_truth)
    return path, root


def test_nothing_decided_finds_nothing(seeded, small_world, world_truth):
    path, root = seeded
    with Catalog(path) as cat:
        s = score_cleaning(cat, root, world_truth, small_world)
    dup = s["duplicates"]
    assert dup["predicted"] == 0 and dup["recall"] == 0.0 and dup["actual"] >= 3
    ss = s["split_screen"]
    assert ss["predicted"] == 0 and ss["recall"] == 0.0
    assert ss["actual"] == sum(v.split_screen is not None for v in world_truth.videos)
    assert s["taxonomy_accuracy"] == 0.0
    n_nonclothing = sum(p.df2_class is None for p in world_truth.products)
    assert s["nonclothing"] == {"products": n_nonclothing, "rejected_with_reason": 0}
    # always reported: a catalog the association check never ran on says so
    assert s["wrong_association"]["status"] == "not run" and s["wrong_association"]["actual"] >= 1


def test_the_true_decisions_score_perfectly_and_a_wrong_link_costs_precision(
    seeded, small_world, world_truth
):
    path, root = seeded
    with Catalog(path) as cat:
        by_url = {a.url: a for a in cat.assets(kind=AssetKind.VIDEO)}
        asset = {v.video_id: by_url[f"world://{v.path}"] for v in world_truth.videos}
        for v in world_truth.videos:
            a = asset[v.video_id]
            if v.duplicate_of:
                orig = asset[v.duplicate_of]
                cat.set_asset_state(a.source, a.source_id, "video", url=a.url, duplicate_of=orig.path)
            if v.split_screen:
                cat.set_asset_state(
                    a.source, a.source_id, "video", url=a.url, crop=Crop(box=v.split_screen.moving_box)
                )
        for p in world_truth.products:
            if p.df2_class is None:
                cat.set_item_state(
                    p.source, p.product_id, status=Status.REJECTED, reason="taxonomy: non_clothing (bag)"
                )
            else:
                cat.set_item_state(p.source, p.product_id, df2_class=p.df2_class)
            if p.wrong_shop:
                cat.set_item_state(p.source, p.product_id, reason="association: low match score 0.1")
        cat.set_meta("associations", {"ran": True})
        s = score_cleaning(cat, root, world_truth, small_world)
        assert s["duplicates"]["precision"] == s["duplicates"]["recall"] == 1.0
        assert set(s["duplicates"]["recall_by_kind"].values()) == {1.0}
        assert s["split_screen"]["f1"] == 1.0 and s["taxonomy_accuracy"] == 1.0
        assert s["nonclothing"]["rejected_with_reason"] == s["nonclothing"]["products"] >= 3
        assert s["wrong_association"]["precision"] == s["wrong_association"]["recall"] == 1.0
        # one more link, between two videos that are not duplicates: a false pair
        plain = [v for v in world_truth.videos if not v.duplicate_of and v.split_screen is None]
        originals = {v.duplicate_of for v in world_truth.videos if v.duplicate_of}
        a, b = (asset[v.video_id] for v in [v for v in plain if v.video_id not in originals][:2])
        cat.set_asset_state(a.source, a.source_id, "video", url=a.url, duplicate_of=b.path)
        worse = score_cleaning(cat, root, world_truth, small_world)["duplicates"]
    assert worse["recall"] == 1.0 and worse["predicted"] == s["duplicates"]["predicted"] + 1
    assert worse["precision"] == pytest.approx(
        s["duplicates"]["true_positives"] / worse["predicted"], abs=1e-4
    )


def test_duplicates_kept_as_a_copy_from_another_source_are_still_scored(seeded, small_world, world_truth):
    """A world video and its duplicate both collected again through another source (the world's
    ``urls.txt`` or ``local`` fixtures, as the README's collect step does): the keep rule may keep
    that copy, so both world videos point at a video outside the world. They are still one cluster
    (found); the pair read as missed, exact recall 0.0 on a world whose duplicates were all found."""
    from schemas.items import MediaAsset, SourceItem

    path, root = seeded
    with Catalog(path) as cat:
        by_url = {a.url: a for a in cat.assets(kind=AssetKind.VIDEO)}
        asset = {v.video_id: by_url[f"world://{v.path}"] for v in world_truth.videos}
        dups = [v for v in world_truth.videos if v.duplicate_of]
        assert dups
        for v in dups:
            orig = asset[v.duplicate_of]
            where = {"source": "local", "source_id": v.video_id, "url": None}
            copy = MediaAsset.model_validate(
                {**orig.model_dump(), **where, "path": f"local/{v.video_id}/video.mp4"}
            )
            cat.upsert_item(SourceItem(source="local", source_id=v.video_id), status=Status.ACCEPTED)
            cat.upsert_asset(copy)
            for a in (orig, asset[v.video_id]):
                cat.set_asset_state(a.source, a.source_id, "video", url=a.url, duplicate_of=copy.path)
        s = score_cleaning(cat, root, world_truth, small_world)
    assert s["items_not_in_world"] == len(dups)
    assert s["duplicates"]["recall"] == 1.0 and s["duplicates"]["precision"] == 1.0, s["duplicates"]
    assert set(s["duplicates"]["recall_by_kind"].values()) == {1.0}


def test_a_flag_a_reviewer_then_rejected_counts_as_caught(seeded, small_world, world_truth):
    """The review reject replaces cleaning's ``association:`` reason: the wrong pair the check
    caught and the reviewer confirmed was scored as missed."""
    from schemas.review import record_decision

    path, root = seeded
    with Catalog(path) as cat:
        wrong = [p for p in world_truth.products if p.wrong_shop and p.videos and p.df2_class is not None]
        assert wrong
        for p in world_truth.products:
            cat.set_item_state(p.source, p.product_id, df2_class=p.df2_class, product_id=p.product_id)
        for p in wrong:
            cat.set_item_state(
                p.source, p.product_id, status=Status.NEEDS_REVIEW, reason="association: low match score 0.1"
            )
        cat.set_meta("associations", {"ran": True})
        for p in wrong:
            record_decision(cat, video=f"videos/{p.product_id}_0.mp4", product_id=p.product_id, kind="reject")
        assert all(cat.get_item(p.source, p.product_id).reason.startswith("review:") for p in wrong)
        s = score_cleaning(cat, root, world_truth, small_world)["wrong_association"]
    assert s["missed"] == [] and s["recall"] == 1.0, s


def test_recovered_stills_mean_max_and_wrong_size(tmp_path):
    """Recovered split-screen stills off by 1 and 3 grey levels, and one of the wrong size: mean
    2.0, worst 3.0, one counted apart (not a number the others' figures hide)."""
    world, root = tmp_path / "world", tmp_path / "root"
    with Catalog(tmp_path / "catalog.sqlite") as cat:
        ss = score_cleaning(cat, *_split_screen_recoveries(cat, world, root), world)["split_screen"]
    assert ss["recovered_shops"] == 3 and ss["recovered_wrong_size"] == 1
    assert ss["recovered_mean_abs_diff"] == 2.0 and ss["recovered_max_abs_diff"] == 3.0


def _split_screen_recoveries(cat, world, root):
    """Three split-screen videos whose recovered stills are off by 1 and 3 grey levels, and one
    half the size of the world's still: (root, truth)."""
    import numpy as np

    from movingfashion.media.images import write_image
    from movingfashion.world.truth import WorldTruth
    from schemas.items import MediaAsset, SourceItem

    products, videos = [], []
    for i, off in enumerate((1, 3, None)):
        pid = f"70000000000000000{i}"
        still = np.full((40, 30, 3), 100, np.uint8)
        write_image(world / f"stills/{pid}.png", still)
        write_image(root / f"tiktok/{pid}/shop.png", still[:20] if off is None else still + off)
        products.append(
            dict(
                product_id=pid,
                source="tiktok",
                partition="hard",
                df2_class=1,
                kind="clothing",
                title=pid,
                description=pid,
                videos=[pid],
            )
        )
        videos.append(
            dict(
                video_id=pid,
                product_id=pid,
                source="tiktok",
                partition="hard",
                path=f"media/{pid}.mp4",
                sha256=f"{i}" * 64,
                frames=10,
                fps=30.0,
                width=60,
                height=40,
                codec="h264",
                gt=f"gt/{pid}.json",
                split_screen=dict(
                    layout="left-right",
                    still_half="right",
                    still_box=[30, 0, 60, 40],
                    moving_box=[0, 0, 30, 40],
                    still_image=f"stills/{pid}.png",
                ),
            )
        )
        cat.upsert_item(SourceItem(source="tiktok", source_id=pid))
        vpath = f"tiktok/{pid}/video.mp4"
        cat.upsert_asset(
            MediaAsset(
                source="tiktok", source_id=pid, kind=AssetKind.VIDEO, url="v", path=vpath, sha256=f"{i}" * 64
            )
        )
        cat.upsert_asset(
            MediaAsset(
                source="tiktok",
                source_id=pid,
                kind=AssetKind.SHOP,
                url=f"splitscreen:{vpath}",
                path=f"tiktok/{pid}/shop.png",
            )
        )
    return root, WorldTruth.model_validate(dict(seed=0, products=products, videos=videos))


def test_recall_by_kind_counts_only_pairs_with_both_videos_collected():
    """A duplicate whose source was never collected cannot be found: the overall recall leaves
    it out, and so does its kind's (it read 0.0 for a pair nobody could detect)."""
    from types import SimpleNamespace as V

    videos = [
        V(video_id="a", duplicate_of=None, duplicate_kind=None),
        V(video_id="b", duplicate_of="a", duplicate_kind="reencode"),
        V(video_id="c", duplicate_of="gone", duplicate_kind="exact"),  # its source failed to download
        V(video_id="d", duplicate_of="a", duplicate_kind="exact"),
    ]
    keys = {"a", "b", "c", "d"}
    found = {frozenset(("a", "b")), frozenset(("a", "d"))}
    assert recall_by_kind(videos, keys, found) == {"exact": 1.0, "reencode": 1.0}
    assert recall_by_kind(videos, keys, {frozenset(("a", "b"))}) == {"exact": 0.0, "reencode": 1.0}


def test_recall_by_variant_names_each_planted_re_post_kind():
    """``mf stats --world`` splits duplicate recall per re-post variant too (a mirrored turned
    re-post counted as one more 'reencode' hid that none of them was found)."""
    from types import SimpleNamespace as V

    videos = [
        V(video_id="a", duplicate_of=None, duplicate_kind=None, variant=None),
        V(video_id="b", duplicate_of="a", duplicate_kind="reencode", variant="mirror_rotate_90"),
        V(video_id="c", duplicate_of="a", duplicate_kind="subclip", variant="trim"),
        V(video_id="d", duplicate_of="a", duplicate_kind="exact", variant=None),
    ]
    found = {frozenset(("a", "c")), frozenset(("a", "d"))}
    by_variant = recall_by_kind(videos, {"a", "b", "c", "d"}, found, "variant")
    assert by_variant == {"mirror_rotate_90": 0.0, "trim": 1.0}


def test_items_of_another_world_are_counted_and_said_not_silently_left_out(
    seeded, small_world, world_truth, caplog
):
    """A catalog grown over several worlds (batches) is scored on this world's items only; the
    figures say how many they cover and how many they leave out (they said nothing)."""
    path, root = seeded
    with Catalog(path) as cat:
        s = score_cleaning(cat, root, world_truth, small_world)
        assert s["items_not_in_world"] == 0 and s["scored_items"] == len(world_truth.products)
        first = cat.items()[0]
        cat.upsert_item(first.item.model_copy(update={"source_id": "other-world-1"}), status=Status.ACCEPTED)
        with caplog.at_level("WARNING", logger="movingfashion.world.scoring"):
            s = score_cleaning(cat, root, world_truth, small_world)
    assert s["items_not_in_world"] == 1 and s["scored_items"] == len(world_truth.products)
    assert "1 catalog items are not in this world" in caplog.text


def test_stats_with_a_world_that_knows_none_of_the_items_exits_2(seeded, small_world, tmp_path, capsys):
    """The finding: ``mf stats --world OTHER`` only warned that the items were not in this
    world and printed all-empty figures, exit 0; now one line names the world, exit 2. The
    catalog's own world still scores."""
    import json

    from tests.mf_cli import run_mf
    from tests.world_fixtures import other_world

    path, root = seeded
    other = other_world(small_world, tmp_path / "other")
    args = ["stats", "--catalog", str(path), "--root", str(root), "--world"]
    code, out, err = run_mf([*args, str(other)], capsys)
    assert code == 2 and out == "" and "Traceback" not in err, err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: {other}: none of the catalog's ") and "nothing to score" in line
    assert "pass the world this catalog was collected from" in line
    code, out, err = run_mf([*args, str(small_world), "--json"], capsys)
    assert code == 0 and json.loads(out)["truth"]["scored_items"] > 0, err


def test_stats_with_a_root_holding_none_of_the_files_names_the_option(seeded, small_world, tmp_path, capsys):
    """The finding: ``mf stats --world W --root WRONG`` failed deep in the scoring on one file
    ("WRONG/tiktok/.../shop-recovered.png: image file not found (check the image path)"); now it
    is refused as mf clean and mf publish refuse a wrong root: one line naming --root, exit 2."""
    from tests.mf_cli import run_mf

    path, _ = seeded
    wrong = tmp_path / "elsewhere"
    wrong.mkdir()
    args = ["stats", "--catalog", str(path), "--root", str(wrong), "--world", str(small_world)]
    code, out, err = run_mf(args, capsys)
    assert code == 2 and out == "" and "Traceback" not in err, err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: {wrong}: --root lacks the collected files of "), line
    assert "nothing was scored" in line and "the one mf-collect wrote" in line


def test_a_wrong_carousel_pick_counts_as_a_published_wrong_pair(seeded, small_world, world_truth):
    """The association figures count only the wrong pairs the world plants: a carousel pick that
    chose another product's picture, left accepted, was published and reported nowhere but under
    ``shop_pick``. ``published_pairs`` counts it, whatever made the pair wrong."""
    path, root = seeded
    from schemas.atomic import sha256_file

    carousel = [
        p
        for p in world_truth.products
        if not p.wrong_shop and p.videos and p.df2_class is not None and "shop" in p.images
        if sum(v.startswith("candidate-") for v in p.images) >= 2
    ]
    assert carousel, "the small world has no carousel with two candidates"
    p = carousel[0]
    with Catalog(path) as cat:
        for q in world_truth.products:
            if q.df2_class is None:
                cat.set_item_state(
                    q.source, q.product_id, status=Status.REJECTED, reason="taxonomy: non_clothing"
                )
            else:
                cat.set_item_state(q.source, q.product_id, status=Status.ACCEPTED, df2_class=q.df2_class)
                cat.set_asset_state(q.source, q.product_id, "shop", status=Status.ACCEPTED)
            if q.wrong_shop:
                cat.set_item_state(
                    q.source,
                    q.product_id,
                    status=Status.NEEDS_REVIEW,
                    reason="association: low match score 0.1",
                )
        cat.set_meta("associations", {"ran": True})
        true_sha = sha256_file(small_world / p.images["shop"])
        cands = [
            a
            for a in cat.assets(source=p.source, source_id=p.product_id)
            if a.kind == AssetKind.CANDIDATE_SHOP
        ]
        wrong = next(a for a in cands if a.sha256 != true_sha)

        def pick(cand):
            cat.upsert_asset(
                cand.model_copy(
                    update={
                        "kind": AssetKind.SHOP,
                        "url": f"candidate:{cand.path}",
                        "status": Status.ACCEPTED,
                    }
                )
            )

        pick(wrong)
        s = score_cleaning(cat, root, world_truth, small_world)
        # the planted pairs were all caught: the check's own figures are perfect ...
        assert s["wrong_association"]["precision"] == s["wrong_association"]["recall"] == 1.0
        # ... yet one wrong pair would be published: the picker's
        pairs = s["published_pairs"]
        assert pairs["published_wrong"] == 1 and pairs["published_wrong_items"] == [p.product_id], pairs
        assert pairs["by_cause"]["pick"] == {"wrong": 1, "published": 1}
        assert pairs["by_cause"]["planted"]["published"] == 0 < pairs["by_cause"]["planted"]["wrong"]
        assert pairs["precision"] == round(1 - 1 / pairs["published"], 4)
        assert pairs["flags"]["recall"] < 1.0 and pairs["flags"]["precision"] == 1.0
        # held for a pick too close to call: not published, and the flag counts as caught
        cat.set_item_state(
            p.source,
            p.product_id,
            status=Status.NEEDS_REVIEW,
            reason="shop: candidates too alike to pick one",
        )
        held = score_cleaning(cat, root, world_truth, small_world)["published_pairs"]
        assert held["published_wrong"] == 0 and held["precision"] == 1.0
        assert held["flags"]["recall"] == held["flags"]["precision"] == 1.0
        assert held["wrong_held"] == held["wrong"] == pairs["wrong"]
        # the right candidate picked and accepted: a right pair, published
        cat.set_item_state(p.source, p.product_id, status=Status.ACCEPTED, reason=None)
        cat.set_asset_state(
            p.source, p.product_id, "shop", url=f"candidate:{wrong.path}", status=Status.REJECTED
        )
        pick(next(a for a in cands if a.sha256 == true_sha))
        right = score_cleaning(cat, root, world_truth, small_world)["published_pairs"]
    assert right["published_wrong"] == 0 and "pick" not in right["by_cause"]
    assert right["published"] == pairs["published"] and right["recall"] == 1.0


def test_a_planted_wrong_carousel_the_picker_holds_counts_as_caught_by_the_picker(
    seeded, small_world, world_truth
):
    """Issue 14: a planted wrong carousel whose pick the carousel picker held (needs_review for its
    pick, before the association check saw it) was counted as missed by ``wrong_association``,
    though cleaning held it. It now counts as caught, under ``caught_by["picker"]``; the check's
    own figures stay beside (``association_check``), and a picker hold on a right pick is a false
    flag (``false_flags_by["picker"]``), so neither mechanism's work hides in the other's."""
    from cleaning.steps.shop_images import TOO_ALIKE, UNBACKED_PICK
    from schemas.atomic import sha256_file

    path, root = seeded
    carousel = [
        p
        for p in world_truth.products
        if not p.wrong_shop and p.videos and p.df2_class is not None and "shop" in p.images
        if sum(v.startswith("candidate-") for v in p.images) >= 2
    ]
    assert len(carousel) >= 2, "the small world has fewer than two carousels with two candidates"
    planted, right = carousel[:2]
    # the world with one more planted pair: planted's carousel holds other items' product shots
    truth = world_truth.model_copy(deep=True)
    for q in truth.products:
        if q.product_id == planted.product_id:
            q.wrong_shop, q.wrong_shop_kind, q.wrong_shop_of = True, "carousel", right.product_id
    with Catalog(path) as cat:
        for q in truth.products:
            if q.df2_class is None:
                cat.set_item_state(q.source, q.product_id, status=Status.REJECTED, reason="taxonomy: x")
                continue
            cat.set_item_state(q.source, q.product_id, status=Status.ACCEPTED, df2_class=q.df2_class)
            cat.set_asset_state(q.source, q.product_id, "shop", status=Status.ACCEPTED)
            if q.wrong_shop and q.product_id != planted.product_id:  # the check caught the others
                cat.set_item_state(
                    q.source, q.product_id, status=Status.NEEDS_REVIEW, reason="association: low match 0.1"
                )
        cat.set_meta("associations", {"ran": True})
        for q, hold in (
            (planted, f"{UNBACKED_PICK} (below 0.5)"),
            (right, f"{TOO_ALIKE} (scores [0.9, 0.89])"),
        ):
            true_sha = sha256_file(small_world / q.images["shop"])
            cands = [
                a
                for a in cat.assets(source=q.source, source_id=q.product_id)
                if a.kind == AssetKind.CANDIDATE_SHOP
            ]
            # planted: a candidate that is not the item's (the world's carousel held no right one);
            # right: the item's own picture, held all the same (a false hold)
            pick = next(a for a in cands if (a.sha256 == true_sha) == (q is right))
            cat.upsert_asset(
                pick.model_copy(
                    update={
                        "kind": AssetKind.SHOP,
                        "url": f"candidate:{pick.path}",
                        "status": Status.ACCEPTED,
                    }
                )
            )
            cat.set_item_state(q.source, q.product_id, status=Status.NEEDS_REVIEW, reason=hold)
        s = score_cleaning(cat, root, truth, small_world)["wrong_association"]
    others = sorted(
        p.product_id for p in truth.products if p.wrong_shop and p.product_id != planted.product_id
    )
    assert s["missed"] == [] and s["recall"] == 1.0 and s["recall_by_kind"]["carousel"] == 1.0, s
    assert s["caught_by"] == {"association_check": others, "picker": [planted.product_id]}, s
    assert s["false_flags"] == s["false_flags_by"]["picker"] == [right.product_id], s
    assert s["false_flags_by"]["association_check"] == [] and s["held_unplanted"] == []
    assert s["precision"] == round(len(others + [planted.product_id]) / (len(others) + 2), 4), s
    check = s["association_check"]  # the check alone missed it and flagged nothing wrong
    assert check["recall"] == round(len(others) / (len(others) + 1), 4) and check["precision"] == 1.0, check
