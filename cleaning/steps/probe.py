"""Step ``probe``: check every collected video and image (decodes, long and large enough).

Each asset gets its SHA-256, probe and accepted/rejected status (reason ``probe: ...``); an
item without a valid video is rejected. Accepted videos enter ``state.videos`` for the next
steps. Probes are cached by SHA-256; an asset whose path leads outside the collection root
makes its item fail (listed, not recorded).

Every rerun looks at the files again, cheaply: each is stat'ed, and its SHA-256 is computed again
only when its size or modification time differs from what the last run saw (kept in the result
cache under ``file:<path>``, which a change of thresholds keeps; a file with no such record,
at its first clean or after the cache file was deleted, is hashed).
A file deleted or moved since it was collected makes its item fail (listed, exit 1, tried again by
the next ``mf clean``; nothing about its content is decided): ``mf-collect`` fetches a missing file
again. One overwritten is probed under its new SHA-256 (so garbage is rejected ``corrupt``), and
the steps after this one use the fresh SHA-256. An item rejected for a damaged video (corrupt or
truncated) has the file named in its reason and in the report (``damaged_videos``), with what to
do: ``mf-collect --retry-rejected`` downloads it again; so has an item whose collected shop image
does not decode (a truncated JPEG, say) and that has no other valid one (``damaged_shop_images``).
"""

from __future__ import annotations

import errno
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cleaning.config import ProbeConfig
from cleaning.probe import probe_image, probe_video
from cleaning.steps.base import Step, StepContext, StepReport
from cleaning.steps.cache import FILE_PREFIX
from cleaning.steps.state import IMAGE_KINDS, CleaningState, ItemState, VideoState
from movingfashion.executors import Outcome, describe, unseen_on_worker
from schemas.atomic import sha256_file
from schemas.errors import MFError
from schemas.items import (
    DAMAGED_SHOP,
    DAMAGED_VIDEO_PREFIXES,
    AssetKind,
    ImageProbe,
    MediaAsset,
    Status,
    VideoProbe,
)

#: why an item whose collected file is gone fails (the collector fetches it again)
MISSING = (
    "the collected file is missing (deleted or moved since): run mf-collect again to fetch it, then mf clean"
)
#: what to do about an item rejected for a damaged video (named in its reason and the report)
REDOWNLOAD = "mf-collect --retry-rejected downloads it again, then mf clean checks it"


@dataclass(frozen=True)
class ProbeTask:
    path: Path
    video: bool
    cfg: ProbeConfig


def probe_file(task: ProbeTask) -> dict[str, Any]:
    """The cached form of a probe: ``{"ok", "reason", "probe"}``."""
    pr = probe_video(task.path, task.cfg) if task.video else probe_image(task.path, task.cfg)
    return {"ok": pr.ok, "reason": pr.reason, "probe": pr.probe.model_dump() if pr.probe else None}


