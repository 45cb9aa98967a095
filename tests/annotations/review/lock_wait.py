"""A lock held by another process while the review server answers: what the lock-wait tests of
the dataset's lock and the catalog's write lock share."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.annotations.review.test_server import _post

ROOT = Path(__file__).resolve().parents[3]


@contextlib.contextmanager
def held_elsewhere(code: str, target: Path) -> Iterator[subprocess.Popen]:
    """Run ``code`` (``sys.argv[1]`` is ``target``) in another process: it takes a lock, prints
    ``held`` and keeps it until its stdin gets a line, which leaving the block sends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(target)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.communicate("\n", timeout=30)


def decide_in_background(
    srv: Any, body: dict[str, Any]
) -> tuple[threading.Thread, list[tuple[int, bytes, float]]]:
    """POST ``body`` as a decision in a thread; its (status, body, seconds) lands in the list."""
    answer: list[tuple[int, bytes, float]] = []

    def send() -> None:
        start = time.monotonic()
        status, _, reply = _post(srv, "/api/decision", body)
        answer.append((status, reply, time.monotonic() - start))

    th = threading.Thread(target=send)
    th.start()
    return th, answer
