"""Fixtures of the loader tests: a tiny official-format dataset of frame-coded H.264 videos."""

from __future__ import annotations

import json
import shutil

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


@pytest.fixture
def shared_video_dataset(tiny_dataset, tmp_path):
    """A copy of ``tiny_dataset`` where product ``ab_C`` also lists product 101's video, with the
    boxes of its own garment there (4 px inside 101's): one video, two products' tracklets."""
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    train = json.loads((root / "train.json").read_text())
    train["ab_C"]["video_paths"] = list(train["101"]["video_paths"])
    train["ab_C"]["tracklets"] = [
        {f: [x + 4, y + 4, x2 - 4, y2 - 4] for f, (x, y, x2, y2) in train["101"]["tracklets"][0].items()}
    ]
    (root / "train.json").write_text(json.dumps(train))
    return root
