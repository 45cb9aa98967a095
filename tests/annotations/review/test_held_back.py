"""What `mf publish` holds back is what the review page queues and what `mf-tracklets review`
decides on: a product the tracklet builder flagged after a republish took it out of the split
files, and an item cleaning flagged that was never published (media from the collection folder,
kept inside it), until a reviewer accepts (the next publish has it) or rejects it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from annotations.cli import tracklets
from annotations.review.queue import build_queue
from annotations.tracklet_files import read_video_tracklets, tracklet_file
from schemas.catalog import MIGRATIONS, Catalog
from schemas.items import AssetKind, Crop, MediaAsset, SourceItem, Status, VideoProbe
from schemas.official import read_official, write_official
from schemas.review import review_states
from tests.annotations.review.conftest import running
from tests.annotations.review.review_dataset import other_catalog
from tests.annotations.review.test_server import _post, _req


def _take_out(ds: Path, pid: str) -> tuple[str, str]:
    """Remove product ``pid`` from the split files and its media from the folder, as a republish
    does with a product it holds back; returns its (video, shop image) paths."""
    for name in ("train.json", "test.json"):
        split = read_official(ds / name)
        if pid in split:
            entry = split.pop(pid)
            write_official(ds / name, split, indent=None)
            return entry.video_paths[0], entry.img_path
    raise KeyError(pid)


def _collect(setup, pid: str, video: Path, shop: Path, **asset) -> tuple[str, str]:
    """Put ``video`` and ``shop`` in a collection folder beside the catalog (its default) as the
    item's accepted assets; returns their paths relative to that folder."""
    base = setup.catalog.parent
    rel_video, rel_shop = f"collected/{pid}/video.mp4", f"collected/{pid}/shop{shop.suffix}"
    for src, rel in ((video, rel_video), (shop, rel_shop)):
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, base / rel)
    source = setup.facts["source"].get(pid, "instagram")
    with Catalog(setup.catalog) as cat:
        cat.upsert_assets(
            [
                MediaAsset(
                    source=source,
                    source_id=pid,
                    kind=AssetKind.VIDEO,
                    url=f"world://{pid}/video",
                    path=rel_video,
                    status=Status.ACCEPTED,
                    **asset,
                ),
                MediaAsset(
                    source=source,
                    source_id=pid,
                    kind=AssetKind.SHOP,
                    url=f"world://{pid}/shop",
                    path=rel_shop,
                    status=Status.ACCEPTED,
                ),
            ]
        )
    return rel_video, rel_shop


def _flag_and_republish(setup, stem: str) -> tuple[str, str, str]:
    """The builder flags ``stem`` (catalog needs_review) and publish runs again: the product
    leaves the split files and the folder keeps only its tracklet file; its collected files are
    in the collection folder. Returns (product, video path, collected video)."""
    ds, f = setup.dataset, setup.facts
    pid = f["product"][stem]
    video, shop = _take_out(ds, pid)
    rel_video, _ = _collect(setup, pid, ds / video, ds / shop)
    (ds / video).unlink()
    (ds / shop).unlink()
    with Catalog(setup.catalog) as cat:
        cat.set_item_state(
            f["source"][pid], pid, status=Status.NEEDS_REVIEW, reason=f"tracklets: {stem}: flagged"
        )
    return pid, video, rel_video


def _cleaning_flagged(setup, pid: str, stem: str) -> str:
    """An item cleaning put in needs_review (a carousel pick), never published: only the catalog
    and the collection know it. Its media are copies of video ``stem``'s. Returns its review name."""
    ds, f = setup.dataset, setup.facts
    with Catalog(setup.catalog) as cat:
        cat.upsert_items(
            [SourceItem(source="instagram", source_id=pid, url=f"world://{pid}", title="held by cleaning")],
            status=Status.NEEDS_REVIEW,
            reason="shop: candidates too alike to pick one",
            product_id=pid,
            df2_class=1,
            partition="hard",
        )
    vp = f["video_path"][stem]
    shop = next((ds / "imgs").glob(f"{f['product'][stem]}.*"))
    vt = read_video_tracklets(tracklet_file(ds, vp))
    probe = VideoProbe(frames=vt.frames, fps=30.0, width=vt.width, height=vt.height, duration_s=3.0)
    _collect(setup, pid, ds / vp, shop, probe=probe)
    return f"{pid}_0"


