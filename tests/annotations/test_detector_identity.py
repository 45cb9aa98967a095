"""The tracklet builder and a renamed copy of the shipped detector: the same weights (same content
hash), so the RoI path trained on them is taken and ``embed_source: roi`` is accepted."""

from __future__ import annotations

import shutil

from annotations.builder import TrackletBuilder
from annotations.config import BuildConfig
from movingfashion.models.detectors import DetectorConfig, build_detector, default_detector_path
from movingfashion.models.matchers import matcher_for
from movingfashion.models.roi import RoIMatcher, load_roi_matcher


def test_renamed_detector_takes_the_roi_path(tmp_path):
    copy = tmp_path / "my_detector.pt"
    shutil.copyfile(default_detector_path(), copy)
    det = build_detector("ultralytics", copy, DetectorConfig(device="cpu"))
    auto = matcher_for(det, "auto", device="cpu")
    assert isinstance(auto, RoIMatcher)
    # `mf-tracklets build --weights my_detector.pt --embed roi`: accepted, the RoI path runs
    builder = TrackletBuilder(
        det, load_roi_matcher(None, device="cpu"), BuildConfig(embed_source="roi", roi_fallback=False)
    )
    assert builder.embed_source == "roi" and builder.roi is not None
    builder.roi.close()
    assert (
        TrackletBuilder(det, auto, BuildConfig(embed_source="auto", roi_fallback=False)).embed_source == "roi"
    )


def test_a_rebuild_with_the_renamed_weights_skips_the_done_videos(gt_dataset, tmp_path):
    from annotations.builder import build_dataset_tracklets
    from tests.annotations.test_builder import _mini_dataset

    ds = tmp_path / "ds"
    _mini_dataset(gt_dataset, ds, 1)
    cfg = BuildConfig(stride=4)
    first = build_dataset_tracklets(ds, config=cfg)
    assert first.processed == 1
    copy = tmp_path / "renamed.pt"
    shutil.copyfile(default_detector_path(), copy)
    again = build_dataset_tracklets(ds, weights=copy, config=cfg)
    assert (again.processed, again.skipped) == (0, 1)  # same content hash: nothing to redo
