"""An import or a review pick killed between its writes and the manifest refresh leaves the
refresh-pending mark: the rerun (import) or the review server's start-up reconcile (pick) finds
its files already written and refreshes the folder all the same, so ``mf verify`` holds, as after
an uninterrupted run. The builder's line of the mark outlives a refresh (its rerun does more)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import movingfashion.archive.describe as describe
from annotations.exchange.importer import import_cvat
from annotations.refresh_mark import (
    BY_BUILD,
    BY_IMPORT,
    BY_PICK,
    REFRESH_PENDING,
    BuildRun,
    clear_pending,
    pending_by,
    refresh_if_pending,
    set_pending,
)
from annotations.review.decisions import decide, reconcile_picks
from movingfashion.archive.verify import verify_dataset
from schemas.atomic import host_tag
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


def _dead_pid() -> int:
    """The pid of a process of this host that has ended."""
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(proc.stdout)


def test_each_build_run_clears_its_own_line_and_leaves_the_others(tmp_path: Path):
    """Shards 0/2 and 1/2 building one folder at once, with an import meanwhile: each build's end
    leaves the other's line and the import's in place."""
    a, b = BuildRun.new((0, 2)), BuildRun.new((1, 2))
    try:
        assert a.begin(tmp_path) == set() and not a.unfinished
        assert b.begin(tmp_path) == {a.line} and not b.unfinished  # a is alive: not a killed run's
        set_pending(tmp_path, BY_IMPORT)
        a.finish(tmp_path)
        assert pending_by(tmp_path) == {b.line, BY_IMPORT}
        b.finish(tmp_path)
        assert pending_by(tmp_path) == {BY_IMPORT}
    finally:
        a.close()
        b.close()


def _boot_s() -> int:
    """This boot's wall-clock time (``btime`` of ``/proc/stat``)."""
    stat = Path("/proc/stat").read_text().splitlines()
    return next(int(x.split()[1]) for x in stat if x.startswith("btime "))


def test_which_build_lines_are_a_killed_runs(tmp_path: Path):
    """Unfinished: an owner dead on this host (another process, or an ended run of this one),
    another host's run found at the start (whatever its clock says: even one dated ahead of
    this host's), a bare line (older toolkits). Not: a live run here; another host's run whose
    line comes after this run's (test_refresh_mark_clock.py has the clock-step cases)."""
    host, now = host_tag(), time.time_ns()
    dead = f"{BY_BUILD}:{host}-{_dead_pid()}-{now - 10**9}-1/2"
    older = f"{BY_BUILD}:elsewhere_x-{os.getpid()}-{now - 10**9}-1/2"
    ahead = f"{BY_BUILD}:elsewhere_x-{os.getpid()}-{now + 10**12}-1/2"  # was left: "started later"
    ended = BuildRun.new((0, 1))
    ended.close()  # raised (or was killed) in this process: over
    live = BuildRun.new((1, 2))
    parent = f"{BY_BUILD}:{host}-{os.getppid()}-{now - 10**9}-0/2"  # pytest's parent: alive
    # an older toolkit's line (no boot id, no ticks) of its pid, written before this boot
    reused = f"{BY_BUILD}:{host}-{os.getppid()}-{(_boot_s() - 3600) * 10**9}-0/2"
    mark = tmp_path / REFRESH_PENDING
    mark.write_text("".join(f"{x}\n" for x in (BY_BUILD, dead, older, ahead, ended.line, live.line, parent)))
    run = BuildRun.new((1, 2))
    try:
        run.begin(tmp_path)
        assert run.stale == {BY_BUILD, dead, older, ahead, ended.line} and run.unfinished
        later = f"{BY_BUILD}:elsewhere_x-{os.getpid()}-{now - 10**12}-1/2"  # set after this run's line
        set_pending(tmp_path, later)
        run.finish(tmp_path)  # a shard settles the killed runs of its own shard only
        assert pending_by(tmp_path) == {BY_BUILD, later, ended.line, live.line, parent}
        mark.write_text(f"{reused}\n")
        settle = BuildRun.new((0, 1))
        settle.begin(tmp_path)
        assert reused in settle.stale  # a pid taken again after a reboot is no owner
    finally:
        live.close()
        run.close()


def test_an_unsharded_run_settles_every_killed_builds_line(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(describe, "refresh", lambda root, changed=None: None)
    (tmp_path / REFRESH_PENDING).write_text(f"{BY_BUILD}\n{BY_BUILD}:elsewhere_x-1-1-0/3\n{BY_PICK}\n")
    assert refresh_if_pending(tmp_path)  # a pick's line is settled by the refresh, no build's
    assert pending_by(tmp_path) == {BY_BUILD, f"{BY_BUILD}:elsewhere_x-1-1-0/3"}
    run = BuildRun.new((0, 1))
    try:
        run.begin(tmp_path)
        assert run.unfinished
        run.finish(tmp_path)
    finally:
        run.close()
    assert not (tmp_path / REFRESH_PENDING).exists()


def test_a_build_settles_the_import_and_pick_lines_it_found_at_its_start(tmp_path: Path):
    """Found at the start, an import's or a pick's line makes the build refresh the whole folder,
    which settles it: the build's end clears it, so mf verify audits the folder again (a line
    first set while the build ran stays: test_each_build_run_clears_its_own_line_...)."""
    set_pending(tmp_path, BY_IMPORT)
    set_pending(tmp_path, BY_PICK)
    run = BuildRun.new((1, 2))
    try:
        assert run.begin(tmp_path) == {BY_IMPORT, BY_PICK}
        run.finish(tmp_path)
    finally:
        run.close()
    assert pending_by(tmp_path) == set()


def test_an_import_interrupted_while_drawing_a_sheet_refreshes_and_its_rerun_draws_it(
    published, tmp_path, monkeypatch
):
    """Ctrl-C while the first video's contact sheet is drawn: its tracklet file is written, so
    the import still refreshes the folder (it cleared the mark without refreshing: a false break
    in mf verify); the rerun finds the file written and draws the sheet it missed."""
    import annotations.sheets as sheets
    from annotations.tracklet_files import read_video_tracklets, tracklet_file

    ds, f = published
    stem = f["videos"][0]
    vp = f["video_path"][stem]
    sheets.write_sheet(ds, read_video_tracklets(tracklet_file(ds, vp)))
    sheet = sheets.sheet_path(ds, vp)
    refresh_all = describe.refresh
    refresh_all(ds)
    before = sheet.read_bytes()
    xml = exported(ds, stem, tmp_path / "x")
    edit_first_box(xml, xtl=str(float(first_box(xml).get("xtl")) + 5))

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(sheets, "redraw_sheet", interrupted)
        with pytest.raises(KeyboardInterrupt):
            import_cvat(ds, xml)
    report = verify_dataset(ds)
    assert report.ok, report.table()
    assert sheet.read_bytes() == before  # not drawn yet
    res = import_cvat(ds, xml)
    assert res["changed_videos"] == []
    assert sheet.read_bytes() != before  # the rerun drew the imported boxes
    report = verify_dataset(ds)
    assert report.ok, report.table()
