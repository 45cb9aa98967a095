"""The CVAT import refuses impossible boxes and misnamed tracklet files before writing, and leaves
a published folder verifying (tables, card, Croissant and manifest rewritten)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from annotations.cli import tracklets
from annotations.exchange import export_dataset
from annotations.exchange.importer import import_cvat
from annotations.refresh_mark import BY_IMPORT, set_pending
from annotations.tracklet_files import read_video_tracklets, tracklet_file, write_video_tracklets
from movingfashion.archive.verify import verify_dataset
from schemas.cli_support import run_main
from schemas.errors import DataFormatError
from schemas.official import read_official
from schemas.taxonomy import DF2_CLASSES
from tests.damage import assert_same_tree
from tests.heap import only_new_objects_collected


def snapshot(ds: Path) -> dict[str, bytes]:
    """Every file of the folder, by relative path."""
    return {str(p.relative_to(ds)): p.read_bytes() for p in sorted(ds.rglob("*")) if p.is_file()}


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """``mf-tracklets ARGV`` in-process with its exit rule: (exit status, stderr)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        run_main(tracklets, list(argv))
        raise SystemExit(0)
    return int(exc.value.code or 0), capsys.readouterr().err


def exported(ds: Path, stem: str, out: Path) -> Path:
    export_dataset(ds, "cvat", out, videos=[stem])
    return out / f"{stem}.xml"


def first_box(xml: Path) -> ET.Element:
    return next(b for b in ET.parse(xml).getroot().iter("box") if b.get("outside") == "0")


def edit_first_box(xml: Path, **attrs: str) -> Path:
    tree = ET.parse(xml)
    box = next(b for b in tree.getroot().iter("box") if b.get("outside") == "0")
    for k, v in attrs.items():
        box.set(k, v)
    tree.write(xml, encoding="utf-8", xml_declaration=True)
    return xml


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"frame": "99999"}, "frame 99999 is past the last frame"),
        ({"xtl": "-500"}, "px outside the"),
        ({"xbr": "1e9"}, "px outside the"),
        ({"ybr": "-1e9", "ytl": "-2e9"}, "px outside the"),
        ("zero", "is empty inside the"),
        ({"xtl": "nan"}, "not a finite number"),
        # an infinite xtl was refused as "has xbr < xtl or ybr < ytl", without a hint
        ({"xtl": "inf"}, "not a finite number"),
        ({"xbr": "-inf"}, "not a finite number"),
    ],
)
def test_impossible_boxes_are_refused_before_writing(published, tmp_path, capsys, edit, message):
    ds, f = published
    stem = f["videos"][0]
    xml = exported(ds, stem, tmp_path / "x")
    frame = first_box(xml).get("frame")
    if edit == "zero":
        edit = {"xbr": first_box(xml).get("xtl")}
    edit_first_box(xml, **edit)
    frame = edit.get("frame", frame)
    before = snapshot(ds)
    with pytest.raises(DataFormatError, match=message) as exc:
        import_cvat(ds, xml)
    assert exc.value.where == f"{xml}: track 0 frame {frame}" and exc.value.hint
    code, err = cli(capsys, "import", str(xml), "--dataset", str(ds))
    assert code == 2 and err.startswith(f"error: {xml}: track 0 frame {frame}: ") and err.count("\n") == 1
    assert_same_tree(snapshot(ds), before)


def test_a_valid_import_leaves_the_folder_verifying(published, tmp_path):
    ds, f = published
    assert verify_dataset(ds).ok
    stem = f["videos"][0]
    vp, pid = f["video_path"][stem], f["product"][stem]
    xml = exported(ds, stem, tmp_path / "x")
    frame = int(first_box(xml).get("frame"))
    old = read_video_tracklets(tracklet_file(ds, vp)).tracklets[0].boxes[frame]
    moved = old[0] + 1
    edit_first_box(xml, xtl=str(moved), ytl="-1.0")  # 1 px outside: clipped
    res = import_cvat(ds, xml)
    assert res["changed_videos"] == [stem] and res["changed_boxes"] == 1
    want = [moved, 0, old[2], old[3]]
    assert read_video_tracklets(tracklet_file(ds, vp)).tracklets[0].boxes[frame] == want
    split = read_official(ds / "train.json") | read_official(ds / "test.json")
    assert split[pid].tracklets[split[pid].video_paths.index(vp)][str(frame)] == want
    report = verify_dataset(ds)
    assert report.ok, report.table()
    assert table_box(ds, vp, frame) == want  # the boxes table follows the split file


