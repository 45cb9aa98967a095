"""Local faults: an ``OSError`` of this machine named by its errno family.

A full disk, a folder the user may not write, a read-only file system or a process out of file
handles is not the fault of the item being processed: every item after it would fail the same
way. Code that writes files turns such an error into :class:`~schemas.errors.LocalFault` (one
``reason`` per family, the path, a hint) so that a run stops early with a clear message, records
the reason, and a rerun retries it without a flag. Remote faults (a server's 5xx, a cut-off
body) keep their own reasons.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import resource
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from schemas.errors import ConfigError, LocalFault, MFError
from schemas.partials import partial_target

#: errno -> reason, one reason per family.
LOCAL_REASONS: dict[int, str] = {
    errno.ENOSPC: "disk_full",
    errno.EDQUOT: "quota_exceeded",
    errno.EFBIG: "file_too_large",
    errno.EACCES: "permission_denied",
    errno.EPERM: "permission_denied",
    errno.EROFS: "read_only_filesystem",
    errno.EMFILE: "too_many_open_files",
    errno.ENFILE: "too_many_open_files",
    errno.EIO: "io_error",
}

#: What to do about each reason (the rerun keeps what is done).
HINTS: dict[str, str] = {
    "disk_full": "free space on that disk, then rerun the same command: what is done is kept",
    "quota_exceeded": "free space within your disk quota, then rerun the same command",
    "file_too_large": "the file system refuses a file this large; use another disk, then rerun",
    "permission_denied": "make that path writable for this user, then rerun the same command",
    "read_only_filesystem": "that file system is mounted read-only; use a writable folder, then rerun",
    "too_many_open_files": "raise the open-file limit (ulimit -n) or use fewer workers, then rerun",
    "io_error": "the disk reported an I/O error; check it, then rerun the same command",
}

#: what provides a shared library a Python module loads (Debian's package), and who loads it
LIBRARY_PACKAGES: dict[str, tuple[str, str]] = {
    "libGL.so": ("libgl1", "OpenCV (the opencv-python build ultralytics requires)"),
    "libglib-2.0.so": ("libglib2.0-0", "OpenCV (the opencv-python build ultralytics requires)"),
    "libgthread-2.0.so": ("libglib2.0-0", "OpenCV"),
}
HINTS["missing_library"] = (
    "install the package that provides it (Debian/Ubuntu: apt-get install PACKAGE; `make install` "
    "does as root), then rerun the same command: what is done is kept"
)

#: the catalog file was removed or replaced under a process writing it (its folder deleted
#: mid-run): every write after that would be lost (:meth:`schemas.catalog.Catalog.transaction`)
HINTS["catalog_gone"] = (
    "restore the catalog (or its folder) if it was deleted by mistake, then rerun the same command: "
    "what the catalog holds is skipped"
)

#: Every reason a local fault can have (none of them is final: a rerun retries).
REASONS = frozenset({*LOCAL_REASONS.values(), "missing_library", "catalog_gone"})

_ERRNO_TEXT = re.compile(r"\[Errno (\d+)\]")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: causes, contexts, exception arguments, ``reason`` / ``exc_info``."""
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < 16:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        nested = [e.__cause__, e.__context__, getattr(e, "reason", None)]
        info = getattr(e, "exc_info", None)
        if isinstance(info, tuple) and len(info) > 1:
            nested.append(info[1])
        nested.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))
        todo.extend(n for n in nested if isinstance(n, BaseException))


def local_reason(exc: BaseException) -> tuple[str, int, str | None] | None:
    """(reason, errno, file name) when ``exc`` is, or wraps, a local fault; else None.

    The file of a rename or a link (``os.replace(tmp, target)``) is its destination, where the
    file goes: not the temporary file it came from, which is gone once the write gave up.
    Also reads an ``[Errno N]`` in the message of a library that kept only the text (yt-dlp).
    """
    for e in _chain(exc):
        if isinstance(e, OSError) and e.errno in LOCAL_REASONS:
            name = next((n for n in (e.filename2, e.filename) if isinstance(n, str)), None)
            return LOCAL_REASONS[e.errno], e.errno, name
    for e in _chain(exc):
        m = _ERRNO_TEXT.search(str(e))
        if m and int(m.group(1)) in LOCAL_REASONS:
            return LOCAL_REASONS[int(m.group(1))], int(m.group(1)), None
    return None


