"""glibc malloc thresholds for loader workers (movingfashion.malloc_tuning): loader_settings'
workers apply them (and still run the caller's init), they can be turned off, they stop a
batch's buffers from being faulted in afresh, and elsewhere they are a no-op."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from movingfashion import malloc_tuning
from movingfashion.batching import loader_settings

ROOT = Path(__file__).resolve().parents[2]  # the repository: the child imports movingfashion from it
GLIBC = sys.platform.startswith("linux") and malloc_tuning._mallopt() is not None
_init_ran: list[int] = []


def _mark(worker_id: int) -> None:
    _init_ran.append(worker_id)


class _Report(torch.utils.data.Dataset):
    """Item: (the worker's pid, whether malloc was tuned in it, whether the caller's init ran)."""

    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int) -> tuple[int, bool, bool]:
        return os.getpid(), malloc_tuning.malloc_tuned(), bool(_init_ran)


def _reports(**settings) -> list[tuple[int, bool, bool]]:
    s = {**loader_settings(1, pin_memory=False, **settings), "persistent_workers": False}
    return list(torch.utils.data.DataLoader(_Report(), batch_size=None, **s))


@pytest.mark.skipif(not GLIBC, reason="glibc's mallopt is Linux/glibc only (elsewhere a no-op, tested below)")
def test_loader_settings_workers_tune_malloc_in_the_worker_and_run_the_callers_init():
    got = _reports(worker_init_fn=_mark)
    assert {pid for pid, _, _ in got} != {os.getpid()}  # it ran in a worker
    assert all(tuned and init for _, tuned, init in got)
    off = _reports(malloc_tuning=False, worker_init_fn=_mark)
    assert all(not tuned and init for _, tuned, init in off)
    assert "worker_init_fn" not in loader_settings(1, malloc_tuning=False)


@pytest.mark.skipif(not GLIBC, reason="glibc's mallopt is Linux/glibc only")
def test_loader_settings_tune_the_calling_process_for_the_0_worker_path(monkeypatch):
    monkeypatch.setattr(malloc_tuning, "_tuned_pid", None)
    loader_settings(0, malloc_tuning=False)
    assert not malloc_tuning.malloc_tuned()
    assert "worker_init_fn" not in loader_settings(0)
    assert malloc_tuning.malloc_tuned()


_FAULTS = """
import resource, sys
import numpy as np
from movingfashion import malloc_tuning
assert malloc_tuning.tune_malloc() if sys.argv[1] == "1" else True
def batch():
    items = [np.ones((10, 224, 224, 3), np.uint8) for _ in range(4)]  # 4 clips of 1.5 MB
    del items
batch()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    batch()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not GLIBC, reason="glibc's mallopt is Linux/glibc only")
def test_tuned_malloc_reuses_a_batchs_pages_instead_of_faulting_them_in_again():
    def faults(tuned: str) -> int:
        run = subprocess.run(
            [sys.executable, "-c", _FAULTS, tuned], capture_output=True, text=True, check=True, cwd=ROOT
        )
        return int(run.stdout)

    plain, tuned = faults("0"), faults("1")
    assert plain > 20 * 1000  # 20 batches of 6 MB: each faulted in again (about 1,470 pages each)
    assert tuned < 200


def test_tune_malloc_is_a_no_op_without_glibc(monkeypatch):
    monkeypatch.setattr(malloc_tuning.platform, "libc_ver", lambda: ("", ""))
    monkeypatch.setattr(malloc_tuning, "_tuned_pid", None)
    assert malloc_tuning.tune_malloc() is False
    assert malloc_tuning.malloc_tuned() is False
    ran: list[int] = []
    malloc_tuning.MallocWorkerInit(then=ran.append)(3)  # still runs the caller's init
    assert ran == [3]
