"""``benchmarks/seam_frame_choice.py``'s rules: a test set without corruption truth stops it,
unknown frames are not taken for clean, and top-1 counts ties against the query."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "seam_frame_choice.py"


@pytest.fixture(scope="module")
def fc():
    spec = importlib.util.spec_from_file_location("seam_frame_choice", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_bank_without_truth_stops_the_script(fc, tmp_path):
    with pytest.raises(SystemExit, match="no corruption truth"):
        fc.require_truth(SimpleNamespace(noise=torch.full((3, 4), -1, dtype=torch.int8)), tmp_path)
    fc.require_truth(SimpleNamespace(noise=torch.tensor([[-1, 0], [-1, -1]], dtype=torch.int8)), tmp_path)


def test_ties_are_not_hits(fc):
    scores = torch.zeros(3, 3)  # a collapsed model: every shop ties
    scores[2, 2] = 1.0
    assert fc.top1_hits(scores, torch.arange(3)).tolist() == [0.0, 0.0, 1.0]


def test_the_clean_average_leaves_unknown_and_corrupted_frames_out(fc):
    x = torch.tensor([[[1.0], [3.0], [100.0], [-50.0]], [[2.0], [4.0], [6.0], [8.0]]])  # [Q=2, T=4, D=1]
    noise = torch.tensor([[0, 0, -1, 2], [1, -1, 1, -1]])  # 0 clean, -1 unknown, k > 0 corrupted
    got = fc.clean_average(x, noise)
    assert got[0].item() == 2.0  # frames 0 and 1 only
    assert got[1].item() == 5.0  # no clean frame: the plain average