def table_box(ds: Path, vp: str, frame: int) -> list[float]:
    """The box of ``vp``'s ``frame`` in the boxes tables (``boxes/*.jsonl``)."""
    rows = [json.loads(line) for p in (ds / "boxes").glob("*.jsonl") for line in p.read_text().splitlines()]
    (box,) = [r["box"] for r in rows if r["video_path"] == vp and r["frame"] == frame]
    return box


def test_a_tracklet_file_naming_another_video_is_refused(published, tmp_path, capsys):
    ds, f = published
    stem, other = f["videos"][0], f["videos"][1]
    vp, ovp = f["video_path"][stem], f["video_path"][other]
    p = tracklet_file(ds, vp)
    p.write_text(p.read_text().replace(json.dumps(vp), json.dumps(ovp)))
    xml = exported(ds, other, tmp_path / "x")  # a well-formed export, named for the edited file's video
    xml = xml.rename(tmp_path / f"{stem}.xml")
    tree = ET.parse(xml)
    task = tree.getroot().find("meta/task")
    task.find("source").text, task.find("name").text = Path(vp).name, stem
    tree.write(xml, encoding="utf-8", xml_declaration=True)
    edit_first_box(xml, xtl=str(float(first_box(xml).get("xtl")) + 1))
    before = snapshot(ds)
    code, err = cli(capsys, "import", str(xml), "--dataset", str(ds))
    assert code == 2 and err.startswith(f"error: {p}: field 'video': ")
    assert_same_tree(snapshot(ds), before)  # above all, the other video's file


def test_a_video_two_products_list_imports_per_product(published, tmp_path):
    """The real test split lists some videos under two products; each has its own tracklet file
    of it (``<stem>@<product>.json``), exported and imported under that name, and an import of one
    product's file leaves the other's alone; a file naming only the video is refused."""
    ds, f = published
    stem = f["videos"][0]
    vp, pid = f["video_path"][stem], f["product"][stem]
    split_file = next(s for s in ("train.json", "test.json") if pid in json.loads((ds / s).read_text()))
    data = json.loads((ds / split_file).read_text())
    twin = dict(data[pid])
    data = {**data, "zz-twin": twin}
    (ds / split_file).write_text(json.dumps(data))
    old = tracklet_file(ds, vp)  # built before the video was shared: one file, no product's now
    vt = read_video_tracklets(old)
    old.unlink()
    for p in (pid, "zz-twin"):
        write_video_tracklets(ds, vt.model_copy(update={"product_id": p}))
    key = f"{stem}@{pid}"
    export_dataset(ds, "cvat", tmp_path / "x", videos=[stem])  # the video: both products' files
    assert sorted(p.name for p in (tmp_path / "x").glob("*.xml")) == [f"{key}.xml", f"{stem}@zz-twin.xml"]
    xml = tmp_path / "x" / f"{key}.xml"
    box = first_box(xml)
    edit_first_box(xml, xtl=str(float(box.get("xtl")) + 1))
    res = import_cvat(ds, xml)
    assert res["changed_videos"] == [key]
    mine = read_video_tracklets(tracklet_file(ds, vp, pid))
    theirs = read_video_tracklets(tracklet_file(ds, vp, "zz-twin"))
    assert mine.product_id == pid and theirs.product_id == "zz-twin" and theirs.tracklets == vt.tracklets
    assert mine.tracklets != vt.tracklets
    plain = xml.rename(tmp_path / f"{stem}.xml")  # names the video only
    tree = ET.parse(plain)
    tree.getroot().find("meta/task/name").text = stem
    tree.write(plain, encoding="utf-8", xml_declaration=True)
    with pytest.raises(DataFormatError, match="zz-twin"):
        import_cvat(ds, plain)


