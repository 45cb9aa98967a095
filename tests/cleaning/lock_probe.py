"""Probe a lock file as another writer would, for the publish race tests."""

from __future__ import annotations

import threading
from pathlib import Path

from schemas.atomic import LockBusy, file_lock


def lock_taken(lock: Path) -> bool:
    """Whether someone else holds lock file ``lock``: a thread (standing for another process)
    tries to take it without waiting."""
    busy: list[bool] = []

    def probe() -> None:
        try:
            with file_lock(lock, timeout_s=0):
                busy.append(False)
        except LockBusy:
            busy.append(True)

    t = threading.Thread(target=probe)
    t.start()
    t.join()
    return busy[0]
