"""``benchmarks/bench_collate.py``: it times the baseline on the threads it is given, restores
torch's thread count, and prints baseline / collate ratios from its own figures."""

from __future__ import annotations

import json

import torch

from .conftest import load_script


def test_json_gives_each_dtype_its_ratios_from_the_measured_times_and_restores_the_threads(capsys):
    bc = load_script("bench_collate")
    before = torch.get_num_threads()
    assert (
        bc.main(
            [
                "--batch",
                "2",
                "--frames",
                "2",
                "--size",
                "16",
                "--rounds",
                "1",
                "--reps",
                "2",
                "--settle",
                "0",
                "--threads",
                "1",
                "--json",
            ]
        )
        == 0
    )
    assert torch.get_num_threads() == before
    got = json.loads(capsys.readouterr().out)
    assert set(got["rows"]) == {"uint8", "float32", "to float"} and got["threads"] == 1
    for r in got["rows"].values():
        assert r["cpu_ratio"] == r["torch_cpu_ms"] / r["ours_cpu_ms"]
        assert r["wall_ratio"] == r["torch_wall_ms"] / r["ours_wall_ms"]
