"""A malformed number outside a product's tracklets (``"source": 1.e``) holds the product out of
an export, but its videos were not known (the split file was read whole to find them, and it
does not decode): the export did not list them as left out, and refused a folder holding their
earlier files as "files of an earlier export of videos this export does not write". Now they are
read from the entry's ``video_paths`` (the shared entry-by-entry reader): the video is left out,
named, its earlier file kept (``stale``), the other products exported."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from annotations.exchange import export_dataset
from annotations.tracklet_files import load_splits_rows
from tests.annotations.exchange.archive_layout import make_archive


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return make_archive(tmp_path_factory.mktemp("archive") / "ds")


@pytest.fixture
def bad_source(archive, tmp_path) -> Path:
    """The archive with product 1002's ``source`` written ``1.e``: train.json no longer decodes."""
    ds = Path(shutil.copytree(archive, tmp_path / "ds"))
    text = (ds / "train.json").read_text()
    at = text.index('"source"', text.index('"1002"'))
    at = text.index(":", at) + 1
    end = text.index(",", at) if text.index(",", at) < text.index("}", at) else text.index("}", at)
    (ds / "train.json").write_text(text[:at] + " 1.e" + text[end:])
    return ds


def test_the_held_out_product_still_lists_its_videos(bad_source):
    read = load_splits_rows(bad_source)
    assert [b.product_id for b in read.held_out] == ["1002"]
    assert "field 'source'" in read.held_out[0].line()
    assert sorted(read.held_videos) == [("videos/1002.mp4", "1002")]


@pytest.mark.parametrize("fmt", ["cvat", "fiftyone"])
def test_an_earlier_export_of_its_video_stays_and_the_others_are_exported(archive, bad_source, tmp_path, fmt):
    out = tmp_path / fmt
    assert export_dataset(archive, fmt, out)["videos"] == 3
    earlier = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.stem == "1002" and p.is_file())
    assert earlier
    res = export_dataset(bad_source, fmt, out)  # not refused for 1002's files: it is held out
    assert res["videos"] == 2
    assert list(res["left_out_videos"]) == ["1002"] and "field 'source'" in res["left_out_videos"]["1002"]
    assert set(res["stale"]) <= {str(out / name) for name in earlier} and res["stale"]
    assert all((out / name).is_file() for name in earlier)
    names = {Path(p).stem for p in res["written"] + res["unchanged"]}  # the others' files held their bytes
    assert {"1001", "2001"} <= names and "1002" not in names
