"""Target list files (``@FILE`` or a text file, one target a line), read recursively.

A list may name other lists; a list that is already being read (one naming itself, or a chain
of lists leading back to one) is refused with a :class:`~schemas.errors.DataFormatError` naming
it, instead of recursing without end. Sources call :func:`expand_lists` when they discover and
when they check their targets (before anything is created).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from schemas.errors import DataFormatError
from schemas.text_input import read_text_input


def target_path(target: str) -> Path:
    """The file a target names: ``@FILE`` or ``FILE``."""
    return Path(target[1:] if target.startswith("@") else target)


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
    if not is_list(path):
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
    for line in read_text_input(path, "list file").splitlines():
        inner = line_target(line)
        if inner:
            yield from expand_lists(inner, is_list=is_list, line_target=line_target, reading=(*reading, key))
