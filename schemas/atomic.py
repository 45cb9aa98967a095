"""Atomic file writes: temporary file in the same folder, fsync, rename, fsync of the folder
(so the rename, and a folder made for the file, survive a power loss).

A local fault while writing (disk full, no permission, read-only file system, no file handle
left) raises :class:`~schemas.errors.LocalFault` naming the target, with the temporary file
removed and the target untouched.

A process killed mid-write (SIGKILL, power loss) cannot remove its temporary file. Its name says
whose it is (``.<name>.<host>-<pid>.<random>.part``): :func:`sweep_partials`, called by each long
command on the folders it writes, removes those of processes of this host that are gone, and
never one a live writer (another shard, another command) is still filling.

Writers that read a file, change it and write it back (a review pick and ``mf-tracklets import``
rewriting the same split file) hold :func:`file_lock` around the whole read-modify-write, so
neither rewrites the file from a stale read. A lock another process holds is waited for in
short tries, saying so once on stderr, and given up after :func:`lock_wait_s` (180 s, or
``$MF_LOCK_WAIT_S``) with :class:`LockBusy` naming the file and its holder, whom the lock file
records while it is held (pid, host, command, start).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import math
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from schemas.errors import DataFormatError, MFError
from schemas.faults import as_local_fault, path_faults, write_fault
from schemas.partials import _PARTIAL, host_tag
from schemas.partials import partial_prefix as _partial_prefix
from schemas.redact import redacted_logger
from schemas.text_input import read_json_record


def _read_umask() -> int:
    """The process umask, read once at import (setting it is not thread-safe)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()
