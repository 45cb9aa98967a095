"""`mf-tracklets export` rerun into the same folder with nothing changed rewrites no file (CVAT
tooling and sync jobs watch dates); a changed video's files are written again, and only those."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotations.exchange import export_dataset
from annotations.tracklet_files import read_video_tracklets, tracklet_file, write_video_tracklets
from tests.annotations.review.review_dataset import make_review_dataset


@pytest.fixture
def setup(gt_dataset, tmp_path):
    ds, cat = tmp_path / "dataset", tmp_path / "catalog.sqlite"
    facts = make_review_dataset(gt_dataset, ds, cat)
    return ds, facts


def _files(out: Path) -> dict[str, tuple[int, int]]:
    """Every file of an export: inode and mtime (ns)."""
    return {
        p.relative_to(out).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("fmt", ["cvat", "mot", "fiftyone"])
def test_an_unchanged_rerun_rewrites_no_file(setup, tmp_path, fmt):
    ds, f = setup
    out = tmp_path / fmt
    initial = export_dataset(ds, fmt, out)
    before = _files(out)
    assert before and initial["written"] and initial["unchanged"] == []
    again = export_dataset(ds, fmt, out)
    assert _files(out) == before  # was: every label / gt / seqinfo file a new inode
    # and the report says so (was: every file listed as written on each rerun)
    assert again["written"] == [] and again["unchanged"] == initial["written"]
    # one video's ground truth changes: its files (and only those) are written again
    stem = f["videos"][0]
    vt = read_video_tracklets(tracklet_file(ds, f["video_path"][stem]))
    gt = vt.tracklets[vt.ground_truth]
    first = min(gt.boxes)
    x1, y1, x2, y2 = gt.boxes[first]
    gt.boxes[first] = [x1 + 1, y1, x2, y2]
    write_video_tracklets(ds, vt)
    third = export_dataset(ds, fmt, out)
    after = _files(out)
    changed = {rel for rel in after if after[rel] != before.get(rel)}
    assert changed and all(stem in rel for rel in changed)
    assert [Path(p).name.removesuffix(".xml") for p in third["written"]] == [stem]
    assert len(third["unchanged"]) == len(initial["written"]) - 1


def test_a_copied_fiftyone_video_is_not_copied_again(setup, tmp_path, monkeypatch):
    """Where the video cannot be hard-linked (another file system) the copy made stays."""
    import annotations.exchange.fiftyone as fo

    def no_link(src, dst):
        raise OSError("cross-device link")

    monkeypatch.setattr(fo.os, "link", no_link)
    ds, _ = setup
    out = tmp_path / "fo"
    export_dataset(ds, "fiftyone", out)
    before = _files(out)
    copies = []
    real = fo.atomic_copy
    monkeypatch.setattr(fo, "atomic_copy", lambda *a, **k: copies.append(a) or real(*a, **k))
    export_dataset(ds, "fiftyone", out)
    assert _files(out) == before and copies == []


def test_a_fiftyone_copy_cut_short_leaves_no_part_file_and_names_the_export(setup, tmp_path, monkeypatch):
    """A copy a full disk cuts short (here the file-size limit: EFBIG, the same local fault)
    leaves no half-written file in the export, and the error names the export's file, not the
    dataset's video (freeing space on the dataset's disk would not help)."""
    import resource

    import annotations.exchange.fiftyone as fo
    from schemas.errors import LocalFault

    def no_link(src, dst):
        raise OSError("cross-device link")

    monkeypatch.setattr(fo.os, "link", no_link)
    ds, _ = setup
    out = tmp_path / "fo"
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, limit[1]))  # Python ignores SIGXFSZ: EFBIG
    try:
        with pytest.raises(LocalFault) as err:
            export_dataset(ds, "fiftyone", out)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)
    assert err.value.reason == "file_too_large"
    assert Path(err.value.where).parent == out / "data"
    assert [p.name for p in (out / "data").iterdir()] == []  # no .part left behind


def _plant_earlier(out: Path, fmt: str) -> list[Path]:
    """Files an earlier export of a video the dataset no longer has (a product removed since)
    left in ``out``: copies of a video's files under the name ``gone_0``."""
    import shutil

    if fmt == "cvat":
        src = sorted(out.glob("*.xml"))[0]
        planted = [out / "gone_0.xml"]
        shutil.copyfile(src, planted[0])
    elif fmt == "fiftyone":
        label, data = sorted((out / "labels").glob("*.xml"))[0], sorted((out / "data").glob("*"))[0]
        planted = [out / "labels" / "gone_0.xml", out / "data" / f"gone_0{data.suffix}"]
        shutil.copyfile(label, planted[0])
        shutil.copyfile(data, planted[1])
    else:
        seq = next(p for p in sorted(out.iterdir()) if (p / "gt" / "gt.txt").is_file())
        planted = [out / "gone_0"]
        shutil.copytree(seq, planted[0])
    return planted