def test_an_import_of_many_files_reads_each_split_file_once(published, tmp_path, monkeypatch):
    """The split files were read (and parsed, every entry validated) once per imported video: an
    import of N files cost N passes over a 28 MB train.json (audit_xchg X1). Every file still
    reaches its split entry."""
    import annotations.tracklet_files as tf

    ds, f = published
    export_dataset(ds, "cvat", tmp_path / "x")
    files = sorted((tmp_path / "x").glob("*.xml"))
    assert len(files) >= 3
    edited = {}
    for xml in files:  # one box moved in each file
        frame = int(first_box(xml).get("frame"))
        edit_first_box(xml, xtl=str(float(first_box(xml).get("xtl")) + 1))
        edited[xml.stem] = frame
    reads = []
    real = tf.read_official
    monkeypatch.setattr(
        tf, "read_official", lambda p, *a, **k: reads.append(Path(p).name) or real(p, *a, **k)
    )
    res = import_cvat(ds, tmp_path / "x")
    assert sorted(res["changed_videos"]) == sorted(edited)
    # the shared-video lookup and the ground-truth write read each split file once: 4 whatever N
    assert len(reads) <= 4 < 2 + len(files), reads
    split = read_official(ds / "train.json") | read_official(ds / "test.json")
    for stem in edited:
        vp, pid = f["video_path"][stem], f["product"][stem]
        want = read_video_tracklets(tracklet_file(ds, vp)).official()
        assert split[pid].tracklets[split[pid].video_paths.index(vp)] == want


def test_a_relabelled_track_and_a_moved_ground_truth_are_reported_as_changes(published, tmp_path):
    """Both rewrote the tracklet file (and the split file, for the ground truth) while the import
    said "0 changed (0 boxes)" (audit_xchg X3)."""
    ds, f = published
    stem = next(
        s
        for s in f["videos"]
        if len(read_video_tracklets(tracklet_file(ds, f["video_path"][s])).tracklets) > 1
    )
    vp = f["video_path"][stem]
    before = read_video_tracklets(tracklet_file(ds, vp))
    export_dataset(ds, "cvat", tmp_path / "x", videos=[stem], tracks="all")
    xml = tmp_path / "x" / f"{stem}.xml"
    tree = ET.parse(xml)
    tracks = tree.getroot().findall("track")
    other = next(i for i in range(len(before.tracklets)) if i != before.ground_truth)
    new_label = next(n for c, n in DF2_CLASSES.items() if c != before.tracklets[other].class_id)
    for t in tracks:  # the export writes the tracklets in order, one track each
        for b in t.iter("attribute"):
            if b.get("name") == "ground_truth":
                b.text = "true" if t is tracks[other] else "false"
    tracks[other].set("label", new_label)
    tree.write(xml, encoding="utf-8", xml_declaration=True)
    res = import_cvat(ds, xml, tracks="all")
    assert res["changed_videos"] == [stem] and res["changed_boxes"] == 0
    assert res["changed_classes"] == {stem: [other]} and res["ground_truth_moved"] == [stem]
    after = read_video_tracklets(tracklet_file(ds, vp))
    assert after.ground_truth == other and DF2_CLASSES[after.tracklets[other].class_id] == new_label


def test_what_a_tracklet_cannot_hold_is_refused_or_named(published, tmp_path):
    """A rotated box came back as the upright one, occluded marks and other attributes vanished,
    a task of a longer video and a file whose name and <source> name two videos were taken
    (audit_xchg X5, X8): refused, or named in a warning."""
    ds, f = published
    stem, other = f["videos"][:2]
    base = exported(ds, stem, tmp_path / "x")
    before = snapshot(ds)

    def variant(name: str, edit) -> Path:
        tree = ET.parse(base)
        edit(tree.getroot())
        out = tmp_path / name / base.name
        out.parent.mkdir()
        tree.write(out, encoding="utf-8", xml_declaration=True)
        return out

    def first_visible(root: ET.Element) -> ET.Element:
        return next(b for b in root.iter("box") if b.get("outside") == "0")

    rotated = variant("rot", lambda r: first_visible(r).set("rotation", "30.0"))
    with pytest.raises(DataFormatError, match="box rotated 30 degrees") as ei:
        import_cvat(ds, rotated)
    assert "frame" in ei.value.where and "rotation back to 0" in (ei.value.hint or "")
    longer = variant("long", lambda r: r.find("meta/task/size").__setattr__("text", "100000"))
    with pytest.raises(DataFormatError, match="100000 frames, more than the video's"):
        import_cvat(ds, longer)
    two = variant("two", lambda r: r.find("meta/task/source").__setattr__("text", f"{other}.mp4"))
    with pytest.raises(DataFormatError, match="names two videos of the dataset"):
        import_cvat(ds, two)
    assert_same_tree(snapshot(ds), before)  # nothing written by a refused import

    def mark(r: ET.Element) -> None:
        box = first_visible(r)
        box.set("occluded", "1")
        ET.SubElement(box, "attribute", name="colour").text = "red"

    res = import_cvat(ds, variant("occ", mark))
    assert any("occluded marks" in w and "attribute 'colour'" in w for w in res["warnings"]), res["warnings"]
    assert res["changed_videos"] == []


