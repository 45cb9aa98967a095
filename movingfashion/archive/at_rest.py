"""``mf verify`` audits a dataset folder at rest, never one another command is writing.

Every writer of a published folder rewrites its files first and describes it (``manifest.json``)
last: ``mf publish`` (holding :data:`PUBLISH_LOCK` for the whole run and :data:`DATASET_LOCK`
while it writes the split files and describes), a review pick and ``mf-tracklets import``
(holding :data:`DATASET_LOCK` and setting :data:`REFRESH_MARK` until the manifest is refreshed;
``mf publish`` also sets :data:`PUBLISH_MARK` from its first write to its description),
``mf-tracklets build`` (setting :data:`REFRESH_MARK` for the whole build, taking the lock per
commit). Audited meanwhile, the folder's new files differ from its old manifest: breaks that
are no damage, with a wrong fix. :func:`verify_at_rest` therefore names the writer in one line
(:class:`BeingWritten`, exit 2: the folder cannot be audited now) or, with ``wait``, waits for
it to end; a folder written *while* it was audited (its manifest, split files or marks changed)
is treated the same way. A mark a killed writer left stays until that command is rerun: the line
says which.

The file names live here, and ``cleaning.publish``, ``annotations.tracklet_files.LOCK_FILE`` and
``annotations.refresh_mark.REFRESH_PENDING`` take them from here.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from pathlib import Path
from typing import Any

from movingfashion.archive.report import VerifyReport
from movingfashion.archive.verify import ENTRIES, MANIFEST, SPLITS, verify_dataset
from schemas.atomic import LockBusy, describe_holder, lock_holder
from schemas.redact import redacted_logger

log = redacted_logger(__name__)

#: the dataset's write lock, held by every read-modify-write of its split and tracklet files
DATASET_LOCK = ".lock"
#: held by a whole ``mf publish`` of the folder
PUBLISH_LOCK = ".publish.lock"
#: the refresh-pending mark: its lines name who rewrote files and has not refreshed the manifest
REFRESH_MARK = ".tracklets-refresh-pending"
#: set by ``mf publish`` before it changes the folder, removed once it has described it: one a
#: stopped or killed publish left says the folder is half written until publish is rerun
PUBLISH_MARK = ".publish-pending"
#: the command behind each line of :data:`REFRESH_MARK`
MARK_WRITERS = {"build": "mf-tracklets build", "import": "mf-tracklets import", "pick": "mf review (a pick)"}
#: how often (seconds) a waiting verify looks again
WAIT_POLL_S = 0.5
#: the commands each lock file is held by
_LOCK_WRITERS = {
    PUBLISH_LOCK: "mf publish",
    DATASET_LOCK: "mf publish / mf-tracklets build or import / a review pick",
}


class BeingWritten(LockBusy):
    """The folder is being written by another command (it is named): it cannot be audited
    now; nothing was checked (exit 2)."""


def lock_held(path: Path) -> bool:
    """Whether another process holds the ``flock`` of lock file ``path`` (a missing file: no).
    Opens it read-only, never creates it; call it only while this process holds no lock on it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def pending_writers(root: Path) -> list[str]:
    """The commands :data:`REFRESH_MARK` names (an empty mark is the builder's); [] for none."""
    try:
        text = (root / REFRESH_MARK).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    lines = sorted({line.strip() for line in text.splitlines() if line.strip()} or {"build"})
    # a line is ``who`` or ``who:<run>`` (each build run has its own): named by its command, once
    return sorted({MARK_WRITERS.get(line.split(":", 1)[0], line) for line in lines})


def writer(root: str | os.PathLike[str]) -> BeingWritten | None:
    """Who writes ``root`` now, as the error :func:`verify_at_rest` raises; None at rest."""
    base = Path(root)
    for name, what in _LOCK_WRITERS.items():
        if lock_held(base / name):
            return BeingWritten(
                f"held by {describe_holder(lock_holder(base / name))}: the folder is being written "
                f"({what} holds this lock), it cannot be audited until that ends",
                where=str(base / name),
                hint="rerun mf verify when it has finished, or add --wait to wait for it",
            )
    if (base / PUBLISH_MARK).exists():
        return BeingWritten(
            "mf publish was stopped (killed or interrupted) before it described the folder: its files "
            "are half written, so it cannot be audited",
            where=str(base / PUBLISH_MARK),
            hint="rerun the same mf publish to finish the folder, then mf verify",
        )
    commands = pending_writers(base)
    if commands:
        return BeingWritten(
            f"{' and '.join(commands)} rewrote files and has not described the folder yet: it "
            "cannot be audited until that ends",
            where=str(base / REFRESH_MARK),
            hint="rerun mf verify when it has finished, or add --wait to wait for it; if it is not "
            f"running any more (stopped or killed), rerun {commands[0].split(' (')[0]} to finish "
            "the folder",
        )
    return None


def _signature(root: Path) -> tuple[Any, ...]:
    """What changes whenever a writer changes the folder: the stat of its manifest, split and
    entries files and refresh mark (a writer describes the folder last)."""
    out: list[Any] = []
    for name in (MANIFEST, *(f"{s}.json" for s in SPLITS), ENTRIES, REFRESH_MARK, PUBLISH_MARK):
        try:
            st = (root / name).stat()
        except OSError:
            out.append(None)
            continue
        out.append((st.st_ino, st.st_mtime_ns, st.st_size))
    return tuple(out)


def verify_at_rest(root: str | os.PathLike[str], *, wait: bool = False, **kwargs: Any) -> VerifyReport:
    """:func:`verify_dataset` of ``root`` (``kwargs`` passed on) while no other command writes it
    (see the module docstring): :class:`BeingWritten` naming the writer (exit 2), nothing
    reported as broken, when one writes it before or while it is audited; with ``wait``, waits
    (saying so once on stderr) until it ends and audits it then."""
    base = Path(root)
    warned = False
    while True:
        busy = writer(base)
        if busy is None:
            before = _signature(base)
            report = verify_dataset(base, **kwargs)
            busy = writer(base)
            if busy is None and _signature(base) == before:
                return report
            if busy is None:
                busy = BeingWritten(
                    "another command wrote the folder while it was audited; it cannot be audited "
                    "until that ends",
                    where=str(base),
                    hint="rerun mf verify when nothing writes the folder, or add --wait to wait for it",
                )
        if not wait:
            raise busy
        if not warned:
            log.warning("waiting (no limit) before auditing: %s: %s", busy.where, busy.message)
            warned = True
        time.sleep(WAIT_POLL_S)