def missing_library(exc: ImportError) -> LocalFault | None:
    """``missing_library`` when an import failed for a shared library of this machine
    (``libGL.so.1: cannot open shared object file``: every video read would fail the same way, not
    the video's fault), naming the library and the package that provides it; else None (a bug)."""
    text = str(exc)
    if ".so" not in text or ("shared object" not in text and "file too short" not in text):
        return None
    package, who = next(
        ((pkg, who) for lib, (pkg, who) in LIBRARY_PACKAGES.items() if lib in text),
        ("the package that provides it", "a module of the toolkit"),
    )
    lib = next((w.rstrip(":") for w in text.split() if ".so" in w), "a shared library")
    return LocalFault(
        "missing_library",
        None,
        f"{lib} cannot be loaded; {who} needs it: {text}",
        hint=HINTS["missing_library"].replace("PACKAGE", package),
    )


def as_local_fault(exc: BaseException, path: str | os.PathLike[str] | None = None) -> LocalFault | None:
    """The :class:`LocalFault` behind ``exc`` (naming the file the OS named, else ``path``); else None.
    An import that failed for a shared library of this machine is one too (:func:`missing_library`)."""
    if isinstance(exc, LocalFault):
        return exc
    if isinstance(exc, ImportError):
        return missing_library(exc)
    if isinstance(exc, sqlite3.Error):
        return sqlite_fault(exc, path)
    found = local_reason(exc)
    if found is None:
        return None
    reason, code, filename = found
    where = _named(filename or (str(path) if path is not None else None))
    reason = _on_read_only_mount(reason, where)
    return LocalFault(
        reason, where, f"{errno.errorcode.get(code, code)}: {os.strerror(code)}", hint=hint_for(reason)
    )


def _named(where: str | None) -> str | None:
    """``where``, or the file a temporary file of :mod:`schemas.atomic` stands for (the OS, and
    ffmpeg writing one, name the temporary file: gone once the write gave up)."""
    target = None if where is None else partial_target(where)
    return where if target is None else str(target)


def _existing(path: str | os.PathLike[str]) -> Path:
    """``path``, or its nearest existing parent when it is not made yet."""
    at = Path(path)
    while not at.exists() and at.parent != at:
        at = at.parent
    return at


