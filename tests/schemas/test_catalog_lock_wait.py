"""A catalog another process holds write-locked (a stuck writer, an sqlite3 shell inside a
transaction): a write waits a bounded time (``timeout_s``, :data:`LOCK_WAIT_S` by default), says
once that it waits for the lock on that catalog, then gives up with one line naming the file
(exit 2 from a command), instead of waiting silently for hours."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import schemas.catalog as catalog_mod
from schemas.catalog import Catalog
from schemas.errors import CatalogError
from tests.mf_cli import run_mf


@contextlib.contextmanager
def write_locked(path: Path) -> Iterator[None]:
    """``path``'s write lock held by another connection for the block."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.fixture
def locked(tmp_path):
    """A catalog whose write lock another connection holds for the test."""
    path = tmp_path / "catalog.sqlite"
    Catalog(path).close()
    with write_locked(path):
        yield path


def test_a_write_waits_a_bounded_time_says_so_once_then_names_the_file(tmp_path: Path, caplog):
    locked = tmp_path / "catalog.sqlite"
    cat = Catalog(locked, timeout_s=1.5)  # opened (and migrated) before the other takes the lock
    caught: list[BaseException] = []

    def write() -> None:
        try:
            with cat.transaction():
                pass
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            caught.append(exc)

    start = time.monotonic()
    with write_locked(locked), caplog.at_level(logging.WARNING, logger="schemas.catalog"):
        worker = threading.Thread(target=write, daemon=True)
        worker.start()
        worker.join(120)
        alive = worker.is_alive()
    assert not alive, "still waiting for the write lock after 120 s"
    # gave up at its limit (1.5 s), not hours later; the upper bound leaves a loaded machine room
    assert 1.4 < time.monotonic() - start < 60
    (exc,) = caught
    assert isinstance(exc, CatalogError) and exc.where == str(locked) and "stayed locked" in exc.message
    waits = [r.getMessage() for r in caplog.records if "waiting for the write lock" in r.getMessage()]
    assert len(waits) == 1 and str(locked) in waits[0]
    cat.close()


def test_a_command_on_a_locked_catalog_exits_2_with_one_line(locked: Path, capsys, monkeypatch):
    monkeypatch.setattr(catalog_mod, "LOCK_WAIT_S", 1.2)
    code, _, err = run_mf(["splits", "rebuild", "--catalog", str(locked)], capsys)
    assert code == 2
    assert err.startswith(f"error: {locked}: database stayed locked") and err.count("\n") == 1