@pytest.mark.parametrize("fmt", ["cvat", "mot", "fiftyone"])
def test_an_export_into_a_folder_holding_other_videos_files_is_refused_unless_clean(setup, tmp_path, fmt):
    """A folder import (CVAT, FiftyOne) loads every file of the folder: an export into a folder
    holding an earlier export's files of a video it does not write is refused before anything
    is written; --video (a partial export) updates its videos' files and keeps the others';
    --clean removes them."""
    from schemas.errors import ConfigError

    ds, f = setup
    out = tmp_path / fmt
    export_dataset(ds, fmt, out)
    planted = _plant_earlier(out, fmt)
    before = _files(out)
    with pytest.raises(ConfigError) as exc:
        export_dataset(ds, fmt, out)
    text = str(exc.value)
    assert str(out) in text and planted[0].name in text and "--clean" in text, text
    assert _files(out) == before  # nothing written
    stem = f["videos"][0]
    res = export_dataset(ds, fmt, out, videos=[stem])  # a partial export: the others' files stay
    assert res["videos"] == 1 and all(p.exists() for p in planted)
    res = export_dataset(ds, fmt, out, clean=True)
    assert not any(p.exists() for p in planted)
    assert sorted(res["removed"]) == sorted(str(p) for p in planted)
    assert {rel for rel in _files(out) if "gone_0" not in rel} == {
        rel for rel in before if "gone_0" not in rel
    }
    export_dataset(ds, fmt, out)  # the folder holds this export alone now


def test_the_export_command_refuses_a_used_folder_naming_clean(setup, tmp_path, capsys):
    from tests.mf_cli import run_tracklets

    ds, _ = setup
    out = tmp_path / "cvat"
    args = ["export", "--format", "cvat", "--dataset", str(ds), "--out", str(out)]
    code, text, _ = run_tracklets(args, capsys)
    assert code == 0 and "; written " in text and ", unchanged 0" in text, text
    code, text, _ = run_tracklets(args, capsys)  # a rerun says it rewrote nothing
    assert code == 0 and "; written 0, unchanged " in text and ", unchanged 0" not in text, text
    _plant_earlier(out, "cvat")
    code, _, err = run_tracklets(args, capsys)
    assert code == 2 and "gone_0.xml" in err and "--clean" in err, err
    code, _, err = run_tracklets([*args, "--clean"], capsys)
    assert code == 0 and not (out / "gone_0.xml").exists(), err


@pytest.mark.parametrize(
    "first,second",
    [(a, b) for a in ("cvat", "mot", "fiftyone") for b in ("cvat", "mot", "fiftyone") if a != b],
)
def test_an_export_into_a_folder_holding_another_formats_export_is_refused(setup, tmp_path, first, second):
    """Two formats in one folder (a folder import reads one): refused naming the folder and the
    format found, --clean or not, before anything is written."""
    from schemas.errors import ConfigError

    ds, _ = setup
    out = tmp_path / "exp"
    export_dataset(ds, first, out)
    before = _files(out)
    for clean in (False, True):
        with pytest.raises(ConfigError) as exc:
            export_dataset(ds, second, out, clean=clean)
        text = str(exc.value)
        assert str(out) in text and f"holds a {first} export" in text and "new or empty folder" in text, text
        assert _files(out) == before  # nothing written


def test_cli_export_into_a_mot_export_folder_is_refused(setup, tmp_path, capsys):
    from tests.mf_cli import run_tracklets

    ds, _ = setup
    out = tmp_path / "exp-mot"
    export_dataset(ds, "mot", out)
    code, _, err = run_tracklets(
        ["export", "--format", "cvat", "--dataset", str(ds), "--out", str(out)], capsys
    )
    assert code == 2 and "holds a mot export" in err and str(out) in err
    assert not list(out.glob("*.xml"))