def _queue(srv) -> dict:
    status, _, body = _req(srv, "GET", f"/api/queue?token={srv.app.token}")
    assert status == 200
    return json.loads(body)


def test_a_product_held_back_after_a_republish_stays_in_the_queue(review_setup):
    ds, f = review_setup.dataset, review_setup.facts
    stem = f["flagged"][0]
    pid, video, rel_video = _flag_and_republish(review_setup, stem)
    with running(review_setup, sample_rate=0.0) as srv:
        q = _queue(srv)
        it = next(i for i in q["items"] if i["stem"] == stem)
        assert it["held_back"] and it["flagged"] and it["video"] == video and it["has_file"]
        assert it["reason"] == read_video_tracklets(tracklet_file(ds, video)).review_reason
        assert q["flagged"] == len(f["flagged"]) and q["held_back"] == 1
        # the page shows the collected files (the dataset's are gone), with the tracklets
        token = srv.app.token
        status, _, body = _req(srv, "GET", f"/api/file?token={token}&video={stem}&file=video")
        assert status == 200 and body == (review_setup.catalog.parent / rel_video).read_bytes()
        status, headers, _ = _req(srv, "GET", f"/api/file?token={token}&video={stem}&file=shop")
        assert status == 200 and headers["Content-Type"].startswith("image/")
        status, _, body = _req(srv, "GET", f"/api/item?token={token}&video={stem}")
        assert status == 200 and json.loads(body)["tracklets"]
        status, _, body = _req(srv, "GET", f"/api/crops?token={token}&video={stem}&tracklet=0")
        assert status == 200 and body[:2] == b"\xff\xd8"
        # the dataset's own videos are not served there, nor anything else
        other = next(i["stem"] for i in q["items"] if not i["held_back"])
        for query in (f"video={other}&file=video", f"video={stem}&file=catalog", "video=nope&file=video"):
            assert _req(srv, "GET", f"/api/file?token={token}&{query}")[0] == 404
        assert _req(srv, "GET", f"/api/file?video={stem}&file=video")[0] == 403  # the token
        # an accept lets the next publish have it
        status, _, body = _post(srv, "/api/decision", {"video": stem, "kind": "accept", "request_id": "a1"})
        assert status == 200, body
    with Catalog(review_setup.catalog) as cat:
        assert cat.get_item(f["source"][pid], pid).status == Status.ACCEPTED