def probe_entry_ok(entry: Any, video: bool) -> bool:
    """True when a cached probe has the shape :func:`probe_file` gives (a damaged one is a miss)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("ok"), bool):
        return False
    if not entry["ok"] and not isinstance(entry.get("reason"), str):
        return False
    probe = entry.get("probe")
    if probe is None:
        return not entry["ok"]
    if video and "pix_fmt" not in probe:  # probed before pixel formats were recorded: probe again
        return False
    try:
        (VideoProbe if video else ImageProbe).model_validate(probe)
    except (ValidationError, TypeError):
        return False
    return True


def hash_file(path: Path) -> str | None:
    """SHA-256 of a file; None when there is no file (the probe says it is missing)."""
    return sha256_file(path) if path.is_file() else None


@dataclass
class _Job:
    """One asset to probe."""

    item: ItemState
    asset: MediaAsset
    path: Path
    sha: str | None
    #: (size, mtime_ns) of the file now; None when there is no file
    stat: tuple[int, int] | None = None

    @property
    def task_key(self) -> str:
        return self.sha or f"path:{self.path}"


class ProbeStep(Step):
    name = "probe"

    def run(self, state: CleaningState, ctx: StepContext) -> StepReport:
        jobs = self._jobs(state, ctx)
        results = self._probe(jobs, state, ctx)
        rejects: Counter[str] = Counter()
        damaged: list[str] = []
        damaged_shops: list[str] = []
        for it in state.live():
            it.assets = [_checked(j, results[j.task_key], rejects) for j in jobs[it.key]]
            good = [a for a in it.assets if a.kind == AssetKind.VIDEO and a.status == Status.ACCEPTED]
            if not good:
                reason, path = _no_video(it.assets)
                if path is not None:
                    damaged.append(path)
                it.decide(Status.REJECTED, reason)
                continue
            shop = _damaged_shop(it.assets)
            if shop is not None:
                damaged_shops.append(shop[1])
                it.decide(Status.REJECTED, shop[0])
                continue
            for a in good:
                state.videos[a.path] = VideoState(a, it.key)
        counts: dict[str, Any] = {"probe_rejected": dict(rejects)}
        if damaged:
            counts["damaged_videos"] = {"files": sorted(damaged), "fix": REDOWNLOAD}
        if damaged_shops:
            counts["damaged_shop_images"] = {"files": sorted(damaged_shops), "fix": REDOWNLOAD}
        return StepReport(counts)

    def _jobs(self, state: CleaningState, ctx: StepContext) -> dict[str, list[_Job]]:
        """The media assets of every item with their SHA-256 (files hashed when it is unknown)."""
        jobs: dict[str, list[_Job]] = {}
        for it in state.live():
            try:
                jobs[it.key] = [
                    _Job(it, a, ctx.path(a.path), a.sha256)
                    for a in it.collected
                    if a.path and (a.kind == AssetKind.VIDEO or a.kind in IMAGE_KINDS)
                ]
            except MFError as exc:
                state.fail(it.key, self.name, describe(exc))
        unhashed = [j for mine in jobs.values() for j in mine if not _still_hashed(j, ctx)]
        for j in (j for mine in jobs.values() for j in mine if j.stat is None):
            if state.items[j.item.key].failure is None:  # local state, not the content's fault
                state.fail(j.item.key, self.name, f"{j.asset.path}: {MISSING}")
        outcomes = ctx.map(hash_file, [j.path for j in unhashed], desc="sha256", unit="file")
        for j, out in zip(unhashed, outcomes, strict=True):
            unseen = _unseen(j.path, out, ctx) if out.ok and out.value is None else None
            if unseen is not None:
                # this process sees the file and the worker does not: the executor's workers do not
                # share the folder (a cluster), which is no fault of the item's content
                state.fail(j.item.key, self.name, f"{j.asset.path}: {unseen}")
            elif out.ok:
                j.sha = out.value
                if j.sha is not None and j.stat is not None:
                    ctx.cache.put(_file_key(j), "stat", [*j.stat, j.sha])
            else:
                state.fail(j.item.key, self.name, f"{j.asset.path}: {out.error}")
        return {k: mine for k, mine in jobs.items() if state.items[k].failure is None}

    def _probe(
        self, jobs: dict[str, list[_Job]], state: CleaningState, ctx: StepContext
    ) -> dict[str, dict[str, Any]]:
        """Probe result per task key: from the cache, else probed (once per SHA-256) and cached."""
        results: dict[str, dict[str, Any]] = {}
        todo: dict[str, list[_Job]] = {}
        for j in (j for mine in jobs.values() for j in mine):
            cached = ctx.cache.get(j.sha, "probe")
            if probe_entry_ok(cached, j.asset.kind == AssetKind.VIDEO):
                results[j.task_key] = cached
            else:
                todo.setdefault(j.task_key, []).append(j)
        tasks = [
            ProbeTask(js[0].path, js[0].asset.kind == AssetKind.VIDEO, ctx.cfg.probe) for js in todo.values()
        ]
        shas = [js[0].sha for js in todo.values()]

        def record(i: int, out: Outcome[dict[str, Any]]) -> None:
            if out.ok and not _missing(out.value):  # a file a worker could not see says nothing of it
                ctx.cache.put(shas[i], "probe", out.value)

        outcomes = ctx.map(probe_file, tasks, desc="probe", unit="file", record=record)
        for (task_key, js), out in zip(todo.items(), outcomes, strict=True):
            unseen = _unseen(js[0].path, out, ctx) if out.ok and _missing(out.value) else None
            if unseen is not None:
                for j in js:
                    state.fail(j.item.key, self.name, f"{j.asset.path}: {unseen}")
            elif out.ok:
                results[task_key] = out.value
            else:
                for j in js:
                    state.fail(j.item.key, self.name, f"{j.asset.path}: {out.error}")
        return results


def _missing(entry: dict[str, Any]) -> bool:
    """Whether a probe found no file (here, a file this process has: a worker that cannot see it)."""
    return not entry["ok"] and str(entry.get("reason") or "").startswith("missing:")


def _unseen(path: Path, out: Outcome[Any], ctx: StepContext) -> str | None:
    """Why an item fails when the worker that ran ``out`` found no file at ``path`` and this
    process has it (the executor's workers do not share the folder), naming the worker's node
    as the other stages do (:func:`~movingfashion.executors.unseen_on_worker`); None when the
    file is not here either."""
    gone = FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
    err = unseen_on_worker(gone, ctx.executor.node_name(out.node))
    return None if err is None else f"{err.message} ({err.hint})"


def _file_key(job: _Job) -> str:
    return f"{FILE_PREFIX}{job.asset.path}"


def _still_hashed(job: _Job, ctx: StepContext) -> bool:
    """Stat the job's file: True when the catalog's SHA-256 still holds (same size and mtime as
    the last run saw with that SHA-256), so nothing is read; False when it is to be hashed again
    (``job.sha`` reset; None for a missing file). With no record of the file (its first clean, or
    a cache file deleted) it is hashed: a size match alone let a same-size replacement keep the
    old SHA-256, and every result of its new bytes was then cached under the old one."""
    try:
        st = job.path.stat()
    except OSError:
        st = None
    if st is None or not job.path.is_file():
        job.sha, job.stat = None, None
        return True  # no file: probed as missing
    job.stat = (st.st_size, st.st_mtime_ns)
    if job.sha is None:
        return False
    seen = ctx.cache.get(_file_key(job), "stat")
    ok = isinstance(seen, list) and seen == [*job.stat, job.sha]
    if not ok:
        job.sha = None
    return ok


def _checked(job: _Job, res: dict[str, Any], rejects: Counter[str]) -> MediaAsset:
    """The asset with its SHA-256, probe and status (counting rejections by kind of reason)."""
    a = job.asset
    model = VideoProbe if a.kind == AssetKind.VIDEO else ImageProbe
    if not res["ok"]:
        rejects[res["reason"].split(":")[0]] += 1
    return a.model_copy(
        update={
            "sha256": job.sha,
            "size": job.stat[0] if job.stat is not None else a.size,
            "probe": model.model_validate(res["probe"]) if res["probe"] else None,
            "crop": None,
            "duplicate_of": None,
            "status": Status.ACCEPTED if res["ok"] else Status.REJECTED,
            "reason": None if res["ok"] else f"probe: {res['reason']}",
        }
    )


def _no_video(assets: list[MediaAsset]) -> tuple[str, str | None]:
    """The reason of an item with no valid video: the first rejected asset's when it is a video,
    else 'no video file'; a damaged video (``DAMAGED_VIDEO_PREFIXES``) is named with what to do,
    and its path is returned too (else None)."""
    first = next((a for a in assets if a.status == Status.REJECTED), None)
    if first is None or first.kind != AssetKind.VIDEO or not first.reason:
        return "probe: no valid video (no video file)", None
    reason = f"probe: no valid video ({first.reason.removeprefix('probe: ')})"
    if not reason.startswith(DAMAGED_VIDEO_PREFIXES) or not first.path:
        return reason, None
    return f"{reason}: {first.path}; {REDOWNLOAD}", first.path


def _damaged_shop(assets: list[MediaAsset]) -> tuple[str, str] | None:
    """(reason, path) for an item whose collected shop image does not decode (a truncated or
    corrupt file) and that has no other valid one: rejected as a damaged video is
    (``DAMAGED_SHOP_PREFIXES``, named with what to do: ``mf-collect --retry-rejected`` downloads it
    again). None when a shop image passed, or none was damaged (too small, say: the later steps
    decide)."""
    shops = [a for a in assets if a.kind == AssetKind.SHOP]
    if any(a.status == Status.ACCEPTED for a in shops):
        return None
    bad = next((a for a in shops if a.path and (a.reason or "").startswith("probe: corrupt")), None)
    if bad is None:
        return None
    reason = f"{DAMAGED_SHOP} ({(bad.reason or '').removeprefix('probe: ')}): {bad.path}; {REDOWNLOAD}"
    return reason, bad.path
