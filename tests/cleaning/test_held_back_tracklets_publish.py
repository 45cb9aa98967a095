"""`mf publish` keeps the tracklet files of the videos of products it holds back for review (so
the review page shows their boxes and an accept publishes them), records them in the hidden
``.publish-held.json``, leaves them out of the manifest, and ``mf verify`` passes over them; a
product taken down, or a video made from another collected file, loses them."""

from __future__ import annotations

import json
from pathlib import Path

from cleaning.publish import publish
from movingfashion.archive.describe import refresh
from movingfashion.archive.verify import dataset_files, verify_dataset
from schemas.catalog import Catalog
from schemas.items import AssetKind, Status
from schemas.official import read_official
from schemas.review import record_decision
from tests.cleaning.test_publish_stale_tracklets import _tracklet_files_of

BOX = [1.0, 2.0, 30.0, 40.0]
HELD_TRACKLETS = ".publish-held.json"  # movingfashion.archive.verify.HELD_TRACKLETS


def _files_of(out: Path, pid: str, video: str) -> list[Path]:
    """A flagged tracklet file of ``video`` (one box), its build record and its contact sheet."""
    return _tracklet_files_of(out, pid, video, flagged=True)


def _in_splits(out: Path) -> dict[str, object]:
    return {**read_official(out / "train.json"), **read_official(out / "test.json")}


def _flag(cat: Catalog, pid: str) -> tuple[str, str]:
    row = next(r for r in cat.items() if r.product_id == pid)
    key = (str(row.item.source), row.item.source_id)
    cat.set_item_state(*key, status=Status.NEEDS_REVIEW, reason=f"tracklets: {pid}_0: low confidence")
    return key


def test_held_back_videos_keep_their_tracklet_files_until_accepted(cleaned_world, catalog_copy, tmp_path):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        publish(cat, cleaned_world.root, out)
        train = read_official(out / "train.json")
        pid = sorted(train)[0]
        videos = train[pid].video_paths
        files = [f for v in videos for f in _files_of(out, pid, v)]
        assert refresh(out) and verify_dataset(out).ok
        _flag(cat, pid)  # mf-tracklets build --catalog flagged its video
        res = publish(cat, cleaned_world.root, out)
        assert pid not in _in_splits(out)
        assert all(f.is_file() for f in files)  # the review page shows its boxes
        held = json.loads((out / HELD_TRACKLETS).read_text())
        assert set(held) == set(videos) and {r["product_id"] for r in held.values()} == {pid}
        rels = {f.relative_to(out).as_posix() for f in files}
        assert not rels & set(json.loads((out / "manifest.json").read_text())["files"])  # not published
        assert not rels & set(dataset_files(out))
        # nor in the Croissant description: its tracklet FileSet leaves them out (audit_xchg X7)
        assert _tracklet_set(out)["excludes"] == sorted(
            r for r in rels if r.endswith(".json") and "/" not in r[10:]
        )
        assert res["verify"]["ok"], res["verify"]["breaks"]
        assert verify_dataset(out).ok  # every file hashed: still fine
        # a reviewer accepts it: published with the tracklets of the kept file
        record_decision(cat, video=videos[0], product_id=pid, kind="accept")
        res = publish(cat, cleaned_world.root, out)
    entry = _in_splits(out)[pid]
    assert entry.tracklets[0] == {"0": BOX}
    assert all(f.is_file() for f in files) and not (out / HELD_TRACKLETS).exists()
    assert rels - {f.relative_to(out).as_posix() for f in files if ".build" in f.parts} <= set(
        json.loads((out / "manifest.json").read_text())["files"]
    )
    assert res["verify"]["ok"], res["verify"]["breaks"]
    assert verify_dataset(out).ok
    assert "excludes" not in _tracklet_set(out)


def _tracklet_set(out: Path) -> dict:
    """The Croissant FileSet of the tracklet files."""
    dist = json.loads((out / "croissant.json").read_text())["distribution"]
    return next(d for d in dist if d["@id"] == "tracklet-files")


