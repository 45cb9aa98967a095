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
