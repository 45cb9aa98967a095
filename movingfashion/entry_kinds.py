"""The two stores of pre-cut clips and how to tell them apart on disk: the training copy
(``mf training-copy``, JPEG crops in ``<entry>.jpgs``) and the crop cache (``mf crop-cache``,
arrays in ``<entry>.npy``). Both write one ``<entry>.json`` beside each entry, named alike, so
only these suffixes say which kind a folder holds. No torch, no click: the CLIs check a folder
with it before torch loads, the dataset when it is made."""

from __future__ import annotations

import os
from pathlib import Path

#: what each writer's entries end in; both write one ``<entry>.json`` beside each, named alike
ENTRY_SUFFIX = {"training copy": ".jpgs", "crop cache": ".npy"}


def other_kind(what: str) -> str:
    """The kind that is not ``what`` (``"training copy"`` <-> ``"crop cache"``)."""
    return next(kind for kind in ENTRY_SUFFIX if kind != what)


def entries_of(folder: str | os.PathLike[str], what: str) -> list[str]:
    """Sorted names in ``folder`` (not below it) that are entries of kind ``what``; [] for a
    folder that is not there."""
    suffix = ENTRY_SUFFIX[what]
    try:
        with os.scandir(Path(folder)) as entries:
            return sorted(e.name for e in entries if e.name.endswith(suffix))
    except (FileNotFoundError, NotADirectoryError):
        return []


def shown(names: list[str]) -> str:
    """The first two of ``names`` and how many more, for one message line."""
    return ", ".join(names[:2]) + (f" and {len(names) - 2} more" if len(names) > 2 else "")
