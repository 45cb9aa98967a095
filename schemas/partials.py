"""The names of temporary files: ``.<name>.<host>-<pid>.<random>.part`` beside the file
``name`` being written (:func:`schemas.atomic.atomic_open`, :func:`schemas.atomic.partial_path`).

The name says whose it is (:func:`schemas.atomic.sweep_partials` removes those of writers of this
host that are gone) and which file it stands for (:func:`partial_target`: an error met while
writing it names that file, :mod:`schemas.faults`).
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
from pathlib import Path

#: ``.<name>.<host>-<pid>.<random>.part``: a temporary file of :func:`schemas.atomic.atomic_open`
_PARTIAL = re.compile(r"\.(?P<name>.+)\.(?P<host>[A-Za-z0-9_-]+)-(?P<pid>\d+)\.[A-Za-z0-9_]+\.part")


def host_tag() -> str:
    """This host's name as temporary files and lock marks carry it (at most 64 characters:
    letters, digits and ``_``)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname())[:64] or "host"


#: the longest target name a temporary file's name carries whole (the rest of its name, host and
#: pid included, stays under 100 bytes: the whole within the usual 255-byte limit of a name)
_NAME_BYTES = 140

#: how a long target name ends once cut short: ``~`` and 10 hex digits of its hash
_CUT = re.compile(r"~[0-9a-f]{10}")


def partial_prefix(name: str) -> str:
    """The start of a temporary file's name for target ``name``: the name itself, or a long one
    cut short with a hash of it, so a legal long target name gives a legal temporary name."""
    raw = name.encode("utf-8", "surrogateescape")
    if len(raw) > _NAME_BYTES:
        digest = hashlib.sha1(raw, usedforsecurity=False).hexdigest()[:10]
        name = raw[: _NAME_BYTES - 11].decode("utf-8", "ignore") + "~" + digest
    return f".{name}.{host_tag()}-{os.getpid()}."


def partial_target(path: str | os.PathLike[str]) -> Path | None:
    """The file a temporary file stands for (its folder when the target's long name was cut
    short in it); None for any other name. An error met while writing the temporary file names
    this instead: the temporary file is gone once the write gave up, and the target (or its
    folder) is what the user knows and must fix."""
    p = Path(path)
    m = _PARTIAL.fullmatch(p.name)
    if m is None:
        return None
    name = m["name"]
    cut = (
        _CUT.search(name[-11:]) is not None
        and len(name.encode("utf-8", "surrogateescape")) > _NAME_BYTES - 15
    )
    return p.parent if cut else p.parent / name
