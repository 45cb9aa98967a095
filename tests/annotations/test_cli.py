"""``mf-tracklets`` commands' own checks (the exchange formats are tested in exchange/)."""

from __future__ import annotations

import json

from tests.mf_cli import run_tracklets as _run


def test_export_without_tracklet_files_is_an_input_error_and_creates_nothing(tmp_path, capsys):
    """A dataset published but not through mf-tracklets build yet: one line naming
    DATASET/tracklets and the command to run, exit 2, no --out (before: "0 videos ...", exit 0)."""
    ds = tmp_path / "dataset"
    ds.mkdir()
    row = {"video_paths": ["videos/p_0.mp4"], "img_path": "imgs/p.jpg", "source": 1, "tracklets": [{}]}
    (ds / "train.json").write_text(json.dumps({"p": row}))
    for extra in ([], ["--json"]):
        out_dir = tmp_path / "cvat"
        code, out, err = _run(
            ["export", "--format", "cvat", "--dataset", str(ds), "--out", str(out_dir), *extra], capsys
        )
        lines = err.strip().splitlines()
        assert code == 2 and (json.loads(out)["path"] == str(ds / "tracklets") if extra else out == ""), out
        assert len(lines) == 1 and str(ds / "tracklets") in lines[0] and "mf-tracklets build" in lines[0]
        assert not out_dir.exists()


def test_build_on_splits_listing_no_product_is_one_error_naming_them(tmp_path, capsys):
    """Split files that list no product: one line naming them and what to do, exit 2, nothing
    written in the dataset (before: "0 videos processed ...", exit 0, build locks left)."""
    ds = tmp_path / "dataset"
    ds.mkdir()
    (ds / "train.json").write_text("{}")
    code, out, err = _run(["build", "--dataset", str(ds)], capsys)
    assert (code, out) == (2, ""), out
    assert err.splitlines() == [
        f"error: {ds / 'train.json'}: the train split lists no product "
        "(pass a dataset whose train split has products (mf publish, mf splits))"
    ]
    (ds / "test.json").write_text("{}")
    code, out, err = _run(["build", "--dataset", str(ds), "--json"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    said = json.loads(out)
    assert (
        said["error"] == f"{ds / 'train.json'}, {ds / 'test.json'}: the train and test splits list no product"
    )
    assert "mf publish" in said["hint"]
    assert sorted(p.name for p in ds.iterdir()) == ["test.json", "train.json"]
