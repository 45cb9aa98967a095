"""Keep every path inside its root: the one check used wherever a string from data names a file.

Ids, catalog rows, dataset JSON paths, URL-list columns and server routes are untrusted text.
Before anything is read or written they go through one of:

* :func:`check_relpath` / :func:`canonical_relpath` - the strict form stored in dataset files:
  relative, ``/``-separated, no ``.``/``..``/empty parts, no backslash, NUL or control
  characters, no ``:`` in the first part (``tcp:``, ``concat:``, ``file:``: FFmpeg and URL
  readers take it as a protocol), no file name whose stem is ``.``/``..`` (``videos/...mp4``:
  ``OUT/<stem>`` would leave ``OUT``) (validation: ``mf schema validate``, the official JSON
  reader, ``entries.jsonl``);
* :func:`resolve_under` / :func:`inside` - join onto a root, normalise, and refuse anything that
  lands outside it (absolute paths, ``..`` climbing out; ``a/../b`` that stays inside is fine).
  The answer keeps the root's form (a relative root gives a relative path: callers take paths
  relative to it again);
* :func:`media_path` - the absolute form of a path handed to FFmpeg, PyAV, torchcodec or OpenCV,
  so a decoder never reads a relative ``tcp:...`` as a URL.

The check is lexical: symlinks the owner placed inside a root (``videos/`` on another disk) are
trusted, and the normalised path is returned, so the kernel never resolves a ``..`` behind a
symlink. ``follow_symlinks=True`` also resolves links (servers answering the network use it).
A violation raises :class:`PathEscapeError`, which names the value, its field or file and the
root, and exits 2 like every input error.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path

from schemas.errors import ConfigError, DataFormatError

MAX_PATH = 4096
#: The longest file or folder name (one path part) file systems take, in UTF-8 bytes (NAME_MAX).
MAX_NAME = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")
CANONICAL_HINT = "paths must be relative, '/'-separated, with no '.', '..' or empty parts"
PROTOCOL_HINT = "rename the file or folder so that the path's first part has no ':'"
STEM_HINT = "rename the file: exports name folders after the stem, and '.'/'..' would leave them"
NAME_HINT = f"shorten the name: file systems take at most {MAX_NAME} bytes (UTF-8) per file or folder name"


class PathEscapeError(DataFormatError):
    """A path from data (an id, a catalog row, a JSON field, a URL) points outside its root or is
    not in canonical form. ``value``, ``what`` (its field) and ``root`` say which and where."""

    def __init__(
        self,
        message: str,
        *,
        value: object,
        what: str = "path",
        root: str | os.PathLike[str] | None = None,
        where: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.value = value
        self.what = what
        self.root = None if root is None else str(root)
        super().__init__(message, where=where, hint=hint)


class UnsafePathValue(ValueError):
    """The :class:`ValueError` of :func:`check_relpath` (pydantic validators raise it); the
    official reader turns it into :class:`PathEscapeError` naming product and field."""

    def __init__(self, message: str, value: object) -> None:
        super().__init__(message)
        self.value = value


def folder_listing(names: Sequence[str], shown: int = 3) -> str:
    """What a folder holds, for an error refusing it: ``N entries: a, b, c and N-3 more``, the
    visible names first (sorted) and hidden ones (``.DS_Store``, ``.git``) after them, so that the
    names shown are the ones a user put there."""
    ordered = sorted(names, key=lambda n: (n.startswith("."), n))
    more = f" and {len(ordered) - shown} more" if len(ordered) > shown else ""
    count = "1 entry" if len(ordered) == 1 else f"{len(ordered)} entries"
    return f"{count}: {', '.join(ordered[:shown])}{more}"


def _problem(value: str) -> str | None:
    """Why ``value`` is not a canonical relative path, or None when it is one."""
    if not value:
        return "is empty"
    if len(value) > MAX_PATH:
        return f"is longer than {MAX_PATH} characters"
    if "\x00" in value:
        return "contains a NUL byte"
    if _CONTROL.search(value):
        return "contains a control character"
    if "\\" in value:
        return "contains a backslash"
    if value.startswith("/") or _DRIVE.match(value):
        return "is absolute"
    parts = value.split("/")
    if ".." in parts:
        return "has a '..' part"
    if "." in parts:
        return "has a '.' part"
    if "" in parts:
        return "has an empty part (a doubled or trailing '/')"
    return _name_problem(parts)


def _name_problem(parts: list[str]) -> str | None:
    """Why the parts of an otherwise canonical path are unsafe names, or None."""
    for part in parts:
        size = len(part.encode("utf-8", "surrogatepass"))
        if size > MAX_NAME:
            return f"has a file or folder name of {size} bytes, longer than {MAX_NAME}"
    if ":" in parts[0]:
        protocol = parts[0].split(":", 1)[0] + ":"
        return f"starts with {protocol!r}, which FFmpeg and URL readers take as a protocol"
    stem = Path(parts[-1]).stem
    if stem in (".", ".."):
        return f"has a file name {parts[-1]!r} whose stem is {stem!r}"
    return None


def other_unicode_forms(name: str) -> list[str]:
    """``name`` in the Unicode normalisation forms it is not written in (NFC, NFD): where to look
    for a file a list names in one form and a copy made on a Mac (or the reverse) holds in the
    other; empty for a name both forms write alike (plain ASCII)."""
    return list(
        dict.fromkeys(alt for form in ("NFC", "NFD") if (alt := unicodedata.normalize(form, name)) != name)
    )


def unicode_form_hint(root: str | os.PathLike[str], rel: str) -> str | None:
    """For a dataset-relative path ``rel`` that is not there: the hint naming the one file inside
    ``root`` written in another Unicode normalisation form (:func:`other_unicode_forms`), None when
    there is none."""
    found = [alt for alt in other_unicode_forms(rel) if (Path(root) / alt).is_file()]
    if len(found) != 1:
        return None
    return (
        f"a file of that name in another Unicode form is there ({ascii(found[0])}, a folder copied from a"
        " Mac writes names in NFD): rename it to the name the split file gives"
    )


def path_hint(problem: str) -> str:
    """What to do about a path :func:`check_relpath` refused for ``problem`` (its message)."""
    if "take as a protocol" in problem:
        return PROTOCOL_HINT
    if f"longer than {MAX_NAME}" in problem:
        return NAME_HINT
    return STEM_HINT if "whose stem is" in problem else CANONICAL_HINT


def check_relpath(value: object, *, what: str = "path") -> str:
    """``value`` if it is a canonical relative path, else raise :class:`UnsafePathValue`."""
    if not isinstance(value, str):
        raise UnsafePathValue(f"{what} must be a string, got {type(value).__name__}", value)
    problem = _problem(value)
    if problem:
        raise UnsafePathValue(f"{what} {value!r} {problem} ({path_hint(problem)})", value)
    return value


def canonical_relpath(value: object, *, what: str = "path", where: str | None = None) -> str:
    """Like :func:`check_relpath` but raises :class:`PathEscapeError` (naming ``where``)."""
    try:
        return check_relpath(value, what=what)
    except UnsafePathValue as exc:
        raise PathEscapeError(str(exc), value=value, what=what, where=where) from None


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def resolve_under(
    root: str | os.PathLike[str],
    relative: str | os.PathLike[str],
    *,
    what: str = "path",
    where: str | None = None,
    root_label: str = "its root",
    allow_root: bool = False,
    follow_symlinks: bool = False,
) -> Path:
    """``root / relative``, normalised, or :class:`PathEscapeError` when it leaves ``root``. It
    keeps the root's form (relative under a relative root); decoders open it through
    :func:`media_path`, so with a root of ``.`` a value such as ``tcp:HOST:PORT/x.mp4`` never
    reaches them as a protocol URL.

    Absolute values are allowed only when they lie inside ``root``. ``allow_root``: the root
    itself is an acceptable answer (by default a path must name something inside it).
    """
    text = os.fspath(relative)
    if not isinstance(text, str):
        text = os.fsdecode(text)
    if "\x00" in text:
        raise PathEscapeError(
            f"{what} {text!r} contains a NUL byte", value=text, what=what, root=root, where=where
        )
    too_long = _too_long(text)
    if too_long:
        raise PathEscapeError(
            f"{what} {short_text(text)} {too_long}",
            value=text,
            what=what,
            root=root,
            where=where,
            hint=NAME_HINT,
        )
    joined = os.path.normpath(os.path.join(os.fspath(root), text))
    base = os.path.abspath(root)
    full = os.path.abspath(joined)
    ok = _within(full, base) and (allow_root or full != base)
    if ok and follow_symlinks:
        real_base = os.path.realpath(base)
        real = os.path.realpath(full)
        ok = _within(real, real_base) and (allow_root or real != real_base)
    if not ok:
        raise PathEscapeError(
            f"{what} {text!r} points outside {root_label} '{root}'",
            value=text,
            what=what,
            root=root,
            where=where,
            hint="paths from data must stay inside the folder they belong to",
        )
    return Path(joined)


def _too_long(text: str) -> str | None:
    """Why no file system can hold the path ``text`` (a name over :data:`MAX_NAME` bytes, the whole
    over :data:`MAX_PATH` characters: ``os.stat`` would raise ENAMETOOLONG), or None."""
    if len(text) > MAX_PATH:
        return f"is longer than {MAX_PATH} characters"
    for part in text.split(os.sep):
        size = len(part.encode("utf-8", "surrogatepass"))
        if size > MAX_NAME:
            return f"has a file or folder name of {size} bytes, longer than {MAX_NAME}"
    return None


def short_text(value: str, limit: int = 80) -> str:
    """``repr(value)``, cut to about ``limit`` characters (an error line never echoes a whole field)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def media_path(path: str | os.PathLike[str]) -> str:
    """``path`` made absolute, for FFmpeg, PyAV, torchcodec and OpenCV: they read a relative
    ``tcp:host:port/x.mp4``, ``concat:a|b`` or ``file:x`` as a protocol, a leading ``/`` always
    as a file on disk."""
    return os.path.abspath(os.fspath(path))


