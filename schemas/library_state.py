"""Where third-party libraries keep their state while the toolkit runs: never in ``$HOME``.

ultralytics writes ``~/.config/Ultralytics/settings.json`` (a persistent id) on import,
matplotlib its font cache and config under ``~/.cache`` and ``~/.config``, a local Ray its auth
token under ``~/.ray``. The toolkit promises that it writes only inside the folders it is given,
so each library is pointed at :func:`private_state_dir` before its first import: a folder of this
process under the temporary directory, removed when the process exits. A variable the user set
(``YOLO_CONFIG_DIR``, ``MPLCONFIGDIR``) is left as it is.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

_DIRS: dict[str, tuple[int, Path]] = {}
_LOCK = threading.Lock()


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
        path = Path(tempfile.mkdtemp(prefix=f"mf-{name}-", dir=base))
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