def read_only_mount(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` (or, not made yet, its nearest existing folder) is on a file system
    mounted read-only (``statvfs``'s ``ST_RDONLY``); False when that cannot be read."""
    try:
        return bool(os.statvfs(_existing(path)).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _on_read_only_mount(reason: str, where: str | None) -> str:
    """``read_only_filesystem`` for a refusal (``permission_denied``: SQLite's "unable to open
    database file" says no more, nor does an ``EACCES`` met first) on a file system mounted
    read-only: no permission change would help there; else ``reason``."""
    if reason == "permission_denied" and where is not None and read_only_mount(where):
        return "read_only_filesystem"
    return reason


def write_fault(exc: BaseException, path: str | os.PathLike[str]) -> LocalFault | None:
    """The :class:`LocalFault` of ``exc``, raised while writing ``path``: an ``OSError`` that is
    one, or a library's error (not one of the toolkit's own) raised because a write under it
    failed with one: torch's zip writer turns a full disk into a ``RuntimeError`` ("enforce fail
    ... unexpected pos") whose context is the ``OSError``. Else None."""
    if isinstance(exc, OSError):
        return as_local_fault(exc, path)
    if not isinstance(exc, Exception) or isinstance(exc, MFError):
        return None
    cause = next((e for e in _chain(exc) if isinstance(e, OSError) and e.errno in LOCAL_REASONS), None)
    return None if cause is None else as_local_fault(cause, path)


def reraise_local_fault(exc: BaseException, path: str | os.PathLike[str] | None = None) -> None:
    """Raise the :class:`LocalFault` behind ``exc`` when there is one (loops that list an item's
    failure and go on call this first: a local fault is not the item's, it stops the run)."""
    if isinstance(exc, LocalFault):
        raise exc
    if isinstance(exc, OSError | ImportError):
        fault = as_local_fault(exc, path)
        if fault is not None:
            raise fault from exc


def fault_in_text(text: str, path: str | os.PathLike[str] | None) -> LocalFault | None:
    """The local fault a program's error output names in the C library's words ("No space left on
    device"), for tools that report no errno (ffmpeg); else None. EIO and EPERM are left out: a
    decoder says "Input/output error" of a damaged input too."""
    for code, reason in LOCAL_REASONS.items():
        if code not in (errno.EIO, errno.EPERM) and os.strerror(code) in text:
            where = None if path is None else _named(str(path))
            return LocalFault(
                reason,
                where,
                f"{errno.errorcode.get(code, code)}: {os.strerror(code)}",
                hint=hint_for(reason),
            )
    return None


@contextlib.contextmanager
def local_faults(path: str | os.PathLike[str] | None = None) -> Iterator[None]:
    """Turn a local ``OSError`` raised inside the block into :class:`LocalFault` (naming the file
    the OS named, else ``path``)."""
    try:
        yield
    except OSError as exc:
        fault = as_local_fault(exc, path)
        if fault is None:
            raise
        raise fault from exc


#: errno -> what is wrong with a path the user gave: an input error (exit 2), not a local fault.
PATH_PROBLEMS: dict[int, str] = {
    errno.ENOTDIR: "is a file, where a folder is needed",
    errno.EEXIST: "is a file, where a folder is needed",
    errno.EISDIR: "is a folder, where a file is needed",
    errno.ENAMETOOLONG: "the name is too long for the file system",
    errno.ENOENT: "no such folder (it went away while being written to)",
}


def _blocker(path: Path) -> Path:
    """The file standing where ``path`` needs a folder (itself or an ancestor), else ``path``."""
    return next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), path)


def path_error(exc: BaseException, path: str | os.PathLike[str]) -> ConfigError | None:
    """The :class:`ConfigError` naming what is wrong with ``path`` (a file where a folder is
    needed, a folder where a file is, a name too long) when ``exc`` says so; else None."""
    if not isinstance(exc, OSError) or exc.errno not in PATH_PROBLEMS:
        return None
    target = Path(path)
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        target = _blocker(target)
    return ConfigError(
        PATH_PROBLEMS[exc.errno], where=str(target), hint="give another path, or move that one out of the way"
    )


@contextlib.contextmanager
def path_faults(path: str | os.PathLike[str]) -> Iterator[None]:
    """:func:`local_faults`, and an ``OSError`` of a bad path (see :func:`path_error`) raised as a
    :class:`ConfigError` naming it: for code making the files and folders the user named."""
    try:
        with local_faults(path):
            yield
    except OSError as exc:
        error = path_error(exc, path)
        if error is None:
            raise
        raise error from exc


#: free bytes under which a SQLite I/O error is taken for a full disk (its -wal / -shm files
#: grow by pages: with less than this free, growing them is what failed)
NEARLY_FULL_BYTES = 4 * 2**20


def _nearly_full(folder: Path) -> bool:
    """Whether the file system holding ``folder`` has (nearly) no space left for this user."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < NEARLY_FULL_BYTES


def _size_limit() -> int | None:
    """This process's file size limit in bytes (``ulimit -f``), None when there is none."""
    soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    return None if soft == resource.RLIM_INFINITY else soft


#: how close to the size limit a SQLite file is when its next write crossed it (a page of at
#: most 64 KiB and a WAL frame header)
_PAGE_MARGIN = 65536 + 24


def _at_size_limit(path: Path) -> bool:
    """Whether the catalog ``path`` or its -wal / -journal file has grown to the file size limit."""
    limit = _size_limit()
    if limit is None:
        return False
    for f in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal")):
        try:
            if f.stat().st_size + _PAGE_MARGIN >= limit:
                return True
        except OSError:
            continue
    return False


#: SQLite says "disk I/O error" for a full disk and a file size limit too (it names no errno)
SQLITE_IO_HINT = (
    "SQLite names no cause: free space on that disk or raise the file size limit (ulimit -f), "
    "check the disk if neither, then rerun the same command: what is done is kept"
)
SIZE_LIMIT_HINT = (
    "raise the file size limit (ulimit -f; now {limit}) or use a disk whose file system allows "
    "larger files, then rerun the same command: what is done is kept"
)


def hint_for(reason: str) -> str:
    """The hint of a local fault's ``reason``: :data:`HINTS`, except that ``file_too_large`` under a
    file size limit of this process (``ulimit -f``, which the OS reports as EFBIG too) names that
    limit first."""
    limit = _size_limit() if reason == "file_too_large" else None
    return HINTS[reason] if limit is None else SIZE_LIMIT_HINT.format(limit=_mib(limit))


def require_free_space(folder: str | os.PathLike[str], need: int, what: str) -> None:
    """:class:`LocalFault` ``disk_full`` naming ``folder`` when its file system has fewer than
    ``need`` bytes free for this user, before a long write (``what``) that would fail on the full
    disk only at its end. A folder not made yet is measured at its nearest existing parent; one
    whose space cannot be read passes (the write says why)."""
    try:
        st = os.statvfs(_existing(folder))
    except OSError:
        return
    free = st.f_bavail * st.f_frsize
    if free < need:
        raise LocalFault(
            "disk_full",
            str(folder),
            f"{_mib(free)} free, {what} needs about {_mib(need)}",
            hint=HINTS["disk_full"],
        )


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


#: SQLite's words for a local fault (it reports no errno).
_SQLITE_FAULTS = (
    ("database or disk is full", "disk_full", "SQLITE_FULL"),
    ("disk i/o error", "io_error", "SQLITE_IOERR"),
    ("readonly database", "read_only_filesystem", "SQLITE_READONLY"),
    ("unable to open database file", "permission_denied", "SQLITE_CANTOPEN"),
)


def sqlite_fault(exc: sqlite3.Error, path: str | os.PathLike[str] | None) -> LocalFault | None:
    """The :class:`LocalFault` of a SQLite error that is one (a full disk, an I/O error, ...)."""
    text = str(exc).lower()
    for words, reason, code in _SQLITE_FAULTS:
        if words in text:
            hint = hint_for(reason)
            detail = f"{code}: {exc}"
            if reason == "io_error" and path is not None:
                # SQLite says I/O error when it cannot grow its files: a full disk, a size limit
                if _nearly_full(Path(path).parent):
                    reason, hint = "disk_full", HINTS["disk_full"]
                elif _at_size_limit(Path(path)):
                    reason = "file_too_large"
                    hint = hint_for(reason)
                    detail += ", at this process's file size limit"
                else:
                    hint, detail = SQLITE_IO_HINT, detail + "; a full disk or a file size limit?"
            if reason in ("permission_denied", "read_only_filesystem") and path is not None:
                # SQLite names no errno: the mount says whether a read-only file system refused it
                reason = _on_read_only_mount("permission_denied", str(path))
                hint = (
                    HINTS[reason]
                    if reason == "read_only_filesystem"
                    else "make the catalog file and its folder writable for this user, then rerun"
                )
            return LocalFault(reason, None if path is None else str(path), detail, hint=hint)
    return None