def inside(
    root: str | os.PathLike[str],
    *parts: str | os.PathLike[str],
    what: str = "path",
    where: str | None = None,
    root_label: str = "its root",
    follow_symlinks: bool = False,
) -> Path:
    """``root / part / ...`` checked as one path by :func:`resolve_under` (``ROOT/<source>/<id>``)."""
    if not parts:
        raise ValueError("inside() needs at least one part")
    texts = [os.fspath(p) for p in parts]
    for t in texts:
        if not isinstance(t, str) or os.path.normpath(t) in (".", "..") or not t:
            raise PathEscapeError(
                f"{what} part {t!r} names no file (empty, '.' or '..')",
                value=t,
                what=what,
                root=root,
                where=where,
            )
    return resolve_under(
        root,
        os.path.join(*texts),
        what=what,
        where=where,
        root_label=root_label,
        follow_symlinks=follow_symlinks,
    )


def plain_folder(
    root: str | os.PathLike[str],
    relative: str,
    *,
    what: str = "folder",
    hint: str | None = None,
) -> Path:
    """``root / relative``, a folder a command writes and removes files in: refused
    (:class:`PathEscapeError`) when it, or a folder on the way to it, is a symbolic link or is
    not a folder, so no write or removal lands outside ``root`` through a link (reading through
    a linked folder, e.g. ``videos/`` on another disk, is :func:`resolve_under`'s). A folder not
    made yet is fine: it is made as a plain folder."""
    base = Path(root)
    path = base
    for part in Path(relative).parts:
        path = path / part
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            raise PathEscapeError(
                f"{what} '{path.relative_to(base).as_posix()}' is a link or not a folder; files are "
                f"written and removed only inside '{base}'",
                value=relative,
                what=what,
                root=base,
                where=str(path),
                hint=hint or f"replace {path} by a plain folder (or remove it)",
            )
    return base / relative