log = redacted_logger(__name__)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host is alive (another user's live process counts; a
    zombie, dead but not yet reaped by its parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    try:  # Linux: the state after the command's closing parenthesis; Z = zombie, X = dead
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def left_by_dead_writer(path: Path) -> re.Match[str] | None:
    """The parts of ``path``'s temporary name (``.<name>.<host>-<pid>.<random>.part``) when a
    process of this host that is gone left it; None for anything else (a live writer's, another
    host's, another name)."""
    m = _PARTIAL.fullmatch(path.name)  # whole name ($ also matched before a final newline)
    if m is None or m["host"] != host_tag() or pid_alive(int(m["pid"])):
        return None
    return m


def sweep_partials(*folders: str | os.PathLike[str], recursive: bool = False) -> int:
    """Remove the temporary files that killed writers of this host left in ``folders`` (those of
    live processes, of other hosts and every other file stay); returns how many went."""
    removed = 0
    for folder in map(Path, folders):
        if not folder.is_dir():
            continue
        for p in folder.rglob(".*.part") if recursive else folder.glob(".*.part"):
            if left_by_dead_writer(p) is None or not p.is_file():
                continue
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                removed += 1
    return removed


def _fsync_dir(folder: Path) -> None:
    """Make the entries of ``folder`` (a rename, a new file or folder) durable: fsync the folder.
    A file system that cannot fsync a folder (EINVAL, ENOTSUP) is left as it is."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def _make_folder(folder: Path) -> None:
    """``mkdir -p folder``, each folder it makes recorded durably in its parent."""
    missing = []
    at = folder
    while not at.exists() and at.parent != at:
        missing.append(at)
        at = at.parent
    folder.mkdir(parents=True, exist_ok=True)
    for made in reversed(missing):
        _fsync_dir(made.parent)


@contextlib.contextmanager
def atomic_open(
    path: str | os.PathLike[str], mode: str = "wb", *, mtime_ns: int | None = None, durable: bool = True
) -> Iterator[IO[Any]]:
    """Open a temporary sibling of ``path`` for writing; rename it over ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched. The file
    gets the usual permissions of a new file (``0o666`` minus the umask), not ``mkstemp``'s 0600,
    so published datasets stay readable by the group and others as the user's umask allows.
    ``mtime_ns`` dates the file before the rename, so no reader ever sees it with another date.
    ``durable=False`` skips the fsyncs (still all or nothing, but a power loss may lose it): for
    a small record written often whose loss costs nothing but a check.
    """
    target = Path(path)
    fd, tmp = _new_partial(target)
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        if mtime_ns is not None:
            os.utime(tmp, ns=(mtime_ns, mtime_ns))
        with path_faults(target):  # a folder where the file goes is named (not an OSError of the block)
            os.replace(tmp, target)
        if durable:
            _fsync_dir(target.parent)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        fault = write_fault(exc, target)
        if fault is not None:
            raise fault from exc
        raise


def partial_path(path: str | os.PathLike[str]) -> Path:
    """A new empty temporary file beside ``path``, named as :func:`atomic_open` names its own
    (``.<name>.<host>-<pid>.<random>.part``: unique per process and call, removed by
    :func:`sweep_partials` once its writer is gone), with a new file's usual permissions. For a
    writer that hands the name to another program (ffmpeg) and renames it into place itself."""
    fd, tmp = _new_partial(Path(path))
    os.close(fd)
    return Path(tmp)


def commit_partial(
    tmp: str | os.PathLike[str], target: str | os.PathLike[str], *, durable: bool = True
) -> Path:
    """Rename ``tmp`` (a :func:`partial_path` another program filled, such as ffmpeg) over
    ``target`` as :func:`atomic_open` renames its own: synced first and its folder after
    (``durable``); on any failure ``tmp`` is removed and ``target`` left as it was, and a local
    fault (the rename refused: a full disk, a read-only file system) names ``target``."""
    tmp, dst = Path(tmp), Path(target)
    try:
        with path_faults(dst):
            if durable:
                fd = os.open(tmp, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            os.replace(tmp, dst)
            if durable:
                _fsync_dir(dst.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return dst


def _new_partial(target: Path) -> tuple[int, str]:
    """A new empty temporary sibling of ``target`` (:func:`partial_path`'s naming), open for
    writing, with a new file's usual permissions (``0o666`` minus the umask)."""
    with path_faults(target):
        _make_folder(target.parent)
        fd, tmp = tempfile.mkstemp(prefix=_partial_prefix(target.name), suffix=".part", dir=target.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return fd, tmp


def atomic_copy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Copy ``src`` over ``dst`` through :func:`atomic_open`: a copy cut short (a full disk, a
    kill) leaves the previous ``dst`` as it was."""
    with open(src, "rb") as fin, atomic_open(dst) as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)


def atomic_write_bytes(
    path: str | os.PathLike[str], data: bytes, *, mtime_ns: int | None = None, durable: bool = True
) -> None:
    """Write ``data`` atomically (see :func:`atomic_open`; ``mtime_ns`` dates the new file,
    ``durable=False`` skips the fsyncs)."""
    with atomic_open(path, "wb", mtime_ns=mtime_ns, durable=durable) as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_if_changed(path: str | os.PathLike[str], data: bytes) -> bool:
    """Write ``data`` atomically unless the file already holds exactly it (its mtime then stays);
    True when it was written. Reruns of publish and of the archive description use it."""
    p = Path(path)
    if p.is_file() and p.read_bytes() == data:
        return False
    atomic_write_bytes(p, data)
    return True


class _Unchanged(Exception):
    """Raised inside :func:`atomic_open` to drop its temporary file (the content is the same)."""


def write_chunks_if_changed(path: str | os.PathLike[str], chunks: Iterable[bytes]) -> bool:
    """:func:`write_if_changed` for content too large to hold: ``chunks`` are streamed to a
    temporary sibling while compared with the file, which is replaced only when they differ (else
    it and its mtime stay). True when it was written."""
    target = Path(path)
    try:
        with contextlib.ExitStack() as stack:
            old = stack.enter_context(open(target, "rb")) if target.is_file() else None
            fh = stack.enter_context(atomic_open(target))
            same = old is not None
            for chunk in chunks:
                fh.write(chunk)
                same = same and old.read(len(chunk)) == chunk
            if same and old.read(1) == b"":
                raise _Unchanged
    except _Unchanged:
        return False
    return True


class NotFiniteJSON(DataFormatError, ValueError):
    """A float that is not finite (NaN, an infinity) given to :func:`atomic_write_json`: JSON
    has no such number (strict readers, ``JSON.parse`` and ``jq`` refuse the file)."""


def _json_path(parent: str, key: object) -> str:
    """``parent`` followed by the step to ``key``: ``.name`` or ``["odd key"]``, ``[3]`` for an index."""
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{parent}[{key}]"
    text = str(key)
    return f"{parent}.{text}" if text.isidentifier() else f"{parent}[{json.dumps(text)}]"


def not_finite_path(obj: Any, at: str = "$") -> tuple[str, float] | None:
    """The JSON path (``$.a[1]``) and value of the first float of ``obj`` that is not finite,
    walking dicts, lists and tuples as :mod:`json` writes them; None when there is none."""
    if isinstance(obj, float):
        return None if math.isfinite(obj) else (at, obj)
    if isinstance(obj, dict):
        items: Iterable[tuple[object, Any]] = ((str(k), v) for k, v in obj.items())
    elif isinstance(obj, list | tuple):
        items = enumerate(obj)
    else:
        return None
    for key, value in items:
        found = not_finite_path(value, _json_path(at, key))
        if found is not None:
            return found
    return None


def _dumps(path: str | os.PathLike[str], obj: Any, **kwargs: Any) -> str:
    """``json.dumps(obj, allow_nan=False, **kwargs)``; :class:`NotFiniteJSON` naming ``path`` and
    the JSON path of a NaN or an infinity."""
    try:
        return json.dumps(obj, allow_nan=False, **kwargs)
    except ValueError:
        found = not_finite_path(obj)
        if found is None:
            raise
        raise NotFiniteJSON(
            f"{found[0]} is {found[1]!r}, which JSON cannot hold",
            where=str(path),
            hint="write null (None) for a value that is not known",
        ) from None


def json_bytes(
    path: str | os.PathLike[str], obj: Any, *, indent: int | None = 2, sort_keys: bool = False
) -> bytes:
    """The bytes :func:`atomic_write_json` writes for ``obj`` (``path`` names the file in a
    :class:`NotFiniteJSON`): for :func:`write_if_changed` of a JSON file."""
    text = _dumps(path, obj, indent=indent, sort_keys=sort_keys, ensure_ascii=False)
    try:
        return (text + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (_dumps(path, obj, indent=indent, sort_keys=sort_keys, ensure_ascii=True) + "\n").encode(
            "ascii"
        )


def atomic_write_json(
    path: str | os.PathLike[str], obj: Any, *, indent: int | None = 2, sort_keys: bool = False
) -> None:
    """Write JSON atomically (UTF-8, trailing newline, deterministic for equal input).

    Only RFC 8259 JSON is written: a NaN or an infinity anywhere in ``obj`` raises
    :class:`NotFiniteJSON` naming the file and the value's JSON path (``$.a[1]``), nothing
    written; a writer with no value to give writes None (``null``).
    Text is written as it is, unless it holds a lone surrogate (``"\\ud83d"``, half an emoji,
    is valid JSON but not UTF-8): then every non-ASCII character is written escaped, so what was
    read is written back unchanged instead of failing (:func:`json_bytes`)."""
    atomic_write_bytes(path, json_bytes(path, obj, indent=indent, sort_keys=sort_keys))


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


#: bytes :func:`sample_digest` reads at each end of a file
SAMPLE_BYTES = 1 << 16


def sample_digest(path: str | os.PathLike[str], chunk: int = SAMPLE_BYTES) -> str:
    """Hex SHA-256 of a file's size, first and last ``chunk`` bytes: a cheap identity (two reads)
    that survives a copy (unlike a modification time) and changes with a re-encoded or replaced
    video (whose container header and last packets differ), which a size alone does not see."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        h.update(str(size).encode())
        h.update(fh.read(chunk))
        if size > chunk:
            fh.seek(max(chunk, size - chunk))
            h.update(fh.read(chunk))
    return h.hexdigest()


#: how long (seconds) :func:`file_lock` waits, by default, for another holder of a lock file
#: (the dataset's ``DATASET/.lock``) before it gives up with :class:`LockBusy`; the environment
#: variable :data:`LOCK_WAIT_ENV` overrides it (``inf``: no limit)
LOCK_WAIT_S = 180.0
LOCK_WAIT_ENV = "MF_LOCK_WAIT_S"
#: after this long (seconds) waiting, a lock says so once on stderr (shorter waits are writers
#: queueing as they should: a pick while a build writes one file)
LOCK_WARN_S = 2.0
#: how often (seconds) a waiting lock tries again
LOCK_POLL_S = 0.05
#: what a lock file records of its holder, at most (bytes)
_HOLDER_BYTES = 4096


class LockBusy(MFError):
    """A lock file stayed held by another process (or another thread of this one) past the
    wait allowed: one line naming the file and its holder, exit 2. Nothing was changed."""


def lock_wait_s() -> float:
    """How long a lock waits by default: ``$MF_LOCK_WAIT_S`` (seconds, ``inf`` for no limit),
    else :data:`LOCK_WAIT_S`; a value that is not a number >= 0 is a :class:`ConfigError`."""
    from schemas.config import env_seconds

    return env_seconds(
        LOCK_WAIT_ENV, LOCK_WAIT_S, f"unset it (default {LOCK_WAIT_S:g} s) or give seconds, inf for no limit"
    )


def _command_line() -> str:
    """This process's command line as a lock file records it (the program's name, not its path)."""
    argv = list(sys.argv) or ["python"]
    head = Path(argv[0]).name or "python"
    if head in ("-c", "-m"):
        head = f"python {head}"
    elif head == "__main__.py":
        head = f"python -m {Path(argv[0]).parent.name}"
    text = " ".join([head, *argv[1:]])
    return text if len(text) <= 300 else text[:297] + "..."


def _write_holder(fd: int) -> None:
    """Record this process in the lock file it just locked (pid, host, command, start): another
    waiting for it names the holder. Best effort: a lock file it may not write stays empty."""
    rec = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": _command_line(),
        "since": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    data = json.dumps(rec, ensure_ascii=True).encode()[:_HOLDER_BYTES] + b"\n"
    with contextlib.suppress(OSError):  # a read-only descriptor, a full disk: no record
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)


def _clear_holder(fd: int) -> None:
    """Empty the lock file before releasing it: a free lock names nobody."""
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)


def lock_holder(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """What the lock file ``path`` says of its holder (``pid``, ``host``, ``command``, ``since``),
    or None: an empty, garbled or missing file, or a holder of this host that is gone (its lock
    went with it: a new holder has not written its record yet)."""
    rec = read_json_record(path, max_bytes=_HOLDER_BYTES + 1)  # what a holder writes, and its newline
    if not isinstance(rec, dict) or not isinstance(rec.get("pid"), int):
        return None
    if rec.get("host") == socket.gethostname() and rec["pid"] != os.getpid() and not pid_alive(rec["pid"]):
        return None
    return {k: rec.get(k) for k in ("pid", "host", "command", "since")}


def describe_holder(rec: dict[str, Any] | None) -> str:
    """``pid 123 on host (mf publish ...) since 2024-05-01T10:00:00Z``; ``an unknown process``
    for no record."""
    if rec is None:
        return "an unknown process"
    text = f"pid {rec['pid']}"
    if rec.get("host") and rec["host"] != socket.gethostname():
        text += f" on {rec['host']}"
    if rec.get("command"):
        text += f" ({rec['command']})"
    if rec.get("since"):
        text += f" since {rec['since']}"
    return text


class _Wait:
    """One wait for a lock: says once that it waits, gives up at its deadline."""

    def __init__(
        self, path: str, timeout_s: float, who: str, hint: str | None, warn_after_s: float | None
    ) -> None:
        self.path, self.timeout_s, self.who, self.hint = path, timeout_s, who, hint
        self.start = time.monotonic()
        self.deadline = self.start + timeout_s
        self.warn_after_s = min(LOCK_WARN_S, timeout_s / 2) if warn_after_s is None else warn_after_s
        self.warned = False

    def step(self) -> float:
        """How long the next try may block."""
        return max(0.0, min(LOCK_POLL_S, self.deadline - time.monotonic()))

    def busy(self, *, in_process: bool = False) -> None:
        """After a failed try: :class:`LockBusy` past the deadline; the waiting line once."""
        now = time.monotonic()
        if now >= self.deadline:
            held = "held" if self.timeout_s == 0 else f"still held after {self.timeout_s:g} s"
            raise LockBusy(
                f"{held} by {self._holder(in_process)}: {self.who}", where=self.path, hint=self.hint
            )
        if not self.warned and now - self.start >= self.warn_after_s:
            limit = "no limit" if math.isinf(self.timeout_s) else f"up to {self.timeout_s:g} s"
            log.warning(
                "waiting for %s (held by %s; %s; %s)", self.path, self._holder(in_process), self.who, limit
            )
            self.warned = True

    def _holder(self, in_process: bool) -> str:
        """Who holds the lock, as a message names it (a thread of this process reads no file:
        closing a descriptor of a file drops this process's POSIX locks on NFS)."""
        return "another thread of this process" if in_process else describe_holder(lock_holder(self.path))


class _HeldLock:
    """The ``flock`` of one lock file in this process: one descriptor, taken once, counted.

    Threads of the process queue on ``rlock`` (a lock on one open file is shared by all of them);
    the thread holding it may take it again (``depth``), and only the outermost release unlocks.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.rlock = threading.RLock()
        self.depth = 0
        self.users = 0  #: ``file_lock`` blocks holding or waiting for it (under ``_HELD_GUARD``)
        self.fd: int | None = None
        self.pid = os.getpid()

    def acquire(self, wait: _Wait) -> None:
        while not self.rlock.acquire(timeout=wait.step()):
            wait.busy(in_process=True)
        try:
            if self.depth == 0:
                self.fd = _open_locked(self.path, wait)
                _write_holder(self.fd)
            self.depth += 1
        except BaseException:
            self.rlock.release()
            raise

    def release(self) -> None:
        if self.pid != os.getpid():  # a forked child leaving a block its parent entered
            return
        self.depth -= 1
        if self.depth == 0 and self.fd is not None:
            fd, self.fd = self.fd, None
            _clear_holder(fd)
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        self.rlock.release()


def _try_flock(fd: int) -> bool:
    """``flock(LOCK_EX | LOCK_NB)``: True when taken, False while another holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def _open_locked(path: str, wait: _Wait) -> int:
    """A descriptor of ``path`` (created when missing) holding its exclusive ``flock``; while
    another process (or another descriptor) holds it, tries again until ``wait`` gives up."""
    target = Path(path)
    with path_faults(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666 & ~_UMASK)
        except PermissionError:  # another user's lock file in a shared folder: flock needs no write
            fd = os.open(target, os.O_RDONLY | os.O_CLOEXEC)
    try:
        while not _try_flock(fd):
            wait.busy()
            time.sleep(wait.step())
    except BaseException as exc:
        os.close(fd)
        fault = as_local_fault(exc, target) if isinstance(exc, OSError) else None
        if fault is not None:
            raise fault from exc
        raise
    return fd


_HELD: dict[str, _HeldLock] = {}
_HELD_GUARD = threading.Lock()


def _forget_held_locks() -> None:
    """In a forked child: the parent's locks stay the parent's (the child closes its copies of
    their descriptors and takes its own when it needs one)."""
    global _HELD_GUARD
    _HELD_GUARD = threading.Lock()
    for held in _HELD.values():
        if held.fd is not None:
            with contextlib.suppress(OSError):
                os.close(held.fd)
    _HELD.clear()


os.register_at_fork(after_in_child=_forget_held_locks)


@contextlib.contextmanager
def file_lock(
    path: str | os.PathLike[str],
    *,
    timeout_s: float | None = None,
    who: str = "another process holds it",
    hint: str | None = None,
    warn_after_s: float | None = None,
) -> Iterator[None]:
    """Hold an exclusive advisory lock (``flock``) on ``path``, created when missing (mode 0666
    minus the umask; its folder too), for the ``with`` block.

    Works across processes of this host (and NFS, where Linux maps ``flock`` to POSIX locks) and
    across threads of this process; re-entrant in the thread that holds it, so a function holding
    it may call another that takes it. The file stays (removing it would let two processes lock
    two different files); while held it records its holder (pid, host, command, start:
    :func:`lock_holder`), emptied on release.

    Another holder makes it wait, in short non-blocking tries: after ``warn_after_s`` (default
    :data:`LOCK_WARN_S`) it says once on stderr (a log warning) ``waiting for PATH (held by
    HOLDER; WHO; up to N s)``, and after ``timeout_s`` (default :func:`lock_wait_s`: 180 s or
    ``$MF_LOCK_WAIT_S``; ``0``: one try, ``math.inf``: no limit) it gives up with
    :class:`LockBusy` (exit 2) naming the file, the holder, ``who`` and ``hint`` (what to do).
    A local fault opening it raises :class:`~schemas.errors.LocalFault` naming it.
    """
    key = os.path.realpath(path)
    limit = lock_wait_s() if timeout_s is None else timeout_s
    hint = hint or (
        "end it, or wait for it to finish, then rerun the same command "
        f"(${LOCK_WAIT_ENV} sets how long a lock waits, now {limit:g} s)"
    )
    wait = _Wait(key, limit, who, hint, warn_after_s)
    with _HELD_GUARD:
        held = _HELD.setdefault(key, _HeldLock(key))
        held.users += 1
    try:
        held.acquire(wait)
        try:
            yield
        finally:
            held.release()
    finally:
        with _HELD_GUARD:  # the last user forgets it: one entry per lock in use, not per path seen
            held.users -= 1
            if held.users == 0 and _HELD.get(key) is held:
                del _HELD[key]


@contextlib.contextmanager
def shared_lock(
    path: str | os.PathLike[str],
    *,
    timeout_s: float | None = None,
    who: str = "another process holds it",
    hint: str | None = None,
) -> Iterator[None]:
    """Hold a *shared* ``flock`` on the lock file ``path`` for the ``with`` block: any number of
    shared holders together, none while a :func:`file_lock` (exclusive) holds it, and that one
    waits for them. A missing file was never locked: nothing to wait for, nothing is created.
    Waits like :func:`file_lock` (``timeout_s``, the line on stderr) and gives up with
    :class:`LockBusy` naming the exclusive holder, ``who`` and ``hint``."""
    target = os.fspath(path)
    limit = lock_wait_s() if timeout_s is None else timeout_s
    wait = _Wait(target, limit, who, hint or "wait for it to finish, then rerun the same command", None)
    try:
        fd = os.open(target, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        yield
        return
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                wait.busy()
                time.sleep(wait.step() or 0.01)
        yield
    finally:
        os.close(fd)  # the shared lock goes with it
