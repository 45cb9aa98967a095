"""The entry points of ``mf publish``: :func:`publish` under the catalog's cleaning lock and the
folder's publish lock, from the checks and plan through the media, the split files and the
description to the closing verify."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from cleaning.clean_lock import cleaned
from cleaning.publish.accounting import item_accounting
from cleaning.publish.checks import check_cleaned, check_paths
from cleaning.publish.entries import _entry
from cleaning.publish.held import _write_held, failed_videos, held_videos
from cleaning.publish.held_report import _held_back_report, held_back_rows, withdrawn_products
from cleaning.publish.layout import DATASET_WRITERS
from cleaning.publish.merge_holds import hold_shop_conflicts, shop_holds, undo_shop_holds
from cleaning.publish.plan import _plan, _Planned, _publishable, _read_old_splits, publish_rule
from cleaning.publish.plots import write_plots
from cleaning.publish.products import _Group, _key, merged_members, product_groups
from cleaning.publish.release import (
    _changed,
    _description_stamps,
    _stale_archive,
    _verify_and_pack,
    _written_since,
    dataset_info,
    same_version,
)
from cleaning.publish.split_files import _write_official_splits
from cleaning.publish.sweep import (
    _remove_stale_media,
    _remove_tracklet_files,
    _stale_tracklet_videos,
    _tracklets_of,
    _unlisted_tracklets,
)
from cleaning.splits import test_seats_short, warn_short
from movingfashion.archive.at_rest import DATASET_LOCK, PUBLISH_LOCK, PUBLISH_MARK
from movingfashion.archive.describe import describe, read_manifest, source_date_epoch
from schemas.atomic import atomic_write_bytes, file_lock, sweep_partials, write_if_changed
from schemas.catalog import Catalog
from schemas.dataset import DatasetEntry, DatasetInfo, Split
from schemas.errors import MFError
from schemas.faults import reraise_local_fault
from schemas.paths import apart
from schemas.review import apply_review, move_legacy_review_log


def publish(
    catalog: Catalog,
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    seed: int | None = None,
    test_fraction: float | None = None,
    keep_going: bool = False,
    progress: Callable[[Iterable[_Group]], Iterable[_Group]] | None = None,
    info: DatasetInfo | None = None,
    archive: bool = False,
    workers: int | None = None,
    wait: bool = False,
    rebuild_state: bool = False,
) -> dict[str, Any]:
    """Write the dataset folder from the accepted items of the catalog, verify it; returns counts.

    ``progress`` wraps the loop over products (e.g. a progress bar).

    A product whose media cannot be published (a collected file missing, a crop that does not
    encode) raises :class:`MediaError`; with ``keep_going`` it is left out of this publish
    instead and listed in ``failed`` (product id and error), and the others are published.
    ``merged`` lists the accepted items published under another item's product id (they joined
    its product, :func:`merged_members`), so an item accepted in review under its own id is not
    renamed silently. ``held_back`` lists the items this run left out for review, as the catalog
    stood when it planned (:func:`_held_back_report`); ``changed_during_run`` the items a review
    decided on while it ran (the next publish applies those decisions); ``items``,
    ``duplicates`` and ``unaccounted`` account for every catalog item
    (:func:`~cleaning.publish.accounting.item_accounting`). ``info`` describes the
    dataset (Croissant metadata, card); None keeps the description ``out/manifest.json``
    recorded (the defaults when none), and one that differs from it is said on stderr with the
    fields it changes (:func:`dataset_info`). ``verify`` in the result is the
    audit of the written folder; ``archive`` zips the folder beside it when the audit is clean.
    ``seed`` and ``test_fraction`` (None: not set, 0 and 0.1) split new products only when the
    catalog recorded no rule (:func:`~cleaning.splits.recorded_rule`); once it recorded one,
    that rule places new products and publish never moves a split: only ``mf splits rebuild``
    changes the rule. ``split_rule`` in the result is the rule used, and ``split_rule_ignored``
    the one ``seed``/``test_fraction`` asked for when it differs from it (the CLI warns), else None.

    One publish of a folder at a time: it holds ``out/.publish.lock`` (:func:`publish_lock`)
    for the whole run; another publish running there refuses this one (:class:`~schemas.atomic.LockBusy`, exit
    2, naming its pid, command and start), or with ``wait`` this one waits for it.
    ``removed_tracklets`` lists the tracklet files removed: those of the videos this run removes
    or makes anew, and every other one about a video no split file lists and none held back
    (:func:`_unlisted_tracklets`). ``without_tracklets`` lists the published videos whose
    tracklet holds no box: not built yet (every video of a first publish, one accepted in review
    before its build), or whose file an earlier publish removed (a rejected video accepted again
    by an undo): ``mf-tracklets build`` builds them.

    ``rebuild_state`` is the way on from a state file (``.publish-state.json``) that is damaged
    or lost: it is not read, every media file is made again from its collected file (and so
    checked against the catalog again), the media files the folder's ``manifest.json`` lists
    count as publish's own (replaced or removed as a rerun would), and the state file is written
    anew (``state_rebuilt`` in the result). Tracklet files stay where the product's video paths
    are unchanged (the rule when a publish recorded nothing); a test product with several
    collected videos keeps the one :func:`schemas.official.pick_test_video` picks.

    Refused before anything is changed (:class:`MFError`, exit 2): ``out`` and ``root`` that
    overlap (one is the other or inside it, :func:`~schemas.paths.apart`), an unsafe id or asset path
    (:func:`check_paths`), an unreadable split or state file in ``out`` (the hint names
    ``--rebuild-state`` for the state file), media folders holding
    files publish did not write or leaving ``out`` (:func:`check_output`), a ``root`` that
    lacks most collected files (:func:`check_root`), one product id on two products
    (:func:`check_unique_ids`), a catalog nothing of which is cleaned yet (:func:`check_cleaned`),
    a malformed ``SOURCE_DATE_EPOCH`` (:func:`~movingfashion.archive.describe.source_date_epoch`).
    """
    apart(
        out,
        root,
        first_name="the dataset folder (--out)",
        second_name="the collection folder (--root)",
        hint="publish into a folder outside the collection folder, and keep the collection outside "
        "the dataset (the dataset lists every file of its folder; the collection is mf-collect's)",
    )
    with cleaned(catalog.path, wait=wait):  # never a catalog mf clean is halfway through
        return _checked_publish(
            catalog, root, out, seed=seed, test_fraction=test_fraction, keep_going=keep_going,
            progress=progress, info=info, archive=archive, workers=workers, wait=wait,
            rebuild_state=rebuild_state,
        )  # fmt: skip


def _checked_publish(
    catalog: Catalog,
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    seed: int | None,
    test_fraction: float | None,
    keep_going: bool,
    progress: Callable[[Iterable[_Group]], Iterable[_Group]] | None,
    info: DatasetInfo | None,
    archive: bool,
    workers: int | None,
    wait: bool,
    rebuild_state: bool = False,
) -> dict[str, Any]:
    """:func:`publish` under the catalog's cleaning lock."""
    root, out = Path(root), Path(out)
    source_date_epoch()  # a malformed one is refused before anything is written
    # every check and every read before anything is written (the catalog's splits included)
    not_cleaned = check_cleaned(catalog)
    check_paths(catalog, root, out)
    try:  # every refusal before the folder, or its lock file, is touched
        _plan(catalog, root, out, rebuild_state=rebuild_state)
    except MFError:
        if not (out / PUBLISH_LOCK).is_file():
            raise  # no publish ever ran here, none runs now
        # perhaps another publish's files in flight: decided again under the lock
    with publish_lock(out, wait=wait):  # one publish at a time; its reads of the folder under it
        holds = shop_holds(catalog)  # not merged silently: held back like any item in review
        plan = _plan(catalog, root, out, rebuild_state=rebuild_state)  # every refusal before the holds
        if holds.changes:
            done = hold_shop_conflicts(catalog, holds)
            try:
                plan = _plan(catalog, root, out, rebuild_state=rebuild_state)  # without the items held now
            except BaseException:  # refused after all (a release made two ids one), or a local
                # fault reading the folder: nothing is published, so nothing is held
                undo_shop_holds(catalog, holds, done)
                raise
        return _publish(
            catalog,
            root,
            out,
            plan,
            not_cleaned=not_cleaned,
            given={"seed": seed, "test_fraction": test_fraction},
            keep_going=keep_going,
            progress=progress,
            info=info,
            archive=archive,
            workers=workers,
        )