def test_an_item_cleaning_flagged_is_queued_and_decided_on_the_page_and_the_cli(review_setup):
    ds, f = review_setup.dataset, review_setup.facts
    a = _cleaning_flagged(review_setup, "CheldAAAAAA", f["videos"][2])
    b = _cleaning_flagged(review_setup, "CheldBBBBBB", f["videos"][3])
    with running(review_setup, sample_rate=0.0) as srv:
        items = {i["stem"]: i for i in _queue(srv)["items"]}
        assert {a, b} <= set(items)
        it = items[a]
        assert it["held_back"] and it["flagged"] and not it["has_file"] and it["tracklets"] == 0
        assert it["video"] == "videos/CheldAAAAAA_0.mp4" and it["reason"].startswith(
            "shop: candidates too alike"
        )
        assert it["video_src"] == it["shop_src"] == "file" and it["title"] == "held by cleaning"
        status, _, body = _req(srv, "GET", f"/api/item?token={srv.app.token}&video={a}")
        assert status == 200 and json.loads(body)["tracklets"] == [] and json.loads(body)["frames"] > 0
        status, _, _ = _post(
            srv, "/api/decision", {"video": b, "kind": "reject", "reason": "wrong shop image"}
        )
        assert status == 200
    # the command line lists them (with --catalog) and decides on them under the same names
    runner = CliRunner()
    args = ["review", "--dataset", str(ds), "--catalog", str(review_setup.catalog)]
    res = runner.invoke(tracklets, [*args, "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["video"]: r for r in json.loads(res.stdout)["needs_review"]}
    assert rows[a]["held_back"] and b not in rows  # decided: listed with --all only
    res = runner.invoke(tracklets, [*args, "--accept", a])
    assert res.exit_code == 0, res.output
    with Catalog(review_setup.catalog) as cat:
        assert cat.get_item("instagram", "CheldAAAAAA").status == Status.ACCEPTED
        row = cat.get_item("instagram", "CheldBBBBBB")
        assert row.status == Status.REJECTED and row.reason.startswith("review:")
        states = review_states(cat)
        assert states[("videos/CheldAAAAAA_0.mp4", "CheldAAAAAA")].verdict == "accept"
    # a restart still queues both (accepted: not published yet; rejected: its undo stays possible)
    with running(review_setup, sample_rate=0.0) as srv:
        items = {i["stem"]: i for i in _queue(srv)["items"]}
        assert items[a]["state"]["verdict"] == "accept" and items[b]["state"]["verdict"] == "reject"
        status, _, body = _post(srv, "/api/undo", {"video": b, "request_id": "u1"})
        assert status == 200, body
    with Catalog(review_setup.catalog) as cat:
        assert cat.get_item("instagram", "CheldBBBBBB").status == Status.NEEDS_REVIEW
    # without the catalog such a name is unknown, and the error says how to name it
    res = runner.invoke(tracklets, ["review", "--dataset", str(ds), "--accept", a])
    assert res.exit_code != 0 and "--catalog" in str(res.exception or res.output)


def test_held_back_media_stay_inside_the_collection_folder(review_setup, tmp_path):
    f = review_setup.facts
    a = _cleaning_flagged(review_setup, "CheldAAAAAA", f["videos"][2])
    outside = tmp_path.parent / f"{tmp_path.name}-outside.mp4"
    shutil.copyfile(review_setup.dataset / f["video_path"][f["videos"][2]], outside)
    with Catalog(review_setup.catalog) as cat:  # the asset's path leaves the collection folder
        (asset,) = cat.assets(source="instagram", source_id="CheldAAAAAA", kind=AssetKind.VIDEO)
        cat.upsert_asset(asset.model_copy(update={"path": f"../{outside.name}"}))
    try:
        with running(review_setup, sample_rate=0.0) as srv:
            q = _queue(srv)
            it = next(i for i in q["items"] if i["stem"] == a)
            assert it["video_src"] is None and q["missing_media"] == 1
            assert _req(srv, "GET", f"/api/file?token={srv.app.token}&video={a}&file=video")[0] == 404
        # a link inside the folder that leads out of it is not followed out either
        link = review_setup.catalog.parent / "collected" / "CheldAAAAAA" / "link.mp4"
        link.symlink_to(outside)
        with Catalog(review_setup.catalog) as cat:
            cat.upsert_asset(asset.model_copy(update={"path": "collected/CheldAAAAAA/link.mp4"}))
        with running(review_setup, sample_rate=0.0) as srv:
            assert next(i for i in _queue(srv)["items"] if i["stem"] == a)["video_src"] is None
    finally:
        outside.unlink()


def test_a_split_screen_video_shown_uncropped_gets_its_boxes_moved(review_setup):
    """A held-back video whose published copy was cropped out of a split-screen one is shown as
    collected: the tracklet boxes move by the crop's corner, the frame is the collected one's."""
    ds, f = review_setup.dataset, review_setup.facts
    stem = f["flagged"][1]
    pid = f["product"][stem]
    video, shop = _take_out(ds, pid)
    vt = read_video_tracklets(tracklet_file(ds, video))
    probe = VideoProbe(frames=vt.frames, fps=25.0, width=vt.width + 40, height=vt.height + 60, duration_s=1.0)
    _collect(
        review_setup,
        pid,
        ds / video,
        ds / shop,
        crop=Crop(box=[40, 60, vt.width + 40, vt.height + 60]),
        probe=probe,
    )
    (ds / video).unlink()
    with Catalog(review_setup.catalog) as cat:
        cat.set_item_state(f["source"][pid], pid, status=Status.NEEDS_REVIEW, reason="tracklets: flagged")
    q = None
    with Catalog(review_setup.catalog) as cat:
        q = build_queue(ds, 0.0, 0, catalog=cat, collection=review_setup.catalog.parent)
    assert q.by_stem[stem].box_offset == (40, 60)
    with running(review_setup, sample_rate=0.0) as srv:
        status, _, body = _req(srv, "GET", f"/api/item?token={srv.app.token}&video={stem}")
    item = json.loads(body)
    assert status == 200 and (item["width"], item["height"], item["fps"]) == (
        vt.width + 40,
        vt.height + 60,
        25.0,
    )
    gt = vt.tracklets[vt.ground_truth or 0]
    frame = min(gt.boxes)
    x1, y1, x2, y2 = gt.boxes[frame]
    assert item["tracklets"][vt.ground_truth or 0]["boxes"][str(frame)] == [
        x1 + 40,
        y1 + 60,
        x2 + 40,
        y2 + 60,
    ]


def test_a_flagged_tracklet_file_of_a_product_the_catalog_does_not_know_is_queued(review_setup):
    """With the page's default catalog (it knows no item) a flagged tracklet file outside the
    split files is what `mf-tracklets review` lists, so the page queues it too."""
    ds, f = review_setup.dataset, review_setup.facts
    stem = f["flagged"][0]
    video, _ = _take_out(ds, f["product"][stem])
    res = CliRunner().invoke(tracklets, ["review", "--dataset", str(ds), "--json"])
    assert stem in {r["video"] for r in json.loads(res.stdout)["needs_review"]}
    review_setup.catalog.unlink()
    with running(review_setup, sample_rate=0.0, create_catalog=True) as srv:
        it = next(i for i in _queue(srv)["items"] if i["stem"] == stem)
        assert it["held_back"] and it["video"] == video and it["video_src"] == "media"
        assert it["shop_src"] == "media"  # the build record's shop image, when the folder holds it


def test_mf_review_counts_the_held_back_items(review_setup):
    import select
    import signal
    import subprocess
    import sys

    f = review_setup.facts
    _flag_and_republish(review_setup, f["flagged"][0])
    _cleaning_flagged(review_setup, "CheldAAAAAA", f["videos"][2])
    cmd = [sys.executable, "-m", "movingfashion", "review", "--dataset", str(review_setup.dataset)]
    cmd += ["--catalog", str(review_setup.catalog), "--port", "0", "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        assert ready, "mf review printed nothing in 120 s"
        info = json.loads(proc.stdout.readline())
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=180)
    finally:
        proc.kill()
    assert info["flagged"] == len(f["flagged"]) + 1 and info["held_back"] == 2 and info["missing_media"] == 0


def test_every_type_the_collectors_accept_is_served(review_setup):
    """A held-back item's collected .mov video and .gif shop image are served (they were refused
    403 while the queue said nothing was missing), with types a browser takes."""
    from annotations.review.media import CONTENT_TYPES
    from collectors.checks import IMAGE_EXTS, VIDEO_EXTS

    assert {f".{e}" for e in (*VIDEO_EXTS, *IMAGE_EXTS)} <= set(CONTENT_TYPES)
    f = review_setup.facts
    a = _cleaning_flagged(review_setup, "CheldAAAAAA", f["videos"][2])
    base = review_setup.catalog.parent
    with Catalog(review_setup.catalog) as cat:
        assets = {x.kind: x for x in cat.assets(source="instagram", source_id="CheldAAAAAA")}
        for kind, suffix in ((AssetKind.VIDEO, ".mov"), (AssetKind.SHOP, ".gif")):
            old = assets[kind]
            new = Path(old.path).with_suffix(suffix).as_posix()
            (base / old.path).rename(base / new)
            cat.upsert_asset(old.model_copy(update={"path": new}))
    with running(review_setup, sample_rate=0.0) as srv:
        q = _queue(srv)
        it = next(i for i in q["items"] if i["stem"] == a)
        assert it["video_src"] and q["missing_media"] == 0
        for file, ctype in (("video", "video/mp4"), ("shop", "image/gif")):
            status, h, body = _req(srv, "GET", f"/api/file?token={srv.app.token}&video={a}&file={file}")
            assert status == 200 and h["Content-Type"] == ctype, (file, status, body[:80])


def with_candidates(setup) -> tuple[str, list[str]]:
    """A cleaning-flagged item (a look-alike carousel pick) with three collected candidates, the
    shop image one of them: its review name and the candidates' paths in cleaning's order."""
    f = setup.facts
    stem = _cleaning_flagged(setup, "CheldCCCCCC", f["videos"][2])
    base = setup.catalog.parent
    shop = base / "collected/CheldCCCCCC/shop.jpg"
    others = []
    for n in (1, 3):
        rel = f"collected/CheldCCCCCC/candidate-shop-{n}.jpg"
        (base / rel).write_bytes(shop.read_bytes() + bytes([n]))  # other bytes, still a JPEG
        others.append(rel)
    rels = [*others, "collected/CheldCCCCCC/shop.jpg"]  # the pick is a candidate too
    with Catalog(setup.catalog) as cat:
        cat.upsert_assets(
            [
                MediaAsset(
                    source="instagram",
                    source_id="CheldCCCCCC",
                    kind=AssetKind.CANDIDATE_SHOP,
                    url=f"world://c/{rel}",
                    path=rel,
                    status=Status.ACCEPTED,
                )
                for rel in rels
            ]
        )
    return stem, rels


def test_the_carousel_candidates_of_a_look_alike_pick_are_shown_with_the_pick(review_setup):
    """An item flagged "shop: candidates too alike": the page gets every candidate (the
    collected files, in cleaning's order) and which one is the shop image, so a reviewer can see
    whether the pick is the garment before accepting it."""
    stem, rels = with_candidates(review_setup)
    base = review_setup.catalog.parent
    with running(review_setup, sample_rate=0.0) as srv:
        it = next(i for i in _queue(srv)["items"] if i["stem"] == stem)
        assert it["candidates"] == 3 and it["candidate_picked"] == 2  # path order: -1, -3, shop.jpg
        assert "candidate_files" not in it  # paths are not sent
        token = srv.app.token
        bodies = []
        for n in range(3):
            status, headers, body = _req(
                srv, "GET", f"/api/file?token={token}&video={stem}&file=candidate-{n}"
            )
            assert status == 200 and headers["Content-Type"] == "image/jpeg"
            bodies.append(body)
        assert bodies == [(base / rel).read_bytes() for rel in rels]
        assert _req(srv, "GET", f"/api/file?token={token}&video={stem}&file=candidate-3")[0] == 404
        assert _req(srv, "GET", f"/api/file?video={stem}&file=candidate-0")[0] == 403
        plain = next(i for i in _queue(srv)["items"] if not i["held_back"])
        assert plain["candidates"] == 0 and plain["candidate_picked"] is None


def test_the_command_line_chooses_a_candidate_then_accepts(review_setup, capsys):
    """`mf-tracklets review --shop NAME=N` (N as the page numbers candidates, from 1) stores the
    same shop decision the page's "use this one" does; a number out of range or no catalog is
    refused before anything is stored."""
    from schemas.review import list_decisions, review_shops
    from tests.mf_cli import run_tracklets

    stem, rels = with_candidates(review_setup)
    args = ["review", "--dataset", str(review_setup.dataset), "--catalog", str(review_setup.catalog)]
    published = review_setup.facts["flagged"][0]  # a published video: the page offers no choice
    for bad, why in (
        ([f"{stem}=4"], "has candidates 1..3, not 4"),
        ([stem], "give NAME=N"),
        (["x_0=1"], "x_0"),
        ([f"{published}=1"], "is not held back by mf publish"),
        ([f"{stem}=1", f"{published}=1"], "is not held back"),  # the valid one is not stored either
    ):
        code, _, err = run_tracklets([*args, *(a for b in bad for a in ("--shop", b))], capsys)
        assert code == 2 and why in err, err
    code, _, err = run_tracklets(
        ["review", "--dataset", str(review_setup.dataset), "--shop", f"{stem}=1"], capsys
    )
    assert code == 2 and "--shop needs --catalog" in err
    with Catalog(review_setup.catalog) as cat:
        assert list_decisions(cat) == []
    code, out, err = run_tracklets([*args, "--shop", f"{stem}=1", "--accept", stem, "--json"], capsys)
    assert code == 0, err
    recorded = json.loads(out)["recorded"]
    assert [(r["decision"], r["video"]) for r in recorded] == [("shop", stem), ("accept", stem)]
    with Catalog(review_setup.catalog) as cat:
        assert review_shops(cat) == {("instagram", "CheldCCCCCC"): rels[0]}
        assert cat.get_item("instagram", "CheldCCCCCC").status == Status.ACCEPTED


def test_a_shop_choice_made_elsewhere_shows_at_the_next_queue_request(review_setup):
    """Another page or `mf-tracklets review --shop` chose a candidate: an open page kept the old
    pick and served the old shop image (its queue followed only the dataset's files)."""
    from schemas.review import record_decision, undo_decision

    stem, rels = with_candidates(review_setup)
    with running(review_setup, sample_rate=0.0) as srv:
        it = next(i for i in _queue(srv)["items"] if i["stem"] == stem)
        assert it["candidate_picked"] == 2 and not it["candidate_chosen_in_review"]
        with Catalog(review_setup.catalog) as cat:  # another process
            record_decision(cat, video=it["video"], product_id=it["product_id"], kind="shop", shop=rels[0])
        it = next(i for i in _queue(srv)["items"] if i["stem"] == stem)
        assert it["candidate_picked"] == 0 and it["candidate_chosen_in_review"]
        status, _, body = _req(srv, "GET", f"/api/file?token={srv.app.token}&video={stem}&file=shop")
        assert status == 200 and body == (review_setup.catalog.parent / rels[0]).read_bytes()
        with Catalog(review_setup.catalog) as cat:
            undo_decision(cat, video=it["video"], product_id=it["product_id"])
        it = next(i for i in _queue(srv)["items"] if i["stem"] == stem)
        assert it["candidate_picked"] == 2 and not it["candidate_chosen_in_review"]


def test_the_command_line_review_upgrades_a_catalog_of_the_last_schema(review_setup, capsys):
    """A catalog from before the shop decision (schema 5) was refused as read-only by
    `mf-tracklets review --catalog`, which writes decisions; `mf review` and `mf publish` upgrade it."""
    import sqlite3

    from tests.mf_cli import run_tracklets

    db = sqlite3.connect(review_setup.catalog)
    db.executescript(
        "ALTER TABLE review_decisions DROP COLUMN shop; ALTER TABLE items DROP COLUMN attempts;"
        " PRAGMA user_version = 5;"
    )
    db.close()
    args = [
        "review",
        "--dataset",
        str(review_setup.dataset),
        "--catalog",
        str(review_setup.catalog),
        "--json",
    ]
    code, out, err = run_tracklets(args, capsys)
    assert code == 0, err
    db = sqlite3.connect(review_setup.catalog)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert "shop" in [r[1] for r in db.execute("PRAGMA table_info(review_decisions)")]
    finally:
        db.close()


def test_a_catalog_that_knows_none_of_the_datasets_products_is_refused(review_setup, tmp_path, capsys):
    """The finding: `mf-tracklets review` with another world's catalog listed that catalog's held
    items as the dataset's (and --accept would decide into it); now one line names the catalog
    and the dataset, exit 2. The dataset's own catalog is still taken."""
    from tests.mf_cli import run_tracklets

    ds = review_setup.dataset
    other = other_catalog(tmp_path)
    code, out, err = run_tracklets(["review", "--dataset", str(ds), "--catalog", str(other)], capsys)
    assert code == 2 and out == "" and "Traceback" not in err, err
    (line,) = err.strip().splitlines()
    assert (
        line.startswith(f"error: {other}: none of the ") and f"of the dataset {ds} is in this catalog" in line
    )
    code, _, err = run_tracklets(
        ["review", "--dataset", str(ds), "--catalog", str(review_setup.catalog)], capsys
    )
    assert code == 0, err


@pytest.mark.parametrize("command", ["mf review", "mf-tracklets review --serve"])
def test_the_review_page_refuses_a_catalog_that_knows_none_of_the_datasets_products(
    review_setup, tmp_path, monkeypatch, capsys, command
):
    """The finding: the review page (mf review, mf-tracklets review --serve) took another world's
    catalog that the command-line review refuses, and would have decided into it. Now its start
    refuses it the same way: one line naming the catalog and what to do, exit 2, before a port
    is bound."""
    import annotations.review.server as server
    from movingfashion.app.cli import cli
    from schemas.cli_support import run_main

    ds = review_setup.dataset
    other = other_catalog(tmp_path)

    def no_server(*_a, **_k):
        raise AssertionError("a server was started for another collection's catalog")

    monkeypatch.setattr(server, "make_server", no_server)
    main, args = (cli, ["review"]) if command == "mf review" else (tracklets, ["review", "--serve"])
    with pytest.raises(SystemExit) as exc:
        run_main(main, [*args, "--dataset", str(ds), "--catalog", str(other), "--port", "0"])
    out, err = capsys.readouterr()
    assert exc.value.code == 2 and out == "" and "Traceback" not in err, err
    (line,) = err.strip().splitlines()
    assert (
        line.startswith(f"error: {other}: none of the ") and f"of the dataset {ds} is in this catalog" in line
    )
    assert "pass the catalog" in line and "mf publish --catalog" in line
    assert not (ds / ".review.sqlite").exists()
    # the dataset's own catalog gets as far as the bind
    with pytest.raises(AssertionError, match="a server was started"):
        run_main(main, [*args, "--dataset", str(ds), "--catalog", str(review_setup.catalog), "--port", "0"])