def outside_dataset(
    out: str | os.PathLike[str], dataset: str | os.PathLike[str], *, what: str, option: str = "--out"
) -> Path:
    """``out``, a folder a command writes beside a dataset (an export, a training copy, a crop
    cache), refused (:class:`ConfigError` naming ``option``) when it is the dataset folder or lies
    inside it: files the dataset's manifest does not list break ``mf verify`` and stop the next
    ``mf publish``."""
    dst = Path(out)
    if dst.resolve().is_relative_to(Path(dataset).resolve()):  # the folder itself too
        raise ConfigError(
            f"the {what} folder is inside the dataset folder",
            where=f"{option} {dst}",
            hint=f"write the {what} elsewhere: files the dataset's manifest does not list break mf verify"
            " and stop mf publish",
        )
    return dst


def apart(
    first: str | os.PathLike[str],
    second: str | os.PathLike[str],
    *,
    first_name: str,
    second_name: str,
    hint: str,
) -> None:
    """Refuse (:class:`ConfigError` naming both) two folders a command keeps apart when one is the
    other or lies inside it, either way round (``first_name``/``second_name`` say what each is,
    with its option: ``the dataset folder (--out)``)."""
    a, b = Path(first), Path(second)
    ra, rb = a.resolve(), b.resolve()
    if ra == rb:
        how = f"{first_name} is {second_name}"
    elif ra.is_relative_to(rb):
        how = f"{first_name} lies inside {second_name}"
    elif rb.is_relative_to(ra):
        how = f"{second_name} lies inside {first_name}"
    else:
        return
    raise ConfigError(f"{how} ({a} and {b}); nothing was changed", where=str(a), hint=hint)


def check_collection_root(
    root: str | os.PathLike[str], files: Mapping[str, Sequence[str]], *, items: str, nothing: str
) -> None:
    """Refuse a collection ``root`` (:class:`ConfigError` naming it) that holds none of ``files``
    (per item key, the paths of its collected files relative to the root) while they name some:
    a wrong ``--root``, which would otherwise fail or drop every item one by one. Some missing is
    the caller's to handle per item. ``items`` names the items (``accepted items``), ``nothing``
    says what was left as it was (``nothing was changed``)."""
    named = {key: paths for key, paths in files.items() if paths}
    base = Path(root)
    missing = [key for key, paths in named.items() if not all((base / p).is_file() for p in paths)]
    if missing and not any((base / p).is_file() for paths in named.values() for p in paths):
        raise ConfigError(
            f"--root lacks the collected files of {len(missing)} of the {len(files)} {items} "
            f"(first: {missing[0]}); {nothing}",
            where=str(root),
            hint="--root must be the folder the catalog's asset paths are relative to (the one "
            "mf-collect wrote); if its files were deleted, run mf-collect again to fetch them",
        )
