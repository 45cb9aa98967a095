"""A file the driver has and an executor's worker cannot see (a cluster whose nodes do not share
``--root``) fails its item, naming the cause; it is never a content rejection (audit_ray Y1:
every item of the catalog was rejected "no video file", exit 0)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from cleaning.pipeline import clean
from cleaning.steps.probe import ProbeTask
from movingfashion.executors.local import LocalExecutor
from schemas.catalog import Catalog


def away(task):
    """``task`` with its file looked for under a folder that does not exist (what a worker
    without the share sees)."""
    if isinstance(task, Path):
        return Path("/nonexistent-share") / task.name
    if isinstance(task, ProbeTask):
        return dataclasses.replace(task, path=Path("/nonexistent-share") / task.path.name)
    return task


class BlindWorkers(LocalExecutor):
    """Workers that look for every file under a folder that does not exist."""

    name = "blind"

    def _map(self, fn, tasks):
        yield from super()._map(fn, [away(t) for t in tasks])


def test_files_a_worker_cannot_see_fail_their_items_and_reject_none(cleaned_world, catalog_copy):
    catalog_copy.with_name("catalog.cleaning-cache.json").unlink()  # every file is hashed again, on a worker
    with Catalog(catalog_copy) as cat:
        before = {(r.item.source, r.item.source_id): (r.status, r.reason) for r in cat.items()}
        report = clean(cat, cleaned_world.root, executor=BlindWorkers())
        after = {(r.item.source, r.item.source_id): (r.status, r.reason) for r in cat.items()}
    failed = report["failed"]
    assert failed and all(
        "a worker of the executor cannot see " in f["error"] and ", which is here" in f["error"]
        for f in failed
    ), failed[:3]
    assert "shared by every node at the same path" in failed[0]["error"]
    for key, was in before.items():  # the failed items keep what the catalog held; none is rejected anew
        if f"{key[0]}/{key[1]}" in {f["item"] for f in failed}:
            assert after[key] == was, key
    rejected_now = {
        k for k, (st, why) in after.items() if st == "rejected" and "no video file" in (why or "")
    }
    assert rejected_now <= {
        k for k, (st, why) in before.items() if st == "rejected" and "no video file" in (why or "")
    }


def test_a_workers_file_not_found_for_a_file_here_stops_the_run_with_the_shared_folder_hint(tmp_path):
    """crop-cache and tracklets on a cluster (audit_ray Y2, Y3): the error that stops the run."""
    from movingfashion.executors import SHARED_FOLDER_HINT, unseen_on_worker
    from schemas.errors import ConfigError, MediaError

    here, gone = tmp_path / "v.mp4", tmp_path / "gone.mp4"
    here.write_bytes(b"x")
    err = unseen_on_worker(FileNotFoundError(2, "No such file or directory", str(here)))
    assert isinstance(err, ConfigError) and str(here) in err.message and err.hint == SHARED_FOLDER_HINT
    assert isinstance(unseen_on_worker(MediaError("image file not found", where=str(here))), ConfigError)
    assert unseen_on_worker(FileNotFoundError(2, "No such file or directory", str(gone))) is None
    assert unseen_on_worker(MediaError("cannot decode", where=str(here))) is None
    bad = MediaError("unreadable video, no backend can open it (pyav: moov atom not found)", where=str(here))
    assert unseen_on_worker(bad) is None  # a damaged file that is there
    assert unseen_on_worker(ValueError("x")) is None
