"""mf clean holds the catalog's cleaning lock for its whole run; mf publish and mf splits rebuild
hold it shared: a publish while a clean runs is refused naming it (exit 2) or, with --wait,
waits for it, so it never publishes a catalog halfway through a clean (a planted wrong pair was
published that way); a clean waits for the publishes that run."""

from __future__ import annotations

import threading
import time

import pytest

from cleaning.clean_lock import clean_lock_path, cleaned, cleaning
from cleaning.publish import publish
from cleaning.splits import rebuild_splits
from schemas.atomic import LockBusy
from schemas.catalog import Catalog
from tests.mf_cli import run_mf


def test_publish_and_splits_rebuild_during_a_clean_are_refused_naming_it(
    cleaned_world, catalog_copy, tmp_path, capsys
):
    out = tmp_path / "dataset"
    with cleaning(catalog_copy):  # what mf clean holds
        with Catalog(catalog_copy) as cat:
            with pytest.raises(LockBusy, match="mf clean is cleaning this catalog") as err:
                publish(cat, cleaned_world.root, out)
            assert "--wait" in str(err.value) and str(clean_lock_path(catalog_copy)) in str(err.value)
            with pytest.raises(LockBusy):
                rebuild_splits(cat)
        code, _, text = run_mf(
            ["publish", "--catalog", str(catalog_copy), "--root", str(cleaned_world.root), "--out", str(out)],
            capsys,
        )
        assert code == 2 and "mf clean is cleaning this catalog" in text
    assert not out.exists()  # refused before anything was written
    with Catalog(catalog_copy) as cat:
        assert publish(cat, cleaned_world.root, out)["products"] > 0


def test_publish_with_wait_waits_for_the_clean(cleaned_world, catalog_copy, tmp_path):
    out = tmp_path / "dataset"
    released = threading.Event()

    def clean_for_a_while() -> None:
        with cleaning(catalog_copy):
            started.set()
            time.sleep(1.0)
            released.set()

    started = threading.Event()
    t = threading.Thread(target=clean_for_a_while)
    t.start()
    assert started.wait(10)
    with Catalog(catalog_copy) as cat:
        res = publish(cat, cleaned_world.root, out, wait=True)
    assert released.is_set() and res["products"] > 0
    t.join()


def test_a_clean_waits_for_the_readers_and_readers_share(tmp_path):
    path = tmp_path / "catalog.sqlite"
    with cleaning(path):  # the lock file exists once a clean ran
        pass
    entered = threading.Event()

    def clean() -> None:
        with cleaning(path):
            entered.set()

    with cleaned(path), cleaned(path):  # two publishes at once
        t = threading.Thread(target=clean)
        t.start()
        assert not entered.wait(0.5)  # the clean waits for both
    assert entered.wait(10)
    t.join()
    with cleaned(tmp_path / "never.sqlite"):  # no clean ever ran: nothing to wait for, nothing made
        assert not clean_lock_path(tmp_path / "never.sqlite").exists()
