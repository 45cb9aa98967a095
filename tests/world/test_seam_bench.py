"""``movingfashion.world.seam_bench``: a rerun reuses an export only when it was made with the
same ``--tracklets`` (the default changed from "tracked" to "linked")."""

from __future__ import annotations

import json

import pytest

from movingfashion.world.seam_bench import finished_export
from schemas.errors import ConfigError


def test_an_export_is_reused_only_with_the_tracklets_it_was_made_with(tmp_path):
    data = tmp_path / "train-set"
    assert not finished_export(data, "linked")  # nothing there: export
    data.mkdir()
    (data / "manifest.json").write_text(json.dumps({"tracklets": "linked", "files": {}}))
    assert finished_export(data, "linked")
    with pytest.raises(ConfigError, match="exported with --tracklets linked, not tracked") as exc:
        finished_export(data, "tracked")
    assert "pass --tracklets linked" in str(exc.value)
    (data / "manifest.json").write_text(json.dumps({"files": {}}))  # says nothing: reused as it is
    assert finished_export(data, "tracked")
