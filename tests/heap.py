"""Counting the objects a test's code keeps alive without paying for the whole process's heap."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def only_new_objects_collected() -> Iterator[None]:
    """Inside, ``gc.collect()`` looks only at objects made inside (``gc.freeze``): what existed
    before stays alive either way, so a collection frees the same new objects, at the cost of the
    new objects instead of every object the test process holds (after a few hundred tests, a
    collection took about 0.5 s)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
