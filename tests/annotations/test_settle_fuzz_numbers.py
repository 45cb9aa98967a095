"""The settle pass on a tracklet file whose stored signals hold NaN or Infinity (an older build's
file without a build record, or an edited one): left out with a warning naming it, no traceback."""

from __future__ import annotations

import json
import logging
import shutil

import pytest

from annotations.config import ReviewConfig
from annotations.settle import _members_match, dataset_flags, settle_flags
from annotations.tracklet_files import tracklet_file
from tests.annotations.test_settle import _build


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "1e400"])
def test_a_non_finite_members_signal_leaves_the_file_out_by_name(tmp_path, caplog, literal):
    jobs = _build(tmp_path, [7, 8])
    p = tracklet_file(tmp_path, jobs[0].video_path)
    data = json.loads(p.read_text())
    data["tracklets"][0]["scores"] = {"0": 0.9}
    p.write_text(json.dumps(data).replace('"members": 20.0', f'"members": {literal}'))
    shutil.rmtree(p.parent / ".build", ignore_errors=True)  # no build record: judged by members
    with caplog.at_level(logging.WARNING, logger="annotations.settle"):
        assert "p7_0" not in dataset_flags(tmp_path)
        settle_flags(tmp_path, jobs, ReviewConfig(), fresh=set())
    assert f"{p} left out" in caplog.text and "signals.members" in caplog.text


def test_members_match_refuses_non_finite_counts():
    assert _members_match(None, 3) and _members_match(3.0, 3)
    assert not _members_match(float("nan"), 3) and not _members_match(float("inf"), 3)