def publish_lock(out: Path, *, wait: bool = False) -> contextlib.AbstractContextManager[None]:
    """Hold ``OUT/.publish.lock`` (:data:`PUBLISH_LOCK`) for a whole publish: another publish of
    the folder stops at once with :class:`~schemas.atomic.LockBusy` (one line naming the lock
    file and its holder, exit 2), or with ``wait`` waits for it without limit, saying so once on
    stderr. The dataset's own lock (``.lock``) stays free for builds and review picks meanwhile."""
    return file_lock(
        out / PUBLISH_LOCK,
        timeout_s=math.inf if wait else 0,
        who="another mf publish writes this folder",
        hint="wait for it to finish, or rerun with --wait",
        warn_after_s=0,
    )


def _publish(
    catalog: Catalog,
    root: Path,
    out: Path,
    plan: _Planned,
    *,
    not_cleaned: int,
    given: dict[str, Any],
    keep_going: bool,
    progress: Callable[[Iterable[_Group]], Iterable[_Group]] | None,
    info: DatasetInfo | None,
    archive: bool,
    workers: int | None,
) -> dict[str, Any]:
    """:func:`publish` from ``plan``, with the publish lock held."""
    info = dataset_info(out, info)  # before anything is written: a malformed record is refused
    described_before = _description_stamps(out)
    manifest_before = read_manifest(out)
    pub, old_held, accepted, groups = plan.pub, plan.old_held, plan.accepted, plan.groups
    test_video_before = plan.test_video_before
    rule, ignored = publish_rule(catalog, **given)
    if any(r.split is None for r in accepted):
        rows = apply_review(catalog, _publishable(catalog, rule))
        groups = product_groups(catalog, rows, plan.published)
    else:
        rows = [r for g in groups for r in g.rows]
    out.mkdir(parents=True, exist_ok=True)
    # from here to the description the folder is half written: a kill leaves this mark, and
    # mf verify says to rerun publish instead of auditing (the rerun removes it once described)
    atomic_write_bytes(out / PUBLISH_MARK, f"{os.getpid()} mf publish\n".encode())
    sweep_partials(out, recursive=True)  # what a killed publish left half-written
    move_legacy_review_log(out)  # mf-tracklets review's log, hidden: never published
    entries: list[DatasetEntry] = []
    frames: list[int] = []
    failed: list[dict[str, str]] = []
    failed_groups: list[_Group] = []
    merged: list[dict[str, str]] = []
    published_items: set[str] = set()
    for g in progress(groups) if progress else groups:
        placed = set(pub.new_state)
        try:
            entry, n = _entry(catalog, pub, g, test_video_before.get(g.product_id))
        except (MFError, OSError) as exc:
            reraise_local_fault(exc)  # disk full etc. is not the product's fault: stop the run
            if not keep_going:
                raise
            for rel in set(pub.new_state) - placed:  # its media leave the dataset with it
                del pub.new_state[rel]
            failed.append({"product": g.product_id, "error": str(exc)})
            failed_groups.append(g)
            continue
        entries.append(entry)
        frames += n
        merged += merged_members(g)
        published_items.update(_key(r) for r in g.rows)
    stale = (pub.recorded | pub.written) - set(pub.new_state)
    # before the tracklet files are swept: an older toolkit's file of a video held back now is adopted
    held = held_videos(catalog, entries, {**old_held, **pub.state}, dataset=out, known=pub.recorded)
    # a product that failed in this run (a folder where its video goes, a damaged collected
    # file) keeps its tracklet files as a held-back one does: the fault is not a takedown
    held.update(failed_videos(failed_groups, _read_old_splits(out), pub.state, old_held))
    # the split files' other writers (mf-tracklets build / import, review picks) hold the
    # dataset's lock around each read-modify-write: read them again under it, so what they wrote
    # while the media were placed is kept, and none of them writes until the folder is described;
    # the media nothing lists any more go only once the split files no longer list them (a
    # loader or build starting meanwhile never meets a listed file that is gone)
    with file_lock(out / DATASET_LOCK, who=DATASET_WRITERS):
        gone = _remove_tracklet_files(
            out, _tracklets_of(out, _stale_tracklet_videos(stale, pub.state, pub.new_state, held, old_held))
        )
        _write_held(out, held)
        without_tracklets: list[str] = []
        old_splits = _read_old_splits(out)
        listed = _write_official_splits(
            out, entries, old_splits, pub.state, pub.new_state, old_held, without_tracklets
        )
        removed = _remove_stale_media(out, stale)
        # every other file of a video no split file lists and none held back (a build that ran
        # meanwhile wrote it again, an earlier publish missed it)
        gone += _remove_tracklet_files(out, _unlisted_tracklets(out, listed, held))
        removed += len(gone)
        # the ground truth lives in the split files: a row carries no copy (it read "tracklets": [])
        lines = "".join(e.model_dump_json(exclude_none=False, exclude={"tracklets"}) + "\n" for e in entries)
        write_if_changed(out / "entries.jsonl", lines.encode())
        (out / "plots").mkdir(exist_ok=True)
        plots_written = write_plots(out / "plots", entries, frames)
        pub.save_state()
        described = describe(
            out,
            info,
            data_date=max((r.updated_at for r in rows), default=None),
            changed=_changed(out, pub) | plots_written,
        )
        (out / PUBLISH_MARK).unlink(missing_ok=True)
    report, packed = _verify_and_pack(out, workers=workers, archive=archive)
    stale = None if archive else _stale_archive(out)
    n_test = sum(e.split == Split.TEST for e in entries)
    held_now = held_back_rows(catalog)  # read once: what withdrew products, what changed meanwhile
    short = (
        {}
        if rule.get("mode") == "hash"
        else test_seats_short(((str(e.partition), str(e.split)) for e in entries), rule["test_fraction"])
    )
    warn_short(short)
    res: dict[str, Any] = {
        "test_seats_short": short,
        "out": str(out),
        "products": len(entries),
        "train": len(entries) - n_test,
        "test": n_test,
        "videos": sum(len(e.video_paths) for e in entries),
        "multi_video_products": sum(len(e.video_paths) > 1 for e in entries),
        "test_videos_left_out": sum(e.metadata.get("test_videos_left_out", 0) for e in entries),
        "files": described["files"],
        "date_published": described["date_published"],
        "written": pub.copied,
        "unchanged": pub.skipped,
        "state_rebuilt": pub.rebuild_state,
        "metadata_written": _written_since(out, described_before),
        "removed": removed,
        "removed_tracklets": gone,
        "withdrawn": withdrawn_products(old_splits, entries, held_now, merged, failed),
        "without_tracklets": sorted(without_tracklets),
        "failed": failed,
        "merged": sorted(merged, key=lambda m: m["item"]),
        "not_cleaned": not_cleaned,
        "split_rule": rule,
        "split_rule_ignored": ignored,
        **_held_back_report(held_now, plan.held, published_items),
        "verify": {
            "ok": report.ok,
            "breaks": [b.describe() for b in report.breaks],
            "decoded_before": report.reused,
        },
        "archive": {"path": str(packed[0]), "sha256": packed[1], "written": packed[2]} if packed else None,
        "stale_archive": str(stale) if stale else None,
        "same_version": same_version(manifest_before, read_manifest(out)),
    }
    # every catalog item's fate: published, held back, a duplicate of a kept item, failed, ...
    failed_items = {_key(r) for g in failed_groups for r in g.rows}
    res.update(item_accounting(catalog, published_items, res["held_back"], failed_items))
    return res