def test_an_import_holds_one_file_at_a_time(published, tmp_path, monkeypatch):
    """Every file, and two merged copies of every video, were held at once: 2.4 GB for an import
    whose export took 350 MB (audit_xchg X2). Now a file is parsed, merged and written, then let go."""
    import gc
    import weakref

    import annotations.exchange.importer as importer

    ds, _ = published
    export_dataset(ds, "cvat", tmp_path / "x")
    files = sorted((tmp_path / "x").glob("*.xml"))
    for xml in files:
        edit_first_box(xml, xtl=str(float(first_box(xml).get("xtl")) + 1))
    alive: list[weakref.ref] = []
    most = 0
    real = importer.read_cvat

    def counting(path):
        nonlocal most
        gc.collect()
        most = max(most, sum(r() is not None for r in alive))
        cv = real(path)
        alive.append(weakref.ref(cv))
        return cv

    monkeypatch.setattr(importer, "read_cvat", counting)
    with only_new_objects_collected():
        res = import_cvat(ds, tmp_path / "x")
    assert len(res["changed_videos"]) == len(files) >= 3
    assert most <= 1, f"{most} parsed files alive when the next was read"


def test_only_a_class_the_annotator_set_becomes_the_products(published, tmp_path):
    """Moving the ground_truth mark onto a track the detector labelled made that label the
    product's class (audit_new3 N7); a catalog without the product got an orphan decision (N9)."""
    from schemas.catalog import Catalog
    from schemas.review import list_decisions

    ds, f = published
    cat_path = tmp_path / "catalog.sqlite"
    stem = next(
        s
        for s in f["videos"]
        if len(read_video_tracklets(tracklet_file(ds, f["video_path"][s])).tracklets) > 1
    )
    vt = read_video_tracklets(tracklet_file(ds, f["video_path"][stem]))
    other = next(i for i in range(len(vt.tracklets)) if i != vt.ground_truth)
    detector_label = next(c for c in DF2_CLASSES if c != vt.tracklets[vt.ground_truth].class_id)
    tracklets = list(vt.tracklets)
    tracklets[other] = tracklets[other].model_copy(update={"class_id": detector_label})
    vt = vt.model_copy(update={"tracklets": tracklets})
    write_video_tracklets(ds, vt)  # the detector labelled another track otherwise

    def moved(name: str, label: str | None) -> Path:
        export_dataset(ds, "cvat", tmp_path / name, videos=[stem], tracks="all")
        xml = tmp_path / name / f"{stem}.xml"
        tree = ET.parse(xml)
        tracks = tree.getroot().findall("track")
        for t in tracks:
            for a in t.iter("attribute"):
                if a.get("name") == "ground_truth":
                    a.text = "true" if t is tracks[other] else "false"
        if label:
            tracks[other].set("label", label)
        tree.write(xml, encoding="utf-8", xml_declaration=True)
        return xml

    with Catalog(cat_path) as c:
        before = len(list_decisions(c))
    res = import_cvat(ds, moved("a", None), tracks="all", catalog=cat_path)
    assert res["ground_truth_moved"] == [stem]
    assert any("the product's class is unchanged" in w for w in res["warnings"]), res["warnings"]
    with Catalog(cat_path) as c:
        assert [d.kind for d in list_decisions(c)[before:]] == ["import"]
    empty = tmp_path / "empty.sqlite"
    Catalog(empty).close()
    label = next(n for c, n in DF2_CLASSES.items() if c not in {t.class_id for t in vt.tracklets})
    res = import_cvat(ds, moved("b", label), tracks="all", catalog=empty)
    assert any("holds no product" in w for w in res["warnings"]), res["warnings"]
    with Catalog(empty) as c:
        assert all(d.kind != "class" for d in list_decisions(c))


