"""An import or a review pick killed between its writes and the manifest refresh leaves the
refresh-pending mark: the rerun (import) or the review server's start-up reconcile (pick) finds
its files already written and refreshes the folder all the same, so ``mf verify`` holds, as after
an uninterrupted run. The builder's line of the mark outlives a refresh (its rerun does more)."""

from __future__ import annotations

from pathlib import Path

import pytest

import movingfashion.archive.describe as describe
from annotations.exchange.importer import import_cvat
from annotations.refresh_mark import (
    BY_BUILD,
    BY_IMPORT,
    BY_PICK,
    REFRESH_PENDING,
    clear_pending,
    pending_by,
    refresh_if_pending,
    set_pending,
)
from annotations.review.decisions import decide, reconcile_picks
from movingfashion.archive.verify import verify_dataset
from schemas.catalog import Catalog
from tests.annotations.exchange.test_importer import edit_first_box, exported, first_box


class Killed(BaseException):
    """Stands for a SIGKILL (nothing after it runs; not an Exception, so nothing catches it)."""


def _killed_at_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args, **kwargs):
        raise Killed

    monkeypatch.setattr(describe, "refresh", boom)


def test_an_import_killed_before_its_refresh_is_refreshed_by_the_rerun(published, tmp_path, monkeypatch):
    ds, f = published
    stem = f["videos"][0]
    xml = exported(ds, stem, tmp_path / "x")
    edit_first_box(xml, xtl=str(float(first_box(xml).get("xtl")) + 1))
    with monkeypatch.context() as m:
        _killed_at_refresh(m)
        with pytest.raises(Killed):
            import_cvat(ds, xml)
    assert not verify_dataset(ds).ok  # the files are written, the manifest is not
    res = import_cvat(ds, xml)  # the rerun: nothing left to change
    assert res["changed_videos"] == []
    report = verify_dataset(ds)
    assert report.ok, report.table()
    assert not (ds / REFRESH_PENDING).exists()


def test_a_pick_killed_before_its_refresh_is_refreshed_at_start(published, tmp_path, monkeypatch):
    ds, f = published
    stem = f["videos"][0]
    vp, pid = f["video_path"][stem], f["product"][stem]
    with Catalog(tmp_path / "catalog.sqlite") as cat:
        with monkeypatch.context() as m:
            _killed_at_refresh(m)
            with pytest.raises(Killed):
                decide(ds, cat, video=vp, product_id=pid, kind="tracklet", tracklet=1)
        assert not verify_dataset(ds).ok
        assert reconcile_picks(ds, cat).fixed == []  # the file holds the pick: nothing to redo
    report = verify_dataset(ds)
    assert report.ok, report.table()
    assert not (ds / REFRESH_PENDING).exists()


def test_a_refresh_settles_an_import_or_a_pick_but_not_a_build(tmp_path: Path, monkeypatch):
    calls: list[Path] = []
    monkeypatch.setattr(describe, "refresh", lambda root, changed=None: calls.append(root))
    assert not refresh_if_pending(tmp_path) and calls == []
    (tmp_path / REFRESH_PENDING).touch()  # the builder's mark, as it writes it
    set_pending(tmp_path, BY_IMPORT)
    set_pending(tmp_path, BY_PICK)
    assert pending_by(tmp_path) == {BY_BUILD, BY_IMPORT, BY_PICK}
    assert refresh_if_pending(tmp_path) and calls == [tmp_path]
    assert pending_by(tmp_path) == {BY_BUILD}  # the build's rerun still settles and merges
    clear_pending(tmp_path, BY_BUILD)
    assert not (tmp_path / REFRESH_PENDING).exists()
