"""Tagged checkpoint files and the device models run on (one home for the matcher, SEAM, detectors).

A tagged checkpoint is a ``torch.save``d dict with a ``kind`` and a ``version``;
:func:`read_tagged_checkpoint` reads one and refuses, naming the file, one that is missing,
corrupt, of another kind or of another version.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schemas.errors import ModelError

if TYPE_CHECKING:
    import torch


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The given device, or CUDA when present, else the CPU."""
    import torch

    if device is not None and device != "":
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def write_tagged_checkpoint(
    path: str | os.PathLike[str],
    *,
    kind: str,
    version: int,
    config: dict[str, Any],
    state: dict[str, torch.Tensor],
    meta: dict[str, Any] | None = None,
    salt: bytes = b"",
) -> str:
    """Write ``state`` as a tagged checkpoint atomically; returns its tag.

    The tag is ``kind/vVERSION:`` and the first 12 hex digits of the SHA-256 of every key and
    its tensor's bytes (floating tensors as float32, so storing in float16 does not change
    what is hashed), then ``salt``.
    """
    import hashlib

    import torch

    from schemas.atomic import atomic_open

    digest = hashlib.sha256()
    for k in sorted(state):
        digest.update(k.encode())
        t = state[k]
        digest.update((t.float() if t.is_floating_point() else t).numpy().tobytes())
    digest.update(salt)
    tag = f"{kind}/v{version}:{digest.hexdigest()[:12]}"
    ckpt = {
        "kind": kind,
        "version": version,
        "config": config,
        "tag": tag,
        "meta": meta or {},
        "state_dict": state,
    }
    with atomic_open(path, "wb") as fh:
        torch.save(ckpt, fh)
    return tag


def read_tagged_checkpoint(
    path: str | os.PathLike[str],
    *,
    kind: str,
    version: int | tuple[int, ...],
    what: str,
    hint: str,
    kind_hint: str | None = None,
    weights_only: bool = True,
) -> dict[str, Any]:
    """The dict saved in ``path``, checked to be a ``kind`` checkpoint of ``version`` (or of one
    of the versions, when a tuple: the ones this code still reads).

    ``what`` names the kind in messages (``"single-frame matcher"``, ``"SEAM"``); ``hint`` says
    how to get a good file (``kind_hint`` instead, when the file is of another kind).
    """
    import torch

    p = Path(path)
    if not p.is_file():
        raise ModelError(f"{what} checkpoint not found", where=str(p), hint=hint)
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=weights_only)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for corrupt files
        raise ModelError(
            f"cannot read the checkpoint ({type(exc).__name__}): the file is corrupt or not a torch file",
            where=str(p),
            hint=hint,
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("kind") != kind:
        found = ckpt.get("kind") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ModelError(
            f"not a {what} checkpoint (kind {found!r}, expected {kind!r})",
            where=str(p),
            hint=kind_hint or hint,
        )
    readable = version if isinstance(version, tuple) else (version,)
    if ckpt.get("version") not in readable:
        raise ModelError(
            f"{what} checkpoint version {ckpt.get('version')!r}, this code reads "
            + " and ".join(map(str, readable)),
            where=str(p),
            hint=hint,
        )
    return ckpt
