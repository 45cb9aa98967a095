"""Review decisions with their effect on the dataset: store one (``schemas.review``, one catalog
transaction), then apply what it changes in the dataset's files.

Only a tracklet pick changes files: the chosen tracklet becomes ``ground_truth`` of the
decision's product's tracklet file of the video (``tracklets/<video>.json``, or
``tracklets/<video>@<product>.json`` for a video several products list) and that product's
tracklet of the video in ``train.json``/``test.json``. The
catalog is written first, with what the file held before the pick (its ground truth and a
fingerprint of its tracklets); :func:`reconcile` (run when the review server starts) redoes the
file side of the latest pick (or undo of one) of each video when, and only when, the file still
holds what it held before it, so a process killed between the two loses nothing decided. A file
that holds something else was rewritten since (a CVAT import, a rebuild): the file wins, and
the pick is marked superseded (:func:`schemas.review.mark_superseded`) and never applied again;
so is an undo, which leaves such a file alone. A retried request (a ``request_id`` seen before)
changes no file. When files change, a published folder gets its tables, card, Croissant
metadata and manifest rewritten (:func:`movingfashion.archive.describe.refresh`, as
``mf-tracklets build`` does), so ``mf verify`` still holds. A pick killed between its writes and
that refresh leaves the refresh-pending mark (:mod:`annotations.refresh_mark`): :func:`reconcile`
then refreshes the whole folder, although the file already holds the pick.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from annotations.refresh_mark import BY_PICK, clear_pending, pending_by, refresh_if_pending, set_pending
from annotations.tracklet_files import (
    HELD_OUT_HINT,
    TRACKLET_DIR,
    check_split_writable,
    dataset_lock,
    dataset_shared_videos,
    load_split_heads_rows,
    read_video_tracklets,
    set_official_tracklet,
    tracklet_file,
    write_video_tracklets,
)
from movingfashion.archive.tables import BOXES_DIR
from schemas.atomic import sweep_partials
from schemas.catalog import Catalog
from schemas.dataset import VideoTracklets
from schemas.errors import DataFormatError
from schemas.redact import redacted_logger
from schemas.review import (
    Decision,
    ItemState,
    list_decisions,
    mark_superseded,
    record_decision,
    undo_decision,
)

log = redacted_logger("annotations.review")


def _tracklets_with(
    dataset: Path, video: str, index: int | None, *, required: bool, product_id: str | None = None
) -> VideoTracklets:
    """The video's tracklets (``product_id``'s file of it), checked to hold tracklet ``index``
    (``None`` passes unless ``required``)."""
    path = tracklet_file(dataset, video, product_id)
    vt = read_video_tracklets(path, video=video)  # a per-product file names its product
    if (index is None and required) or (index is not None and not 0 <= index < len(vt.tracklets)):
        raise DataFormatError(f"no tracklet {index} (the video has {len(vt.tracklets)})", where=str(path))
    return vt


def fingerprint(vt: VideoTracklets) -> str:
    """A hash of a video's tracklets (not of which one is the ground truth): a pick leaves it as
    it was, an import that moves boxes or a rebuild changes it."""
    data = json.dumps([t.model_dump(mode="json") for t in vt.tracklets], sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()[:20]


def _set_ground_truth(dataset: Path, video: str, index: int | None, product_id: str | None = None) -> bool:
    """Make tracklet ``index`` the ground truth of ``video`` (``product_id``'s) in both files;
    True when changed."""
    vt = _tracklets_with(dataset, video, index, required=False, product_id=product_id)
    changed = vt.ground_truth != index
    if changed:
        from annotations.sheets import redraw_sheet

        vt.ground_truth = index
        write_video_tracklets(dataset, vt)
        redraw_sheet(dataset, vt)  # its green boxes are the ground truth's
    return bool(set_official_tracklet(dataset, vt)) or changed


def _refresh(dataset: Path, videos: list[tuple[str, str | None]], current: bool = False) -> None:
    """Rewrite a published folder's derived files after the tracklets of ``videos`` ((video,
    product) pairs) changed (the manifest hashes those files and the split files again, not every
    video); ``current``: its box tables held the split files' rows before the change
    (:func:`movingfashion.archive.describe.tables_current`), so only those videos' rows are
    rewritten (a video named without its product: the tables whole)."""
    from annotations.sheets import sheet_path
    from movingfashion.archive.describe import refresh

    files = [f(dataset, v, p) for v, p in videos for f in (tracklet_file, sheet_path)]
    rows = [(p, v) for v, p in videos if p is not None]
    refresh(
        dataset,
        changed=[f.relative_to(dataset).as_posix() for f in files if f.is_file()],
        videos=rows if current and len(rows) == len(videos) else None,
    )


def _tables_current(root: Path, unfinished: bool) -> bool:
    """Whether the box tables hold the split files' rows (asked before a write): not after a
    killed run (``unfinished``), whose refresh rewrites them whole."""
    from movingfashion.archive.describe import tables_current

    return not unfinished and tables_current(root)


def _refreshed(root: Path, refresh: Callable[[], object]) -> bool:
    """Run ``refresh`` (a published folder's description written again); False, with a warning,
    when a split-file entry the readers hold out (a malformed number, a bad box: another
    product's) keeps the tables from reading the split file whole: the refresh-pending mark stays,
    so the first write or review start after the fix refreshes the folder (what ``mf-tracklets
    build`` does). Any other error is raised."""
    try:
        refresh()
    except DataFormatError as exc:
        if not load_split_heads_rows(root)[1]:
            raise
        log.warning("the folder's description is not refreshed: %s (%s)", exc.render(), HELD_OUT_HINT)
        return False
    return True


def _apply_pick(root: Path, video: str, index: int | None, product_id: str | None) -> bool:
    """:func:`_set_ground_truth` under the refresh-pending mark, then the refresh (of the whole
    folder when a killed run left the mark); True when a file changed. The caller holds the
    dataset's lock."""
    unfinished = bool(pending_by(root))
    current = _tables_current(root, unfinished)
    set_pending(root, BY_PICK)
    changed = _set_ground_truth(root, video, index, product_id)
    done = True
    if unfinished:
        done = _refreshed(root, lambda: refresh_if_pending(root))
    elif changed:
        done = _refreshed(root, lambda: _refresh(root, [(video, product_id)], current))
    if done:
        clear_pending(root, BY_PICK)
    return changed


def decide(
    dataset: str | os.PathLike[str],
    cat: Catalog,
    *,
    video: str,
    product_id: str,
    kind: str,
    reason: str | None = None,
    df2_class: int | None = None,
    tracklet: int | None = None,
    note: str | None = None,
    request_id: str | None = None,
    shop: str | None = None,
    expect: ItemState | None = None,
) -> tuple[Decision, bool]:
    """Store a decision on ``video`` (dataset-relative path) and apply it to the dataset.

    ``expect``: the item's catalog state the caller's check saw, compared inside the decision's
    transaction (:class:`~schemas.review.ItemChanged` when it moved: nothing stored, no file
    changed). Returns ``(decision, created)``; a repeated ``request_id`` returns the stored
    decision and changes no file (the decision may have been undone or superseded since).
    """
    root = Path(dataset)
    extra = None
    # a pick holds the dataset's lock from the read to the manifest (an import waits, and so
    # does a pick of another process)
    with dataset_lock(root) if kind == "tracklet" else contextlib.nullcontext():
        if kind == "tracklet":
            vt = _tracklets_with(root, video, tracklet, required=True, product_id=product_id)
            extra = {"ground_truth": vt.ground_truth, "tracklets": fingerprint(vt)}
            # its split-file entry must take the pick: one the readers hold out (a malformed
            # number in its source, a bad box) is refused, naming it, before anything is stored
            check_split_writable(root, [(product_id, video)])
        d, created = record_decision(
            cat,
            video=video,
            product_id=product_id,
            kind=kind,
            reason=reason,
            df2_class=df2_class,
            tracklet=tracklet,
            note=note,
            request_id=request_id,
            extra_prev=extra,
            shop=shop,
            expect=expect,
        )
        if created and d.kind == "tracklet":
            _apply_pick(root, d.video, d.tracklet, d.product_id)
    return d, created


def _holds(root: Path, d: Decision, before: int | None, after: int | None) -> str:
    """What the file of ``d.video`` holds against a move of its ground truth from ``before`` to
    ``after`` that pick ``d`` (or its undo) made: ``"after"`` (done), ``"before"`` (the write was
    lost) or ``"other"`` (rewritten since: its tracklets or its ground truth are not the pick's)."""
    path = tracklet_file(root, d.video, d.product_id)
    vt = read_video_tracklets(path, video=d.video)
    if "tracklets" in d.prev and fingerprint(vt) != d.prev["tracklets"]:
        return "other"
    if vt.ground_truth == after:
        return "after"
    return "before" if vt.ground_truth == before else "other"


def undo(
    dataset: str | os.PathLike[str],
    cat: Catalog,
    decision_id: int | None = None,
    *,
    video: str | None = None,
    product_id: str | None = None,
    request_id: str | None = None,
) -> tuple[Decision, bool]:
    """Undo a decision (see :func:`schemas.review.undo_decision`) and its effect on the files.

    The undo of a pick puts the ground truth it replaced back only while the file holds the
    pick; a file rewritten since (an import, a rebuild) is left as it is and the pick marked
    superseded. A repeated ``request_id`` changes no file.
    """
    root = Path(dataset)
    _check_undo_writable(root, cat, decision_id, video=video, product_id=product_id, request_id=request_id)
    d, created = undo_decision(cat, decision_id, video=video, product_id=product_id, request_id=request_id)
    if (
        not created
        or d.kind != "tracklet"
        or d.superseded
        or not tracklet_file(root, d.video, d.product_id).is_file()
    ):
        return d, created
    before = d.prev.get("ground_truth")
    with dataset_lock(root):  # compare and set: an import in between is seen, and wins
        if _holds(root, d, d.tracklet, before) == "other":
            found = read_video_tracklets(tracklet_file(root, d.video, d.product_id)).ground_truth
            d = mark_superseded(cat, d.id, found, "the file was rewritten after the pick; its undo left it")
            log.warning("%s: undo of pick %d left the file alone (rewritten since the pick)", d.video, d.id)
        else:
            _apply_pick(root, d.video, before, d.product_id)
    return d, created


def _check_undo_writable(
    root: Path,
    cat: Catalog,
    decision_id: int | None,
    *,
    video: str | None,
    product_id: str | None,
    request_id: str | None,
) -> None:
    """Refuse, before anything is stored, the undo of a pick whose split-file entry the readers
    hold out (:func:`~annotations.tracklet_files.check_split_writable`): its file side could not
    be written. The decision is the one :func:`~schemas.review.undo_decision` would take back (a
    retried ``request_id`` is left to it: it changes no file)."""
    if request_id is not None and cat.read(
        "SELECT 1 FROM review_decisions WHERE undo_request_id = ?", (request_id,)
    ):
        return
    if decision_id is not None:  # its video's decisions only (an indexed read)
        found = cat.read("SELECT video FROM review_decisions WHERE id = ?", (decision_id,))
        if not found:
            return  # undo_decision says there is no such decision
        video = found[0]["video"]
    live = list_decisions(cat, video=video)
    if decision_id is not None:
        target = next((d for d in live if d.id == decision_id), None)
    else:
        mine = [d for d in live if product_id is None or d.product_id == product_id]
        target = mine[-1] if mine else None
    if target is not None and target.kind == "tracklet" and not target.superseded:
        check_split_writable(root, [(target.product_id, target.video)])


@dataclass
class Reconciled:
    """What :func:`reconcile` did: videos whose files it brought in line with their picks, and
    picks it found superseded (``{"video", "decision", "tracklet", "found"}``)."""

    fixed: list[str] = field(default_factory=list)
    superseded: list[dict] = field(default_factory=list)


def reconcile_picks(dataset: str | os.PathLike[str], cat: Catalog) -> Reconciled:
    """Bring the tracklet files in line with the stored picks, where a write was lost.

    For each video the latest file-side step is its latest pick, or the latest undo of one
    (whichever came last). When the file holds what that step left, only the split file is
    checked; when it holds what was there before the step (the write was lost), the step is
    redone; when it holds anything else, or a later import of the video is stored, the file was
    rewritten since: it wins, and a pick is marked superseded (never applied again). A
    refresh-pending mark (a pick or an import killed before its refresh) makes it refresh the
    whole folder. The temporary files a killed pick left half-written (a tracklet file, a split
    file, its boxes, the mark) are removed first (:func:`schemas.atomic.sweep_partials`).
    """
    root = Path(dataset)
    out = Reconciled()
    sweep_partials(root, root / TRACKLET_DIR, root / BOXES_DIR)  # only those of gone processes
    unfinished = bool(pending_by(root))
    if not unfinished and not any(d.kind == "tracklet" for d in list_decisions(cat, include_undone=True)):
        return out  # nothing to check: no lock taken (a read-only folder stays servable)
    with dataset_lock(root):  # no import or pick in between the reads and the writes
        _reconcile(root, cat, out, unfinished=unfinished)
    return out


def _reconcile(root: Path, cat: Catalog, out: Reconciled, *, unfinished: bool = False) -> None:
    """:func:`reconcile_picks` with the dataset's lock held (``unfinished``: a killed run left the
    refresh-pending mark, so the whole folder is refreshed)."""
    # by (video, product): a video several products list has one tracklet file per product
    picks: dict[tuple[str, str], list[Decision]] = {}
    imports: dict[tuple[str, str], str] = {}  # -> when its latest import was stored
    for d in list_decisions(cat, include_undone=True):
        if d.kind == "tracklet":
            picks.setdefault((d.video, d.product_id), []).append(d)
        elif d.kind == "import":
            key = (d.video, d.product_id)
            imports[key] = max(imports.get(key, ""), d.at)
    fixed: list[tuple[str, str]] = []
    shared = dataset_shared_videos(root)
    current = _tables_current(root, unfinished)
    for (video, pid), ds in picks.items():
        path = tracklet_file(root, video, pid, shared=video in shared)
        if not path.is_file():
            continue
        steps = [(d.at, 0, d) for d in ds] + [(d.undone_at, 1, d) for d in ds if d.undone_at]
        at, is_undo, d = max(steps, key=lambda s: (s[0], s[1], s[2].id))
        if d.superseded:
            continue
        before, after = d.prev.get("ground_truth"), d.tracklet
        if is_undo:
            before, after = after, before
        imported = imports.get((video, pid), "") > at
        if imported or _holds(root, d, before, after) == "other":
            if not is_undo:
                found = read_video_tracklets(path).ground_truth
                why = "a later import" if imported else "the file was rewritten after the pick"
                mark_superseded(cat, d.id, found, why)
                out.superseded.append(dict(video=video, decision=d.id, tracklet=d.tracklet, found=found))
                log.warning(
                    "%s: pick %d superseded (%s); the file, holding %s, is kept", video, d.id, why, found
                )
            continue
        set_pending(root, BY_PICK)  # a kill from here to the refresh leaves it (no write when set)
        if _set_ground_truth(root, video, after, pid):
            out.fixed.append(video)
            fixed.append((video, pid))
    done = True
    if unfinished:
        done = _refreshed(root, lambda: refresh_if_pending(root))  # every file hashed again
    elif fixed:
        done = _refreshed(root, lambda: _refresh(root, fixed, current))
    if done:
        clear_pending(root, BY_PICK)


def reconcile(dataset: str | os.PathLike[str], cat: Catalog) -> list[str]:
    """:func:`reconcile_picks`; returns the videos fixed."""
    return reconcile_picks(dataset, cat).fixed
