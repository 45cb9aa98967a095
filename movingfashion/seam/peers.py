"""A rank of a ``torchrun`` group that is gone (killed, out of memory, its machine lost) makes the
next collective of every other rank fail with the backend's words (gloo's ``Connection reset by
peer``, NCCL's ``DistBackendError``) and a traceback. :func:`peer_loss_named` turns that into
one :class:`~schemas.errors.ModelError` line per rank naming ``last.pt`` and the rerun with
``--resume``; ``torchrun``'s own report names the rank that failed first, and stops the others
(SIGTERM) within seconds."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

from schemas.errors import ModelError

#: words of a collective that lost its peer (gloo on the CPU, NCCL on CUDA)
_PEER_WORDS = ("gloo", "nccl", "connection reset", "connection closed", "broken pipe")
#: the source location a backend's message starts with
_WHERE = re.compile(r"^\[[^\]]*\]\s*")


def lost_peer(exc: BaseException) -> bool:
    """Whether ``exc`` is a collective's failure because another rank is gone."""
    import torch.distributed as dist

    if isinstance(exc, dist.DistError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(w in text for w in _PEER_WORDS)


def backend_words(exc: BaseException) -> str:
    """The first sentence of the backend's message, without the source file it starts with
    (gloo's ``[/.../pair.cc:561] Connection closed by peer [127.0.0.1]:43183. This is ...``)."""
    words = _WHERE.sub("", str(exc).strip().splitlines()[0] if str(exc).strip() else "")
    first = words.split(". ")[0].rstrip(".")
    return first[:160] or type(exc).__name__


@contextlib.contextmanager
def peer_loss_named(world: int, rank: int, out: str | Path) -> Iterator[None]:
    """Raise :class:`ModelError` (one line, exit 2) instead of the backend's error when another
    rank of a ``world``-process group is gone while this block runs (a 1-process run, and every
    other error, pass through as they are)."""
    try:
        yield
    except RuntimeError as exc:
        if world < 2 or not lost_peer(exc):
            raise
        first = backend_words(exc)
        raise ModelError(
            f"rank {rank} of {world}: another process of the torchrun group is gone ({first})",
            where=str(Path(out) / "last.pt"),
            hint="torchrun's report names the rank that failed first; once that is fixed, rerun the same "
            "torchrun command with --resume (last.pt keeps the last epoch saved)",
        ) from None