def test_a_held_back_product_taken_down_or_made_anew_loses_its_files(cleaned_world, catalog_copy, tmp_path):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        publish(cat, cleaned_world.root, out)
        train = read_official(out / "train.json")
        down, anew = sorted(train)[:2]
        files = {p: [f for v in train[p].video_paths for f in _files_of(out, p, v)] for p in (down, anew)}
        refresh(out)
        keys = {p: _flag(cat, p) for p in (down, anew)}
        publish(cat, cleaned_world.root, out)
        assert all(f.is_file() for p in files for f in files[p])
        # rejected for good; the other's collected video is another file now
        cat.set_item_state(*keys[down], status=Status.REJECTED, reason="review: wrong item")
        cat.set_asset_state(*keys[anew], str(AssetKind.VIDEO), sha256="0" * 64)
        res = publish(cat, cleaned_world.root, out)
    assert [f for p in files for f in files[p] if f.exists()] == []
    assert not (out / HELD_TRACKLETS).exists()
    assert res["verify"]["ok"], res["verify"]["breaks"]


def test_verify_still_breaks_on_a_file_no_record_holds(cleaned_world, catalog_copy, tmp_path):
    """Only the video and product the record names are passed over; a broken record is a break."""
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        publish(cat, cleaned_world.root, out)
        pid = sorted(read_official(out / "train.json"))[0]
        video = read_official(out / "train.json")[pid].video_paths[0]
        _files_of(out, pid, video)
        _flag(cat, pid)
        publish(cat, cleaned_world.root, out)
    held = json.loads((out / HELD_TRACKLETS).read_text())
    held[video]["product_id"] = "someone_else"
    (out / HELD_TRACKLETS).write_text(json.dumps(held))
    problems = [b.problem for b in verify_dataset(out).breaks]
    assert any("which no product lists" in p for p in problems), problems
    (out / HELD_TRACKLETS).write_text("[]")
    breaks = verify_dataset(out).breaks
    assert any(b.field == HELD_TRACKLETS for b in breaks), breaks


def _hold_first_product(cat: Catalog, root: Path, out: Path) -> tuple[str, list[str]]:
    """The first published product gets a (flagged) tracklet file per video and is held back by
    the next publish: its id and videos."""
    pid = sorted(read_official(out / "train.json"))[0]
    videos = read_official(out / "train.json")[pid].video_paths
    for v in videos:
        _files_of(out, pid, v)
    _flag(cat, pid)
    publish(cat, root, out)
    return pid, videos


def test_sheets_skip_the_videos_held_back_and_name_them(cleaned_world, catalog_copy, tmp_path):
    """`mf-tracklets sheets --dataset DATASET` on a published folder: a held-back video is not in
    it (only its tracklet file is), so it is listed under held_back, not failed (exit 0)."""
    from click.testing import CliRunner

    from annotations.cli import tracklets

    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        publish(cat, cleaned_world.root, out)
        pid, videos = _hold_first_product(cat, cleaned_world.root, out)
    assert not any((out / v).exists() for v in videos)
    res = CliRunner().invoke(tracklets, ["sheets", "--dataset", str(out), "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["failed"] == [] and sorted(d["held_back"]) == sorted(videos)
    res = CliRunner().invoke(tracklets, ["sheets", "--dataset", str(out)])
    assert res.exit_code == 0 and "held back for review" in res.output and videos[0] in res.output


def test_publish_lists_the_videos_it_publishes_without_a_tracklet_box(cleaned_world, catalog_copy, tmp_path):
    """A first publish (no tracklet built yet) lists every video; a held-back video accepted with
    its kept file is published with its boxes and leaves the list; the text names the command."""
    from cleaning.cli import _publish_human

    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        first = publish(cat, cleaned_world.root, out)
        splits = _in_splits(out)
        every = sorted(v for e in splits.values() for v in e.video_paths)
        assert first["without_tracklets"] == every
        assert f"without tracklets (no box yet): {len(every)} videos" in _publish_human(first)
        assert f"mf-tracklets build --dataset {out}" in _publish_human(first)
        # with the catalog publish read: a build without it flagged videos the next publish kept
        assert f"build them: mf-tracklets build --dataset {out} --catalog c.sqlite" in _publish_human(
            first, catalog="c.sqlite"
        )
        pid, videos = _hold_first_product(cat, cleaned_world.root, out)
        record_decision(cat, video=videos[0], product_id=pid, kind="accept")
        res = publish(cat, cleaned_world.root, out)
    assert videos[0] not in res["without_tracklets"]
    assert sorted(res["without_tracklets"]) == sorted(set(every) - {videos[0]})
