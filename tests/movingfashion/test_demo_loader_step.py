from __future__ import annotations

from pathlib import Path

from movingfashion.app.steps.loader import step


class Ctx:
    def __init__(self, dataset):
        self.dataset, self.seed, self.quick, self.extras = dataset, 0, True, {}
        self.work = Path(".")


def test_demo_step_reports_clips_and_shapes(gt_dataset):
    ctx = Ctx(gt_dataset)
    out = step(ctx)
    assert out["train"]["clips"] == 16 and out["train"]["frames_shape"] == [8, 10, 3, 112, 112]
    assert out["train"]["clips_per_s"] > 0 and out["test"]["products"] > 0
    assert ctx.extras["loader"].frames == 10


def test_demo_step_without_dataset_says_so():
    assert "skipped" in step(Ctx(None))["status"]
