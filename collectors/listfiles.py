"""Target list files (``@FILE`` or a text file, one target a line), read recursively.

A list may name other lists; a list that is already being read (one naming itself, or a chain
of lists leading back to one) is refused with a :class:`~schemas.errors.DataFormatError` naming
it, instead of recursing without end. Sources call :func:`expand_lists` when they discover and
when they check their targets (before anything is created).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

from schemas.errors import DataFormatError
from schemas.text_input import read_text_input


def target_path(target: str) -> Path:
    """The file a target names: ``@FILE`` or ``FILE``."""
    return Path(target[1:] if target.startswith("@") else target)


def is_file(path: Path) -> bool:
    """``path.is_file()``; False for a name no file can have (a part over 255 bytes, such as a
    pasted caption given as a target: the system's ENAMETOOLONG)."""
    try:
        return path.is_file()
    except OSError:
        return False


def is_dir(path: Path) -> bool:
    """``path.is_dir()``; False for a name no folder can have (see :func:`is_file`)."""
    try:
        return path.is_dir()
    except OSError:
        return False


def exists(path: Path) -> bool:
    """``path.exists()``; False for a name nothing can have (see :func:`is_file`)."""
    try:
        return path.exists()
    except OSError:
        return False


def is_url(target: str) -> bool:
    """Whether ``target`` is an http(s) URL (by its scheme)."""
    return target.startswith(("http://", "https://"))


def checked_url(url: str, where: str) -> str:
    """``url``, or a :class:`DataFormatError` naming ``where`` (``FILE line N``, ``TARGETS``)
    when :func:`urllib.parse.urlsplit` cannot read it (an unclosed IPv6 bracket)."""
    try:
        urlsplit(url)
    except ValueError as exc:
        shown = url if len(url) <= 120 else url[:117] + "..."
        raise DataFormatError(
            f"{shown!r} is not a valid URL ({exc})", where=where, hint="correct or remove the URL"
        ) from None
    return url


def expand_lists(
    target: str,
    *,
    is_list: Callable[[Path], bool],
    line_target: Callable[[str], str | None],
    reading: tuple[Path, ...] = (),
) -> Iterator[str]:
    """``target`` itself, or, when it names a list file (``is_list`` of its path), the targets of
    that list's lines (``line_target``: a line's target, ``None`` for a blank or comment line),
    lists named there expanded in turn. ``reading``: the lists being read (resolved paths)."""
    path = target_path(target)
    if is_url(target) or not _is_list(is_list, path):
        yield target
        return
    key = path.resolve()
    if key in reading:
        chain = " -> ".join(str(p) for p in (*reading, key))
        raise DataFormatError(
            f"list file is already being read (it names itself through {chain})",
            where=str(path),
            hint="remove the line that names a list file already being read",
        )
    for n, line in enumerate(read_text_input(path, "list file").splitlines(), 1):
        inner = line_target(line)
        if inner and is_url(inner):
            checked_url(inner, f"{path} line {n}")
        if inner:
            yield from expand_lists(inner, is_list=is_list, line_target=line_target, reading=(*reading, key))


def _is_list(is_list: Callable[[Path], bool], path: Path) -> bool:
    """``is_list(path)``; False for a name no file can have (see :func:`is_file`)."""
    try:
        return is_list(path)
    except OSError:
        return False
