"""The dataset as the top-level package gives it: ``from movingfashion import MovingFashionDataset``."""

from __future__ import annotations

import subprocess
import sys


def test_the_dataset_imports_from_the_package():
    from movingfashion import MovingFashionDataset
    from movingfashion.dataset import MovingFashionDataset as in_module

    assert MovingFashionDataset is in_module


def test_the_package_alone_stays_light():
    """``import movingfashion`` (``mf --version``) loads no torch until the dataset is asked for."""
    code = (
        "import sys, movingfashion; light = 'torch' not in sys.modules; "
        "movingfashion.MovingFashionDataset; print(light, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]
