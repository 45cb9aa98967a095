"""Where third-party libraries keep their state while the toolkit runs: never in ``$HOME``.

ultralytics writes ``~/.config/Ultralytics/settings.json`` (a persistent id) on import,
matplotlib its font cache and config under ``~/.cache`` and ``~/.config``, a local Ray its auth
token under ``~/.ray``. The toolkit promises that it writes only inside the folders it is given,
so each library is pointed at :func:`private_state_dir` before its first import: a folder of this
process under the temporary directory, removed when the process exits. A variable the user set
(``YOLO_CONFIG_DIR``, ``MPLCONFIGDIR``) is left as it is.

A process killed outright (SIGKILL, the out-of-memory killer) runs no exit hook, so each folder
carries an owner record (:data:`OWNER_FILE`: pid, pid namespace, boot id, host); the first
folder a process makes under a temporary directory removes the folders there whose owner is
known to be gone (same host, boot and pid namespace, and that pid no longer runs). Folders of
other users, of live or unknown owners, and anything that is not a plain folder are left alone.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from schemas.text_input import read_json_record

_DIRS: dict[str, tuple[int, Path]] = {}
_LOCK = threading.Lock()
_SWEPT: set[tuple[int, str]] = set()

#: The owner record in each private folder (what :func:`sweep_orphans` reads).
OWNER_FILE = ".mf-owner.json"
_NAME = re.compile(r"^mf-[A-Za-z0-9_]+-")


def _identity() -> dict[str, Any]:
    """What tells this process apart from any other that may share the temporary directory."""
    try:
        pidns: str | None = os.readlink("/proc/self/ns/pid")
    except OSError:
        pidns = None
    try:
        boot: str | None = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = None
    return {"pid": os.getpid(), "pidns": pidns, "boot": boot, "host": socket.gethostname()}


def _gone(owner: dict[str, Any], me: dict[str, Any]) -> bool:
    """Whether the process that wrote ``owner`` is known to have ended (else: keep its folder)."""
    if any(owner.get(k) != me[k] or me[k] is None for k in ("pidns", "boot", "host")):
        return False  # another machine, boot or container: its pids mean nothing here
    pid = owner.get("pid")
    if not isinstance(pid, int) or pid <= 0 or pid == me["pid"]:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # it runs as another user
        return False
    return False


def sweep_orphans(base: str | os.PathLike[str]) -> list[Path]:
    """Remove the private folders under ``base`` left by processes of this user that were killed
    before their exit hook ran; returns the folders removed. Best effort: what cannot be read or
    removed is left as it is."""
    me, removed = _identity(), []
    try:
        entries = list(os.scandir(base))
    except OSError:
        return removed
    for entry in entries:
        try:
            if not _NAME.match(entry.name) or not entry.is_dir(follow_symlinks=False):
                continue
            if entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
        except OSError:
            continue
        owner = read_json_record(Path(entry.path) / OWNER_FILE, utf8_only=True)  # None: unreadable
        if isinstance(owner, dict) and _gone(owner, me):
            shutil.rmtree(entry.path, ignore_errors=True)
            if not os.path.lexists(entry.path):
                removed.append(Path(entry.path))
    return removed


def _remove(pid: int, path: Path) -> None:
    if os.getpid() == pid:  # a forked child inherits the hook; the folder is its parent's
        shutil.rmtree(path, ignore_errors=True)


def private_state_dir(name: str, *, short: bool = False, remove_at_exit: bool = True) -> Path:
    """This process's folder for library ``name``'s state, made on first use, removed at exit
    (unless not ``remove_at_exit``: the caller removes it, after stopping what uses it).

    ``short``: under ``/tmp`` when the temporary directory's path is long (a local Ray's socket
    paths under it must stay within the 107 bytes of an AF_UNIX address)."""
    with _LOCK:
        pid = os.getpid()
        hit = _DIRS.get(name)
        if hit is not None and hit[0] == pid and hit[1].is_dir():
            return hit[1]
        base = tempfile.gettempdir()
        if short and len(base) > 20 and os.path.isdir("/tmp"):
            base = "/tmp"
        if (pid, base) not in _SWEPT:
            _SWEPT.add((pid, base))
            sweep_orphans(base)
        path = Path(tempfile.mkdtemp(prefix=f"mf-{name}-", dir=base))
        with contextlib.suppress(OSError):  # without it the folder is only never swept
            (path / OWNER_FILE).write_text(json.dumps(_identity()))
        _DIRS[name] = (pid, path)
        if remove_at_exit:
            atexit.register(_remove, pid, path)
        return path


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend, with matplotlib's config and font cache in
    :func:`private_state_dir` (unless ``MPLCONFIGDIR`` is set) and SVG output reproducible."""
    if "matplotlib" not in sys.modules:
        os.environ.setdefault("MPLCONFIGDIR", str(private_state_dir("matplotlib")))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "movingfashion"
    return plt
