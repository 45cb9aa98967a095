"""Fixtures of the loader tests: a tiny official-format dataset of frame-coded H.264 videos."""

from __future__ import annotations

import pytest
import torch

from tests.movingfashion.helpers import make_archive, make_dataset, make_df2

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("mf_tiny"))


@pytest.fixture(scope="session")
def df2_root(tmp_path_factory):
    """A DeepFashion2-format 'validation' split (see ``helpers.make_df2``)."""
    return make_df2(tmp_path_factory.mktemp("df2"))


@pytest.fixture(scope="session")
def archive_dir(tmp_path_factory):
    """A tiny folder shaped like the real archive, built by hand (``helpers.make_archive``)."""
    return make_archive(tmp_path_factory.mktemp("archive") / "MovingFashion")
