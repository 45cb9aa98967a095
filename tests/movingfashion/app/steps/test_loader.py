"""Demo step ``loader``: clips and shapes from the published dataset."""

from __future__ import annotations

import pytest

from movingfashion.app.context import DemoContext, StepSkipped
from movingfashion.app.steps.loader import run


def test_reports_clips_and_shapes(gt_dataset, tmp_path):
    ctx = DemoContext(work=tmp_path, dataset=gt_dataset, quick=True)
    out = run(ctx)
    train = out.splits["train"]
    assert train.clips == 16 and train.frames_shape == [8, 10, 3, 112, 112]
    assert train.clips_per_s > 0 and out.splits["test"].products > 0
    assert ctx.train_set is not None and ctx.train_set.frames == 10


def test_without_dataset_it_is_skipped(tmp_path):
    with pytest.raises(StepSkipped, match="no published dataset"):
        run(DemoContext(work=tmp_path))
