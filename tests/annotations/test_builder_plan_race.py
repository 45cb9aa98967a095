"""A review pick landing while ``mf-tracklets build`` plans its videos (after the build read the
video's file for a person's work, before it planned the next one) is kept: the build stamps each
due file before it reads it, so the re-check under the dataset's lock sees the pick."""

from __future__ import annotations

from pathlib import Path

import pytest

import annotations.builder as builder_mod
from annotations.builder import build_dataset_tracklets
from annotations.tracklet_files import read_video_tracklets, tracklet_file
from tests.annotations.test_builder_races import PA, _pick
from tests.annotations.test_reruns import FakeBuilder, two_product_dataset


@pytest.fixture
def ds(tmp_path: Path) -> Path:
    root = two_product_dataset(tmp_path / "ds")
    assert build_dataset_tracklets(root, builder=FakeBuilder()).processed == 2
    return root


def test_a_pick_landing_while_the_build_plans_is_kept(ds, monkeypatch):
    stamps = builder_mod.input_stamps
    picked: list[str] = []

    def pick_then_stamp(root, job):  # planning pa: its file was read (no person's work) just before
        if job.video_path == PA and not picked:
            picked.append(PA)
            _pick(root)
        return stamps(root, job)

    monkeypatch.setattr(builder_mod, "input_stamps", pick_then_stamp)
    rep = build_dataset_tracklets(ds, builder=FakeBuilder(), force=True)
    assert picked == [PA]
    assert read_video_tracklets(tracklet_file(ds, PA)).ground_truth == 1  # was 0: the pick lost
    assert [k["video"] for k in rep.kept_human_videos] == ["pa_0"]
    assert [k["holds"] for k in rep.kept_human_videos] == ["review pick"]
    assert (rep.processed, rep.kept_human) == (1, 1)
