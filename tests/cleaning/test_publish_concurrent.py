"""Two commands at once on one dataset folder: one `mf publish` at a time (a second one stops
with one line naming the first, or waits with --wait), and a republish removes every tracklet
file of a video no split file lists and none held back (a build running while a publish removed
the video writes it again), never a file of a listed or held-back video."""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cleaning.publish import publish
from cleaning.publish.sweep import _unlisted_tracklets
from movingfashion.archive.at_rest import PUBLISH_LOCK
from movingfashion.archive.describe import refresh
from movingfashion.archive.verify import verify_dataset
from schemas.atomic import LockBusy, file_lock
from schemas.catalog import Catalog
from schemas.items import Status
from schemas.official import read_official
from tests.cleaning.test_held_back_tracklets_publish import _flag
from tests.cleaning.test_publish_stale_tracklets import _tracklet_files_of
from tests.damage import assert_same_tree
from tests.mf_cli import run_mf

ROOT = Path(__file__).resolve().parents[2]
HOLD = """
import sys, time
from schemas.atomic import file_lock
with file_lock(sys.argv[1]):
    print("held", flush=True)
    if float(sys.argv[2]):
        time.sleep(float(sys.argv[2]))
    else:
        sys.stdin.readline()
"""


def _hold(lock: Path, seconds: float) -> subprocess.Popen:
    """Another process holding ``lock`` (as a running publish does) for ``seconds`` (0: until
    its stdin gets a line)."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock), str(seconds)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    return child


def _release_once_waited_for(child: subprocess.Popen, caplog) -> threading.Thread:
    """A thread that lets :func:`_hold`'s ``child`` go once a wait for its lock was logged,
    however long the waiter takes to get there (after 120 s without one, lets it go anyway)."""

    def run() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any(
            "waiting for" in r.getMessage() for r in caplog.records
        ):
            time.sleep(0.05)
        with contextlib.suppress(OSError):
            child.stdin.write("\n")
            child.stdin.flush()

    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th


def _tree(top: Path) -> dict[str, bytes]:
    return {
        p.relative_to(top).as_posix(): p.read_bytes()
        for p in sorted(top.rglob("*"))
        if p.is_file() and p.name != PUBLISH_LOCK
    }


def test_a_second_publish_stops_at_once_naming_the_first(cleaned_world, catalog_copy, tmp_path, capsys):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        publish(cat, cleaned_world.root, out)
    before = _tree(out)
    child = _hold(out / PUBLISH_LOCK, 600)  # killed below: held for as long as the test runs
    try:
        args = [
            "publish",
            "--catalog",
            str(catalog_copy),
            "--root",
            str(cleaned_world.root),
            "--out",
            str(out),
        ]
        start = time.monotonic()
        code, stdout, err = run_mf([*args, "--json"], capsys)
        took = time.monotonic() - start
    finally:
        child.kill()
        child.wait()
    # stopped at once: did not wait for the holder (600 s) nor the default lock limit (180 s);
    # the bound leaves a loaded machine room for the checks before the lock
    assert code == 2 and took < 120 and json.loads(stdout)["type"] == "LockBusy", stdout
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(out / PUBLISH_LOCK) in lines[0] and f"pid {child.pid}" in lines[0] and "python -c" in lines[0]
    assert "another mf publish" in lines[0] and "--wait" in lines[0]
    assert_same_tree(_tree(out), before)  # nothing changed


def test_wait_publishes_once_the_other_publish_is_done(cleaned_world, catalog_copy, tmp_path, caplog):
    out = tmp_path / "ds"
    out.mkdir()
    caplog.set_level(logging.WARNING)
    child = _hold(out / PUBLISH_LOCK, 0)  # held until the wait for it is seen
    try:
        with Catalog(catalog_copy) as cat:
            with pytest.raises(LockBusy, match="--wait"):
                publish(cat, cleaned_world.root, out)
            assert sorted(p.name for p in out.iterdir()) == [PUBLISH_LOCK]  # nothing written
            releaser = _release_once_waited_for(child, caplog)
            res = publish(cat, cleaned_world.root, out, wait=True)
            releaser.join(150)
    finally:
        child.kill()
        child.wait()
    assert res["verify"]["ok"], res["verify"]["breaks"]
    waits = [r.getMessage() for r in caplog.records if "waiting for" in r.getMessage()]
    assert len(waits) == 1 and str(out / PUBLISH_LOCK) in waits[0] and f"pid {child.pid}" in waits[0]


def test_the_dataset_lock_stays_free_while_a_publish_runs(cleaned_world, catalog_copy, tmp_path, monkeypatch):
    """A build or a review pick (DATASET/.lock) is not blocked for a whole publish, only while it
    rewrites the split files; the publish lock is held from its first read to its end."""
    import cleaning.publish.run as publish_run

    out = tmp_path / "ds"
    seen: list[tuple[str, bool]] = []
    # probed once the media are placed, before the split files are rewritten (held_videos;
    # _remove_stale_media, probed here before, now runs under the lock: media go only once the
    # split files no longer list them)
    real = publish_run.held_videos

    def probe(*args, **kwargs):
        def other() -> None:  # another thread stands for another process here
            for name in (".lock", PUBLISH_LOCK):
                try:
                    with file_lock(out / name, timeout_s=0):
                        seen.append((name, True))
                except LockBusy:
                    seen.append((name, False))

        th = threading.Thread(target=other)
        th.start()
        th.join(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(publish_run, "held_videos", probe)
    with Catalog(catalog_copy) as cat:
        publish(cat, cleaned_world.root, out)
    assert seen == [(".lock", True), (PUBLISH_LOCK, False)]
    with file_lock(out / PUBLISH_LOCK, timeout_s=0):  # released at the end
        pass


def test_a_republish_removes_tracklet_files_of_unlisted_videos_written_meanwhile(
    cleaned_world, catalog_copy, tmp_path
):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        publish(cat, cleaned_world.root, out)
        train = read_official(out / "train.json")
        kept, gone, held = sorted(train)[:3]
        files = {
            p: [f for v in train[p].video_paths for f in _tracklet_files_of(out, p, v)] for p in (kept, gone)
        }
        files[held] = [
            f for v in train[held].video_paths for f in _tracklet_files_of(out, held, v, flagged=True)
        ]
        assert refresh(out) and verify_dataset(out).ok
        saved = {f: f.read_bytes() for f in files[gone]}
        _flag(cat, held)  # held back for review: its files stay
        row = next(r for r in cat.items() if r.product_id == gone)
        cat.set_item_state(
            row.item.source, row.item.source_id, status=Status.REJECTED, reason="test: taken down"
        )
        res = publish(cat, cleaned_world.root, out)
        assert [f for f in files[gone] if f.exists()] == []
        assert sorted(res["removed_tracklets"]) == sorted(
            f"tracklets/{f.name}" for f in files[gone] if f.parent.name == "tracklets"
        )
        # a build that planned the video before the publish removed it writes its files again
        for f, data in saved.items():
            f.write_bytes(data)
        assert not verify_dataset(out).ok  # "about 'videos/...', which no product lists"
        res = publish(cat, cleaned_world.root, out)
    assert [f for f in files[gone] if f.exists()] == []  # with its build record and sheet
    assert res["removed_tracklets"] == sorted(
        f"tracklets/{f.name}" for f in files[gone] if f.parent.name == "tracklets"
    )
    assert res["removed"] >= len(res["removed_tracklets"])
    assert all(f.is_file() for p in (kept, held) for f in files[p])  # listed and held back: kept
    assert res["verify"]["ok"], res["verify"]["breaks"]
    assert verify_dataset(out).ok


def _file(folder: Path, name: str, video: str | None, raw: str | None = None) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        raw if raw is not None else json.dumps({"video": video, "product_id": "p", "tracklets": []})
    )
    return path


def test_only_files_that_are_truly_about_an_unlisted_video_are_picked(tmp_path):
    """By name and by content: a misnamed file about a listed or held video, an unreadable one,
    one whose name and video disagree, hidden and other files stay (mf verify reports them)."""
    folder = tmp_path / "tracklets"
    listed, held = {"videos/a_0.mp4", "videos/s_0.mp4"}, {"videos/h_0.mp4"}
    gone = [
        _file(folder, "x_0.json", "videos/x_0.mp4"),  # unlisted: goes
        _file(folder, "x_1@q.json", "videos/x_1.mp4"),  # a product's file of an unlisted video: goes
    ]
    for name, video, raw in [
        ("a_0.json", "videos/a_0.mp4", None),  # listed
        ("s_0@p.json", "videos/s_0.mp4", None),  # a listed shared video's
        ("h_0.json", "videos/h_0.mp4", None),  # held back
        ("h_0@p.json", "videos/h_0.mp4", None),
        ("a_0@old.json", "videos/a_0.mp4", None),  # named after a listed video
        ("y_0.json", "videos/a_0.mp4", None),  # misnamed, about a listed video
        ("z_0.json", "videos/h_0.mp4", None),  # misnamed, about a held video
        ("w_0.json", "videos/v_0.mp4", None),  # name and video disagree
        ("broken.json", None, "{not json"),  # unreadable
        ("list.json", None, "[1, 2]"),
        ("novideo.json", None, "{}"),
        (".hidden.json", "videos/x_9.mp4", None),
        ("x_2.txt", "videos/x_2.mp4", None),
        (".build/x_3.json", "videos/x_3.mp4", None),
    ]:
        _file(folder, name, video, raw)
    assert _unlisted_tracklets(tmp_path, listed, held) == gone
    assert _unlisted_tracklets(tmp_path / "missing", listed, held) == []
