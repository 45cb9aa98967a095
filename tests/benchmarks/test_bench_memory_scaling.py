"""``benchmarks/bench_memory_scaling.py``: a block counts for the two-process figure only when it
ran uninterrupted while the other process was on a core for all of it, and ``--json`` prints one
JSON document with every kernel's ratios."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from .conftest import BENCH, load_script


@pytest.fixture(scope="module")
def ms():
    return load_script("bench_memory_scaling")


def _log(spans: list[tuple[float, float, float]]) -> np.ndarray:
    """Per block (start s, end s, CPU s): the log a worker writes (wall start, end, CPU start, end)."""
    out, cpu = [], 0.0
    for t0, t1, c in spans:
        out.append((t0, t1, cpu, cpu + c))
        cpu += c
    return np.array(out)


def test_only_blocks_the_other_process_ran_through_count_as_together(ms):
    mine = _log([(0.0, 1.0, 1.0), (1.0, 2.0, 1.0), (2.0, 4.0, 1.0), (4.0, 5.0, 1.0), (5.0, 6.0, 1.0)])
    # the other: on a core 0-1.5, preempted in its block 1.5-3.5, a pause 4.5-5.2 between blocks
    other = _log([(0.0, 0.5, 0.5), (0.5, 1.5, 1.0), (1.5, 3.5, 0.5), (3.5, 4.5, 1.0), (5.2, 6.2, 1.0)])
    assert ms._whole(mine).tolist() == [True, True, False, True, True]
    # block 1 (1-2) reaches past the other's run 0-1.5; block 3 (4-5) spans its pause
    assert ms._covered(mine, other).tolist() == [True, False, False, False, False]


def test_json_gives_each_kernel_its_ratios_and_the_load():
    # run as the command it is: the script forks its workers, and a fork of a pytest-xdist worker
    # (threads of its own, one of them reading the controller's channel) could hang a child
    # before it reached the start barrier
    args = ["--batch", "1", "--frames", "2", "--size", "32", "--blocks", "20", "--rounds", "1", "--json"]
    done = subprocess.run(
        [sys.executable, str(BENCH / "bench_memory_scaling.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout)
    assert set(got["kernels"]) == {"copy", "planes", "compute"} and got["block_bytes"] == 2 * 32 * 32 * 3
    assert {"ratio", "cpu_ratio", "one_cpu_ms", "two_cpu_ms", "two_blocks"} <= set(got["kernels"]["copy"])
    assert got["load_start"] >= 0 and got["copy_gb_s"] > 0