def test_a_file_exported_before_another_import_changed_its_tracklet_is_refused(published, tmp_path, capsys):
    """Two annotators fixed two frames of one track from one export; the second import put back
    the first one's frame without a word (audit_xchg X6). Now it is refused, naming the track;
    --force lets the file win, and an export made after the first import imports cleanly."""
    ds, f = published
    stem = f["videos"][0]
    vp = f["video_path"][stem]
    base = exported(ds, stem, tmp_path / "x")
    frames = sorted(
        int(b.get("frame")) for b in ET.parse(base).getroot().iter("box") if b.get("outside") == "0"
    )
    a, b = tmp_path / "A" / base.name, tmp_path / "B" / base.name
    for out, frame in ((a, frames[0]), (b, frames[-1])):
        tree = ET.parse(base)
        box = next(
            x for x in tree.getroot().iter("box") if x.get("frame") == str(frame) and x.get("outside") == "0"
        )
        box.set("xtl", str(float(box.get("xtl")) + 2))
        out.parent.mkdir()
        tree.write(out, encoding="utf-8", xml_declaration=True)
    assert import_cvat(ds, a)["changed_videos"] == [stem]
    first = read_video_tracklets(tracklet_file(ds, vp))
    before = snapshot(ds)
    code, err = cli(capsys, "import", str(b), "--dataset", str(ds))
    assert code == 2 and "changed after this file was exported" in err and "--force" in err, err
    assert_same_tree(snapshot(ds), before)
    res = import_cvat(ds, b, force=True)  # the file wins: A's frame goes back, as the user asked
    gt = read_video_tracklets(tracklet_file(ds, vp))
    assert res["changed_videos"] == [stem]
    assert (
        gt.tracklets[gt.ground_truth].boxes[frames[0]] != first.tracklets[first.ground_truth].boxes[frames[0]]
    )
    again = exported(ds, stem, tmp_path / "y")  # made after: no refusal
    edit_first_box(again, xtl=str(float(first_box(again).get("xtl")) + 1))
    assert import_cvat(ds, again)["changed_videos"] == [stem]


def test_an_import_run_again_records_no_decision_again(published, tmp_path):
    """A rerun of ``mf-tracklets import --catalog`` recorded one more ``import`` per video each
    time, though its files held the import already; an import cannot be undone, so each one also
    stood before the reviewer's earlier decisions. A changed file is recorded again. An unchanged
    file (a task exported and imported as it was) records none either: the reviewer's earlier
    decision stays the latest, and can be undone."""
    from schemas.catalog import Catalog
    from schemas.review import list_decisions, record_decision, undo_decision

    ds, f = published
    cat_path = tmp_path / "catalog.sqlite"
    stem = f["videos"][0]
    xml = exported(ds, stem, tmp_path / "x")

    def imports() -> list[str]:
        with Catalog(cat_path) as c:
            return [d.note or "" for d in list_decisions(c) if d.kind == "import"]

    vt = read_video_tracklets(tracklet_file(ds, f["video_path"][stem]))
    with Catalog(cat_path) as c:
        record_decision(c, video=vt.video, product_id=vt.product_id, kind="note", note="looked at it")
    assert import_cvat(ds, xml, catalog=cat_path)["changed_videos"] == []
    assert imports() == []
    with Catalog(cat_path) as c:
        assert undo_decision(c, video=vt.video)[0].kind == "note"  # not stuck behind an import
    edit_first_box(xml, xtl=str(float(first_box(xml).get("xtl")) + 1))
    assert import_cvat(ds, xml, catalog=cat_path)["changed_boxes"] == 1
    assert len(imports()) == 1
    assert import_cvat(ds, xml, catalog=cat_path)["changed_boxes"] == 0
    assert len(imports()) == 1
    again = exported(ds, stem, tmp_path / "y")  # a new edit, on a new export
    edit_first_box(again, xtl=str(float(first_box(again).get("xtl")) + 1))
    assert import_cvat(ds, again, catalog=cat_path)["changed_boxes"] == 1
    assert len(imports()) == 2
    # an import killed after its files, before its record: the rerun finds no change, and the
    # refresh-pending mark it left makes it record the import all the same
    third = exported(ds, stem, tmp_path / "z")
    edit_first_box(third, xtl=str(float(first_box(third).get("xtl")) + 1))
    with Catalog(cat_path) as c:  # a decision since: the latest is no import
        record_decision(c, video=vt.video, product_id=vt.product_id, kind="note", note="then this")
    assert import_cvat(ds, third)["changed_boxes"] == 1  # no catalog: the files, no record
    set_pending(ds, BY_IMPORT)
    assert import_cvat(ds, third, catalog=cat_path)["changed_boxes"] == 0
    assert len(imports()) == 3
