"""The catalog's cleaning lock: ``mf clean`` holds it exclusively for its whole run, and the
commands that read what cleaning decided (``mf publish``, ``mf splits rebuild``) hold it shared,
so none of them reads the catalog halfway through a clean (statuses recorded, wrong pairs not
yet flagged: a publish then published a planted wrong pair). It is ``<catalog>.clean.lock``
beside the catalog file."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from pathlib import Path

from schemas.atomic import file_lock, shared_lock

SUFFIX = ".clean.lock"


def clean_lock_path(catalog_path: str | os.PathLike[str]) -> Path:
    """``<catalog>.clean.lock``."""
    return Path(f"{os.fspath(catalog_path)}{SUFFIX}")


@contextlib.contextmanager
def cleaning(catalog_path: str | os.PathLike[str]) -> Iterator[None]:
    """Held by a clean: another clean, a publish or a splits rebuild of this catalog waits (the
    clean itself waits, saying so once, for those running)."""
    with file_lock(
        clean_lock_path(catalog_path),
        timeout_s=math.inf,
        who="another mf clean, mf publish or mf splits rebuild uses this catalog",
    ):
        yield


@contextlib.contextmanager
def cleaned(catalog_path: str | os.PathLike[str], *, wait: bool = False) -> Iterator[None]:
    """Held (shared) by a reader of what cleaning decided: refused at once while a clean runs
    (:class:`~schemas.atomic.LockBusy`, exit 2, naming it), or with ``wait`` waits for it."""
    with shared_lock(
        clean_lock_path(catalog_path),
        timeout_s=math.inf if wait else 0,
        who="mf clean is cleaning this catalog (what it decided is half written until it ends)",
        hint="wait for it to finish, or rerun with --wait",
    ):
        yield
