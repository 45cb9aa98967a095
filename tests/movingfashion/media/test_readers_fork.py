"""A forked process (a DataLoader worker) never frees a reader its parent opened.

A decoder's threads do not exist in the child, so freeing it there waits for them forever: a
worker whose garbage collector met a reader the parent had dropped (say, in a reference cycle
of an earlier evaluation) hung, and the DataLoader timed out."""

from __future__ import annotations

import gc
import os
import time

import pytest

from movingfashion.media.readers import READERS, BackendUnavailable

WAIT_S = 30.0


def _child_survives_collecting(make_garbage) -> bool:
    """Fork after ``make_garbage`` left a reader only a reference cycle holds; the child runs the
    garbage collector and exits. True when it exits within WAIT_S (killed otherwise)."""
    gc.disable()  # the cycle must still be there when the process forks
    try:
        make_garbage()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            gc.enable()
            gc.collect()
            os._exit(0)
    finally:
        gc.enable()
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) == 0
        time.sleep(0.02)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return False


@pytest.mark.parametrize("backend", ["pyav", "opencv", "decord", "torchcodec"])
def test_a_reader_dropped_before_fork_is_not_freed_in_the_child(tiny_dataset, backend):
    video = str(tiny_dataset / "videos" / "101_0.mp4")

    def make_garbage():
        try:
            reader = READERS[backend](video)
        except BackendUnavailable as exc:
            pytest.skip(f"{backend} cannot run here: {exc}")  # torchcodec without FFmpeg libraries
        reader.get([0, 13, 40])
        cycle: list = [reader]
        cycle.append(cycle)

    assert _child_survives_collecting(make_garbage), f"the forked child hung freeing a {backend} reader"
    gc.collect()  # the parent frees it as usual
