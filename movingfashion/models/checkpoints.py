"""Tagged checkpoint files and the device models run on (one home for the matcher, SEAM, detectors).

A tagged checkpoint is a ``torch.save``d dict with a ``kind`` and a ``version``;
:func:`read_tagged_checkpoint` reads one and refuses, naming the file, one that is missing,
corrupt, of another kind or of another version.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schemas.errors import ModelError

if TYPE_CHECKING:
    from collections.abc import Mapping

    import torch


#: the devices the toolkit runs on: the CPU, CUDA (the current one), or CUDA device N; ``auto``
#: (as unset): CUDA when present, else the CPU
DEVICE_NAMES = re.compile(r"auto|cpu(:0)?|cuda(:\d+)?")
DEVICE_HINT = "use cpu, cuda, cuda:N or auto (CUDA when present, else the CPU; the same as leaving it unset)"


def check_device_name(device: str | None) -> str | None:
    """``device`` when it is None, empty or one of :data:`DEVICE_NAMES`; else ValueError (a config
    field's validator: pydantic names the file and field). Whether the machine has it is
    :func:`pick_device`'s to say, when the device is used."""
    if device and not DEVICE_NAMES.fullmatch(device):
        raise ValueError(f"unknown device {device!r}: {DEVICE_HINT}")
    return device


#: the environment variable naming the device when no option or config key does
DEVICE_ENV = "MF_DEVICE"


_default_device: str | None = None  # this process's --device (set_default_device)


def default_device_name() -> str | None:
    """The device of this process when a caller names none: ``--device``, else ``$MF_DEVICE``."""
    return _default_device or os.environ.get(DEVICE_ENV, "").strip() or None


def set_default_device(device: str | None, where: str = "--device") -> None:
    """Make ``device`` what :func:`pick_device` takes in this process when given none (a
    command's ``--device``), checked now: a name it refuses is a
    :class:`~schemas.errors.ConfigError` naming ``where``. Worker processes of a cluster do not
    take it: Ray gives each its GPU (seen there as ``cuda:0``)."""
    global _default_device
    from schemas.errors import ConfigError

    if not device:
        return
    try:
        pick_device(device)
    except ConfigError as exc:
        raise ConfigError(exc.message, where=where, hint=exc.hint) from None
    _default_device = device


def device_option(f: Any) -> Any:
    """``--device NAME`` on a command that runs models: :func:`set_default_device` (cpu, cuda, cuda:N)."""
    import click

    def _set(ctx: Any, param: Any, value: str | None) -> str | None:
        set_default_device(value)
        return value

    return click.option(
        "--device",
        default=None,
        expose_value=False,
        callback=_set,
        metavar="NAME",
        help=f"Device the models run on: cpu, cuda, cuda:N or auto (CUDA when present, else the CPU)"
        f" [default: ${DEVICE_ENV}, else auto].",
    )(f)


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The given device, or the process's default (:func:`default_device_name`), or CUDA when
    present, else the CPU (also for ``auto``). A device name torch does not know, one the toolkit does not run on
    (``mps``, ``meta``, ``cpu:7``), or CUDA on a machine without it, is a
    :class:`~schemas.errors.ConfigError` naming it."""
    import torch

    from schemas.errors import ConfigError

    if device is None or device == "":
        device = default_device_name()
        if device is not None:  # --device was checked when given: an error here is $MF_DEVICE's
            try:
                return pick_device(device)
            except ConfigError as exc:
                raise ConfigError(exc.message, where=DEVICE_ENV, hint=exc.hint) from None
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda") or (dev.type == "cpu" and dev.index not in (None, 0)):
        raise ConfigError(f"unknown device {str(device)!r}", where="device", hint=DEVICE_HINT) from None
    if dev.type == "cuda" and (
        not torch.cuda.is_available() or (dev.index is not None and dev.index >= torch.cuda.device_count())
    ):
        raise ConfigError(
            f"device {device!r} is not on this machine ({torch.cuda.device_count()} CUDA devices)",
            where="device",
            hint="use cpu, or leave the device unset to take CUDA only when it is there",
        )
    return dev


def one_line(text: object, limit: int = 200) -> str:
    """``text`` as one line (whitespace collapsed), cut at a word boundary with ``...`` when longer
    than ``limit`` characters: a third-party error's message, quoted in one of ours."""
    s = " ".join(str(text).split())
    if len(s) <= limit:
        return s
    cut = s[: limit - 3]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.") + "..."


def checkpoint_kind(path: str | os.PathLike[str]) -> str | None:
    """The ``kind`` of the tagged checkpoint at ``path`` (a matcher, SEAM...), or ``None`` when the
    file is not one (unreadable, not a torch file, a plain state dict, detector weights)."""
    import torch

    try:
        ckpt = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - anything unreadable is simply not a tagged checkpoint
        return None
    kind = ckpt.get("kind") if isinstance(ckpt, dict) else None
    return kind if isinstance(kind, str) else None


def save_torch_file(obj: Any, path: str | os.PathLike[str]) -> None:
    """Write ``obj`` to ``path`` as ``torch.save`` does, atomically (a temporary file renamed
    into place; nothing at ``path`` until it is whole).

    It calls torch's own ``torch.serialization.save``, not ``torch.save``: importing ultralytics
    replaces ``torch.save`` with a version that retries three times on a ``RuntimeError``, which
    is what torch's zip writer raises when Ctrl-C or SIGTERM lands inside it; the retry then wrote
    a second archive after the first one's bytes in the same file and the interrupt was lost. Here
    the interrupt stops the save (the temporary file is removed) and the command exits 130 / 143.
    """
    import torch.serialization

    from schemas.atomic import atomic_open

    with atomic_open(path, "wb") as fh:
        torch.serialization.save(obj, fh)


def content_tag(kind: str, version: int, state: dict[str, torch.Tensor], salt: bytes = b"") -> str:
    """``kind/vVERSION:`` and the first 12 hex digits of the SHA-256 of every key and its
    tensor's bytes (floating tensors as float32, so storing in float16 does not change what is
    hashed), then ``salt``. The loaders compute it from the weights they load, so a checkpoint
    re-saved with other weights under its old ``tag`` (load the dict, replace the state, save)
    is not taken for the old one by the caches keyed on it."""
    import hashlib

    digest = hashlib.sha256()
    for k in sorted(state):
        digest.update(k.encode())
        t = state[k].detach().cpu()
        digest.update((t.float() if t.is_floating_point() else t).contiguous().numpy().tobytes())
    digest.update(salt)
    return f"{kind}/v{version}:{digest.hexdigest()[:12]}"


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
    """Write ``state`` as a tagged checkpoint atomically; returns its tag (:func:`content_tag`)."""
    tag = content_tag(kind, version, state, salt)
    ckpt = {
        "kind": kind,
        "version": version,
        "config": config,
        "tag": tag,
        "meta": meta or {},
        "state_dict": state,
    }
    save_torch_file(ckpt, path)
    return tag


def read_tagged_checkpoint(
    path: str | os.PathLike[str],
    *,
    kind: str,
    version: int | tuple[int, ...],
    what: str,
    hint: str,
    kind_hint: str | None = None,
    kind_hints: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The dict saved in ``path``, checked to be a ``kind`` checkpoint of ``version`` (or of one
    of the versions, when a tuple: the ones this code still reads).

    ``what`` names the kind in messages (``"single-frame matcher"``, ``"SEAM"``); ``hint`` says
    how to get a good file (``kind_hint`` instead, when the file is of another kind; it also says
    where files of this kind go when the file is a detector's weights; ``kind_hints`` the hint for
    a file of one named kind, in place of ``kind_hint``). Read with
    ``weights_only=True``: a file pickling anything but tensors and plain data is refused unread.
    """
    import torch

    p = Path(path)
    if not p.is_file():
        raise ModelError(f"{what} checkpoint not found", where=str(p), hint=hint)
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for corrupt files
        if is_yolo_weights(p):  # a valid torch file weights_only refuses: the detector's weights
            raise ModelError(
                f"this is YOLO detector weights (ultralytics), not a {what} checkpoint",
                where=str(p),
                hint="pass it as --weights FILE to mf-tracklets build; "
                + (kind_hint or f"--matcher takes a {what} checkpoint"),
            ) from None
        if _is_json_text(p):  # a results.json or a config passed as the checkpoint
            raise ModelError(
                f"this is a JSON text file, not a {what} checkpoint (a torch file)",
                where=str(p),
                hint="mf evaluate's results.json goes to mf report; " + (hint or "pass the run's last.pt"),
            ) from None
        raise ModelError(unreadable_checkpoint(exc), where=str(p), hint=hint) from None
    if not isinstance(ckpt, dict) or ckpt.get("kind") != kind:
        found = ckpt.get("kind") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ModelError(
            f"not a {what} checkpoint (kind {found!r}, expected {kind!r})",
            where=str(p),
            hint=(kind_hints or {}).get(str(found)) or kind_hint or hint,
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


def _is_json_text(path: Path) -> bool:
    """Whether ``path`` starts (after blanks) like a JSON object or array: a text file that
    ``torch.load`` cannot read (a results.json given for a checkpoint)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64).lstrip(b" \t\r\n\xef\xbb\xbf")
    except OSError:
        return False
    return head[:1] in (b"{", b"[")


def unreadable_checkpoint(exc: BaseException) -> str:
    """Why ``torch.load(..., weights_only=True)`` failed, for a message naming the file."""
    import pickle

    named = re.search(r"GLOBAL ([\w.]+)", str(exc)) if isinstance(exc, pickle.UnpicklingError) else None
    if named:  # torch names the global it refused; any other unpickling failure is a broken file
        return (
            f"cannot read the checkpoint: it pickles objects other than tensors and plain data"
            f" ({named.group(1)}), and loading those could run code, so it was refused unread"
        )
    return f"cannot read the checkpoint ({type(exc).__name__}): the file is corrupt or not a torch file"


def is_yolo_weights(path: Path) -> bool:
    """Whether ``path`` is a torch file pickling ultralytics' classes (YOLO detector weights);
    read without unpickling anything (the names of the globals it would load)."""
    import torch

    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # noqa: BLE001 - not a readable torch zip: not YOLO weights either
        return False
    return any(n.startswith("ultralytics.") for n in names)


#: The content hash a detector version ends with (``ultralytics:detector.pt:566fb295ba5e``).
_HASH = re.compile(r"[0-9a-f]{12}")


def weights_identity(version: str) -> str:
    """A detector ``version`` without the weights' file name: ``backend:HASH`` when it ends in a
    content hash (``ultralytics:detector.pt:566fb295ba5e`` -> ``ultralytics:566fb295ba5e``), else
    ``version`` as it is (a model config, random init). Reads versions written by any release."""
    backend, _, rest = version.partition(":")
    digest = rest.rpartition(":")[2]
    return f"{backend}:{digest}" if _HASH.fullmatch(digest) else version


def same_weights(a: str | None, b: str | None) -> bool:
    """Whether two detector versions name the same weights: same backend and content hash, whatever
    the files were called (see :func:`weights_identity`); ``None`` matches nothing."""
    return a is not None and b is not None and weights_identity(a) == weights_identity(b)
