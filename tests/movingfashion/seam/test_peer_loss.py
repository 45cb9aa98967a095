"""A rank of a torchrun group that dies (SIGKILL, out of memory) made every other rank print the
backend's traceback (gloo: ``RuntimeError: [.../pair.cc:545] Read error ...: Connection reset by
peer``); each now stops with one line naming last.pt and the rerun with --resume. The walkthrough
(2 gloo ranks, rank 1 SIGKILLed at epoch 10 of 30): torchrun stopped rank 0 within 1.2-2 s, and
the --resume run ended with last.pt and history.jsonl equal to an uninterrupted run's."""

from __future__ import annotations

import pytest
import torch.distributed as dist

from movingfashion.seam.peers import peer_loss_named
from schemas.errors import ModelError

GLOO = (
    "[/__w/pytorch/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:545] Read error [127.0.0.1]:53928: "
    "Connection reset by peer. This is typically caused by a remote worker hanging or bugs in the application."
)


@pytest.mark.parametrize("exc", [RuntimeError(GLOO), dist.DistBackendError("NCCL communicator was aborted")])
def test_a_collective_that_lost_its_peer_is_one_line_naming_last_pt_and_resume(tmp_path, exc):
    with pytest.raises(ModelError) as err, peer_loss_named(2, 0, tmp_path):
        raise exc
    e = err.value
    assert (
        e.where == str(tmp_path / "last.pt")
        and "rank 0 of 2: another process of the torchrun group is gone" in e.message
    )
    assert "pair.cc" not in e.message and "--resume" in e.hint
    if not isinstance(exc, dist.DistError):  # gloo: its first sentence, without the source file
        assert "(Read error [127.0.0.1]:53928: Connection reset by peer)" in e.message


@pytest.mark.parametrize(
    ("world", "exc"),
    [(1, RuntimeError(GLOO)), (2, RuntimeError("CUDA out of memory")), (2, ValueError("gloo"))],
)
def test_one_process_and_other_errors_pass_through(tmp_path, world, exc):
    with pytest.raises(type(exc)) as err, peer_loss_named(world, 0, tmp_path):
        raise exc
    assert err.value is exc
