"""Waiting for a condition in a test: poll with a deadline, never a fixed sleep before a check
(a loaded CI machine is slower than any fixed guess)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

DEADLINE_S = 60.0  # a guard against a hang, never a measure of speed


def wait_for(check: Callable[[], object], what: str, deadline_s: float = DEADLINE_S) -> None:
    """Return once ``check()`` is true; fail the test naming ``what`` after ``deadline_s``."""
    end = time.monotonic() + deadline_s
    while not check():
        if time.monotonic() > end:
            pytest.fail(f"{what} within {deadline_s:g}s")
        time.sleep(0.05)
