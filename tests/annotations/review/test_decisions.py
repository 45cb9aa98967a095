"""Review decisions on a published folder: a tracklet pick (and its undo) leaves ``mf verify``
clean, a tracklet file naming another video is refused before anything is written, a restart
redoes only lost writes (a file rewritten since wins), and a retried request writes nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from annotations.review.decisions import decide, reconcile, undo
from annotations.tracklet_files import (
    read_video_tracklets,
    set_official_tracklet,
    tracklet_file,
    write_video_tracklets,
)
from movingfashion.archive.describe import refresh
from movingfashion.archive.verify import verify_dataset
from schemas.catalog import Catalog
from schemas.errors import CatalogError, DataFormatError
from schemas.official import read_official
from schemas.review import list_decisions, record_decision, review_states, undo_decision
from tests.damage import assert_same_tree

#: mf-tracklets review's log (hidden), and where older versions wrote it (a published file)
REVIEW_LOG, LEGACY_REVIEW_LOG = ".review.jsonl", "review.jsonl"


def _official(ds: Path, pid: str, vp: str) -> dict:
    split = read_official(ds / "train.json") | read_official(ds / "test.json")
    return split[pid].tracklets[split[pid].video_paths.index(vp)]


def _table(ds: Path, vp: str) -> dict[int, list[float]]:
    rows = [json.loads(line) for p in (ds / "boxes").glob("*.jsonl") for line in p.read_text().splitlines()]
    return {r["frame"]: r["box"] for r in rows if r["video_path"] == vp}


def _as_table(boxes: dict[str, list]) -> dict[int, list[float]]:
    return {int(k): [float(v) for v in b] for k, b in boxes.items()}


def test_a_pick_and_its_undo_keep_the_folder_verifying(review_setup):
    ds, f = review_setup.dataset, review_setup.facts
    refresh(ds)  # the review copy added candidate tracklets after the manifest was written
    assert verify_dataset(ds).ok
    stem = f["videos"][0]
    vp, pid = f["video_path"][stem], f["product"][stem]
    old = _official(ds, pid, vp)
    with Catalog(review_setup.catalog) as cat:
        d, _ = decide(ds, cat, video=vp, product_id=pid, kind="tracklet", tracklet=1)
        picked = read_video_tracklets(tracklet_file(ds, vp)).tracklets[1].official()
        assert _official(ds, pid, vp) == picked != old
        assert _table(ds, vp) == _as_table(picked)  # the boxes table follows
        report = verify_dataset(ds)
        assert report.ok, report.table()
        undo(ds, cat, d.id)
        assert _official(ds, pid, vp) == old and _table(ds, vp) == _as_table(old)
        report = verify_dataset(ds)
        assert report.ok, report.table()


def test_reconcile_refreshes_the_derived_files(review_setup):
    ds, f = review_setup.dataset, review_setup.facts
    stem = f["videos"][1]
    vp, pid = f["video_path"][stem], f["product"][stem]
    with Catalog(review_setup.catalog) as cat:
        decide(ds, cat, video=vp, product_id=pid, kind="tracklet", tracklet=2)
        p = tracklet_file(ds, vp)
        vt = read_video_tracklets(p)
        vt.ground_truth = 0  # as if the process died before the file side of the pick
        p.write_text(vt.model_dump_json(indent=1) + "\n")
        refresh(ds)
        assert reconcile(ds, cat) == [vp]
    assert _table(ds, vp) == _as_table(read_video_tracklets(p).tracklets[2].official())
    report = verify_dataset(ds)
    assert report.ok, report.table()


def test_a_pick_on_a_file_naming_another_video_is_refused(review_setup):
    ds, f = review_setup.dataset, review_setup.facts
    stem, other = f["videos"][0], f["videos"][1]
    vp, ovp, pid = f["video_path"][stem], f["video_path"][other], f["product"][stem]
    p = tracklet_file(ds, vp)
    p.write_text(p.read_text().replace(json.dumps(vp), json.dumps(ovp)))
    before = {q.relative_to(ds): q.read_bytes() for q in sorted(ds.rglob("*")) if q.is_file()}
    with Catalog(review_setup.catalog) as cat:
        with pytest.raises(DataFormatError, match="field 'video'") as exc:
            decide(ds, cat, video=vp, product_id=pid, kind="tracklet", tracklet=1)
        assert exc.value.where == str(p)
        assert list_decisions(cat) == []  # nothing stored either
    assert_same_tree(
        {q.relative_to(ds): q.read_bytes() for q in sorted(ds.rglob("*")) if q.is_file()}, before
    )


def test_sheets_and_review_marks_keep_a_published_folder_verifying(review_setup):
    from click.testing import CliRunner

    from annotations.cli import tracklets

    ds, f = review_setup.dataset, review_setup.facts
    refresh(ds)
    assert verify_dataset(ds).ok
    stem = f["videos"][0]
    runner = CliRunner()
    res = runner.invoke(tracklets, ["sheets", "--dataset", str(ds), "--video", stem, "--json"])
    assert res.exit_code == 0, res.output
    assert (ds / "tracklets" / "sheets").is_dir() and verify_dataset(ds).ok  # the sheet is in the manifest
    res = runner.invoke(tracklets, ["review", "--dataset", str(ds), "--accept", stem])
    assert res.exit_code == 0, res.output
    # the log is hidden (as .review.sqlite is): no manifest lists it, and mf publish writes here again
    assert (ds / REVIEW_LOG).is_file() and not (ds / LEGACY_REVIEW_LOG).exists() and verify_dataset(ds).ok
    assert REVIEW_LOG not in json.loads((ds / "manifest.json").read_text())["files"]


def test_a_pick_and_an_import_redraw_the_contact_sheet(review_setup, tmp_path):
    """A pick moved the ground truth and an import moved its boxes, and the sheet kept showing
    the old ones (listed as the evidence, in the manifest and the zip; audit_stale D2)."""
    from click.testing import CliRunner

    from annotations.cli import tracklets
    from annotations.exchange import export_dataset
    from annotations.exchange.importer import import_cvat
    from annotations.sheets import sheet_path, write_sheet

    ds, f = review_setup.dataset, review_setup.facts
    refresh(ds)
    stem = f["videos"][0]
    vp, pid = f["video_path"][stem], f["product"][stem]
    res = CliRunner().invoke(tracklets, ["sheets", "--dataset", str(ds), "--video", stem])
    assert res.exit_code == 0, res.output
    sheet = sheet_path(ds, vp, pid)

    def drawn_now() -> bytes:
        return write_sheet(
            ds, read_video_tracklets(tracklet_file(ds, vp)), out=tmp_path / "now.png"
        ).read_bytes()

    first = sheet.read_bytes()
    with Catalog(review_setup.catalog) as cat:
        decide(ds, cat, video=vp, product_id=pid, kind="tracklet", tracklet=1)
    picked = sheet.read_bytes()
    assert picked != first and picked == drawn_now()
    export_dataset(ds, "cvat", tmp_path / "x", videos=[stem])
    xml = tmp_path / "x" / f"{stem}.xml"
    xml.write_text(
        re.sub(r'xtl="([0-9.]+)"', lambda m: f'xtl="{float(m.group(1)) + 4:.2f}"', xml.read_text())
    )
    import_cvat(ds, xml)
    assert sheet.read_bytes() not in (picked, first) and sheet.read_bytes() == drawn_now()
    report = verify_dataset(ds)
    assert report.ok, report.table()


def test_an_older_review_log_is_moved_out_of_the_published_files(review_setup):
    """A ``review.jsonl`` an older mf-tracklets review wrote (and took into the manifest) is read,
    and moved to the hidden log by the next decision, the manifest refreshed: mf verify holds."""
    from click.testing import CliRunner

    from annotations.cli import tracklets
    from annotations.review.marks import read_decisions

    ds, f = review_setup.dataset, review_setup.facts
    first, second = f["videos"][:2]
    (ds / LEGACY_REVIEW_LOG).write_text(json.dumps({"video": first, "decision": "reject"}) + "\n")
    refresh(ds)
    assert LEGACY_REVIEW_LOG in json.loads((ds / "manifest.json").read_text())["files"]
    assert read_decisions(ds)[first]["decision"] == "reject"
    res = CliRunner().invoke(tracklets, ["review", "--dataset", str(ds), "--accept", second])
    assert res.exit_code == 0, res.output
    assert not (ds / LEGACY_REVIEW_LOG).exists() and verify_dataset(ds).ok
    assert {k: v["decision"] for k, v in read_decisions(ds).items()} == {first: "reject", second: "accept"}
    assert LEGACY_REVIEW_LOG not in json.loads((ds / "manifest.json").read_text())["files"]


def _gt(ds: Path, vp: str) -> int | None:
    return read_video_tracklets(tracklet_file(ds, vp)).ground_truth


def _rewrite(ds: Path, vp: str, ground_truth: int, dx: int = 0) -> None:
    """What an import or a rebuild does: new tracklet file (boxes moved by ``dx``), split file."""
    vt = read_video_tracklets(tracklet_file(ds, vp))
    vt.ground_truth = ground_truth
    for t in vt.tracklets:
        t.boxes = {f: [b[0] + dx, b[1], b[2] + dx, b[3]] for f, b in t.boxes.items()}
    write_video_tracklets(ds, vt)
    set_official_tracklet(ds, vt)


@pytest.mark.parametrize(
    "rewrite",
    ["import: another ground truth", "rebuild: the pick's old ground truth, boxes moved", "import stored"],
)
def test_a_file_rewritten_after_a_pick_wins_over_the_pick(review_setup, rewrite):
    """A restart (reconcile) redoes a pick only when its write was lost, never over a later
    import or rebuild: the file wins, and the pick is marked superseded and left for good."""
    ds, f = review_setup.dataset, review_setup.facts
    stem = f["videos"][2]
    vp, pid = f["video_path"][stem], f["product"][stem]
    with Catalog(review_setup.catalog) as cat:
        d, _ = decide(ds, cat, video=vp, product_id=pid, kind="tracklet", tracklet=1)
        assert _gt(ds, vp) == 1 and reconcile(ds, cat) == []  # a pick whose write went through
        if rewrite.startswith("import:"):
            _rewrite(ds, vp, 2)
        elif rewrite.startswith("rebuild:"):
            _rewrite(ds, vp, 0, dx=-2)
        else:  # CVAT moved the ground truth back where it was before the pick, and it was stored
            _rewrite(ds, vp, 0)
            record_decision(cat, video=vp, product_id=pid, kind="import", note="cvat: x.xml")
        want = _gt(ds, vp)
        official = _official(ds, pid, vp)
        assert reconcile(ds, cat) == []  # what a restart of mf review does
        assert _gt(ds, vp) == want and _official(ds, pid, vp) == official
        assert list_decisions(cat, video=vp)[0].prev["superseded"]["ground_truth"] == want
        assert review_states(cat)[vp, pid].tracklet is None  # the file names the ground truth now
        from annotations.review.decisions import Reconciled, reconcile_picks

        _rewrite(ds, vp, 0)  # even a file back on the pick's old value does not bring it back
        assert reconcile_picks(ds, cat) == Reconciled() and _gt(ds, vp) == 0
        if rewrite == "import stored":  # a decision before an import stays
            with pytest.raises(CatalogError, match="later one"):
                undo(ds, cat, d.id)
        else:
            _rewrite(ds, vp, 2)
            undo(ds, cat, d.id)  # the undo of a superseded pick leaves the file alone too
            assert _gt(ds, vp) == 2


def test_the_undo_of_a_pick_leaves_a_file_rewritten_since(review_setup):
    ds, f = review_setup.dataset, review_setup.facts
    stem = f["videos"][2]
    vp, pid = f["video_path"][stem], f["product"][stem]
    with Catalog(review_setup.catalog) as cat:
        d, _ = decide(ds, cat, video=vp, product_id=pid, kind="tracklet", tracklet=1)
        _rewrite(ds, vp, 2)
        u, _ = undo(ds, cat, d.id)
        assert _gt(ds, vp) == 2 and u.superseded and u.undone_at is not None


def test_a_lost_undo_is_redone_at_start(review_setup):
    ds, f = review_setup.dataset, review_setup.facts
    stem = f["videos"][2]
    vp, pid = f["video_path"][stem], f["product"][stem]
    with Catalog(review_setup.catalog) as cat:
        decide(ds, cat, video=vp, product_id=pid, kind="tracklet", tracklet=1)
        decide(ds, cat, video=vp, product_id=pid, kind="tracklet", tracklet=2)
        undo_decision(cat, video=vp)  # stored, but the process died before the files
        assert _gt(ds, vp) == 2
        assert reconcile(ds, cat) == [vp] and _gt(ds, vp) == 1
        assert reconcile(ds, cat) == []


def test_a_retried_pick_changes_no_file(review_setup):
    """A retry (a request_id seen before) returns the stored decision and leaves the files as
    later decisions left them; a request_id seen with another decision is refused."""
    ds, f = review_setup.dataset, review_setup.facts
    stem = f["videos"][2]
    vp, pid = f["video_path"][stem], f["product"][stem]
    with Catalog(review_setup.catalog) as cat:
        first, _ = decide(ds, cat, video=vp, product_id=pid, kind="tracklet", tracklet=1, request_id="r1")
        decide(ds, cat, video=vp, product_id=pid, kind="tracklet", tracklet=2, request_id="r2")
        again, created = decide(
            ds, cat, video=vp, product_id=pid, kind="tracklet", tracklet=1, request_id="r1"
        )
        assert not created and again == first and _gt(ds, vp) == 2  # superseded by pick 2: files keep 2
        undo(ds, cat, video=vp)
        undo(ds, cat, video=vp)
        assert _gt(ds, vp) == 0
        again, created = decide(
            ds, cat, video=vp, product_id=pid, kind="tracklet", tracklet=1, request_id="r1"
        )
        assert not created and _gt(ds, vp) == 0  # undone: the retry does not bring it back
        with pytest.raises(CatalogError, match="new request_id"):
            decide(ds, cat, video=vp, product_id=pid, kind="accept", request_id="r1")
        assert review_states(cat) == {}


def test_a_decision_without_a_catalog_says_publish_will_not_see_it(review_setup):
    """An accept recorded in the dataset's log only: mf publish reads the catalog, so it is said
    on stderr (before: exit 0 and silence, and the next publish still held the video back)."""
    from click.testing import CliRunner

    from annotations.cli import tracklets

    ds, f = review_setup.dataset, review_setup.facts
    stem = f["videos"][0]
    res = CliRunner().invoke(tracklets, ["review", "--dataset", str(ds), "--accept", stem])
    assert res.exit_code == 0, res.output
    assert (
        "no --catalog" in res.stderr and "mf publish does not" in res.stderr and ".review.jsonl" in res.stderr
    )
    res = CliRunner().invoke(
        tracklets, ["review", "--dataset", str(ds), "--accept", stem, "--catalog", str(review_setup.catalog)]
    )
    assert res.exit_code == 0, res.output
    assert "no --catalog" not in res.stderr


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--accept", "{v}", "--reject", "{v}"], "{v}"),
        (["--note", "looks fine"], "--note"),
        (["--all", "--accept", "{v}"], "--all"),
        (["--accept", "{v}", "--port", "9000", "--sample", "0.5"], "--port, --sample: for the review page"),
        (["--serve", "--note", "x", "--host", "192.0.2.1"], "--serve cannot be combined"),
    ],
)
def test_contradictory_review_options_are_refused_before_anything_is_recorded(review_setup, extra, named):
    """One video both accepted and rejected in one command (before: both recorded, the last
    winning, exit 0), a note with no decision to store it with, --all (a listing option) with
    decisions and the review page's options without --serve (before: silently dropped) are
    usage errors that record nothing."""
    from click.testing import CliRunner

    from annotations.cli import tracklets

    ds, cat = review_setup.dataset, review_setup.catalog
    stem = review_setup.facts["videos"][0]
    log = ds / REVIEW_LOG
    before = log.read_text() if log.exists() else None
    with Catalog(cat) as c:
        decided = list_decisions(c)
    args = [a.format(v=stem) for a in extra]
    res = CliRunner().invoke(tracklets, ["review", "--dataset", str(ds), "--catalog", str(cat), *args])
    assert res.exit_code == 2, res.output
    assert named.format(v=stem) in res.stderr
    assert (log.read_text() if log.exists() else None) == before
    with Catalog(cat) as c:
        assert list_decisions(c) == decided


def test_accept_and_reject_read_no_split_file_whole(review_setup, monkeypatch, capsys):
    """``mf-tracklets review --accept/--reject`` changes no file the manifest lists (the log and
    the default catalog are hidden): it does not refresh the tables, which read every split file
    whole with its boxes (~15 s at the real archive's 15K products); mf verify still holds."""
    import schemas.official as official
    from tests.mf_cli import run_tracklets

    ds, f = review_setup.dataset, review_setup.facts
    refresh(ds)
    assert verify_dataset(ds).ok
    whole: list[str] = []
    load = official._load
    monkeypatch.setattr(official, "_load", lambda p: whole.append(Path(p).name) or load(p))
    first, second = f["videos"][:2]
    code, out, err = run_tracklets(
        ["review", "--dataset", str(ds), "--accept", first, "--reject", second], capsys
    )
    assert code == 0, err
    assert out.split() == ["accept:", first, "reject:", second] and whole == []
    assert verify_dataset(ds).ok
