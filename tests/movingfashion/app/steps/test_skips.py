"""Every demo step says what it misses instead of failing when an earlier step did not run."""

from __future__ import annotations

import pytest

from movingfashion.app.context import DemoContext, StepSkipped
from movingfashion.app.steps import clean, seam, tracklets


@pytest.mark.parametrize(
    ("step", "why"),
    [(clean, "no catalog and no world"), (tracklets, "no dataset"), (seam, "no published dataset")],
)
def test_missing_input_skips(step, why, tmp_path):
    with pytest.raises(StepSkipped, match=why):
        step.run(DemoContext(work=tmp_path))
