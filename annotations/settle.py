"""The end of a tracklet build: every video's review flag decided over the whole dataset.

While it builds, the builder flags each video from its own signals (a rule's absolute
threshold). Some rules are relative to the dataset too (``FlagRule.max_share``: flag at most
about that share of the videos by this signal), so once the run's videos are done, every video of
the dataset that has a tracklet file is decided again from its stored signals under the rules
resolved over all of them (:meth:`annotations.config.ReviewConfig.for_dataset`). The same pass
re-decides videos a rerun skipped (new rules, or thresholds that moved with the videos added).

Files change only where the flag or its reason changes (atomic writes; a contact sheet that
exists is redrawn). The catalog follows: a video of this run that ends flagged, or a done one
newly flagged, marks the item that owns it needs_review (a video another item brought into the
product is that item's, named as its own video: :func:`annotations.review.marks.video_owner`; a
record an older builder made on the product's item is moved to it); an item none of whose videos
is flagged any more goes back to accepted when the item is needs_review by this stage only
(:func:`annotations.review.marks.withdraw_needs_review`), and a video of this run no longer
flagged leaves the item's record of flagged videos (the item stays held by the others: its
reason names each flagged video, and only accepts of all of them release it, ``schemas.review``). A run killed before this pass is
settled by the next one (the builder passes the videos of an unfinished run as ``fresh``).

Two kinds of file are left as they are, and out of the population the relative rules are
resolved over: a file whose stored signals lack one the flag cannot be decided without
(:data:`annotations.config.REQUIRED_SIGNALS`; a warning names it: the build of its video redoes
it), and a file whose ground truth a person changed since the build (a review pick, a CVAT
import: its signals describe the tracklet the builder chose, not this one; the person decided)
or that a build kept from the split file (the real archive's own ground truth: flagged when
kept, by the detector's agreement with it; counted apart, ``split_truth``).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pydantic_core

from annotations.config import ReviewConfig, lacks_required
from annotations.tracklet_files import (
    TRACKLET_DIR,
    file_owner_problem,
    ground_truth_digest,
    read_build_record,
    read_video_tracklets,
    tracklet_digest,
    write_video_tracklets,
)
from schemas.dataset import Tracklet, TrackletFileFlags, VideoTracklets
from schemas.errors import MFError
from schemas.redact import redacted_logger
from schemas.video_items import video_items

log = redacted_logger(__name__)

_UNSET = object()


@dataclass
class Settled:
    """What the pass decided: the flagged videos (index into the jobs, reason) and the changes."""

    flagged: list[tuple[int, str]] = field(default_factory=list)
    changed: int = 0  #: tracklet files whose flag or reason changed
    marked: int = 0  #: catalog items marked needs_review
    withdrawn: int = 0  #: catalog items put back to accepted (or held by fewer flagged videos)
    #: the relative rules' thresholds resolved over the dataset ("det_mean <" -> value)
    thresholds: dict[str, float] = field(default_factory=dict)
    #: per rule signal, the tracklet files whose stored signals lack it (written by an older
    #: toolkit: that rule cannot flag them until they are built again, ``--force``)
    missing: dict[str, int] = field(default_factory=dict)
    #: the files the pass rewrote (tracklet files, contact sheets redrawn)
    written: list[Path] = field(default_factory=list)
    #: stems of the files whose ground truth a person changed since the build (left as they are)
    decided_by_person: list[str] = field(default_factory=list)
    #: stems of the files whose ground truth is the split file's own, kept by a build (left as
    #: they are: their flag is the detector's agreement with it, decided when it was kept)
    split_truth: list[str] = field(default_factory=list)


class _Flagged(Protocol):
    """A tracklet file's flag and what it is decided on (a :class:`VideoTracklets` or a
    :class:`StoredFlag`)."""

    ground_truth: int | None
    needs_review: bool
    review_reason: str | None
    signals: dict[str, float]


@dataclass(frozen=True, slots=True)
class StoredFlag:
    """What the pass keeps of one tracklet file: its flag, signals and owner (a few hundred bytes;
    never its tracklets, so 15K files fit in tens of MB)."""

    product_id: str
    video: str
    ground_truth: int | None
    needs_review: bool
    review_reason: str | None
    signals: dict[str, float]
    #: its signals are those of its current ground truth (:func:`signals_describe_ground_truth`)
    describes: bool
    #: its ground truth is the split file's own, kept beside the detector's tracklets by a build
    #: (``mode="ground-truth"``: :func:`annotations.builder.with_split_ground_truth` flagged it)
    archive_truth: bool = False


def new_flag(f: _Flagged, review: ReviewConfig) -> tuple[bool, str | None] | None:
    """``f``'s flag and reason decided again from its stored signals under ``review``; None when
    nothing changes or it has no signals to decide on (none, or not every one of
    :data:`annotations.config.REQUIRED_SIGNALS`)."""
    if not f.signals or f.ground_truth is None or lacks_required(f.signals):
        return None
    reason = review.reason(f.signals)
    if reason == f.review_reason and f.needs_review == (reason is not None):
        return None
    return reason is not None, reason


def decide(vt: VideoTracklets, review: ReviewConfig) -> VideoTracklets | None:
    """The video with its flag decided again (:func:`new_flag`); None when nothing changes."""
    flag = new_flag(vt, review)
    if flag is None:
        return None
    return vt.model_copy(update={"needs_review": flag[0], "review_reason": flag[1]})


def signals_describe_ground_truth(vt: VideoTracklets, record: dict | None) -> bool:
    """Whether ``vt``'s stored signals are those of its current ground truth: its build record
    holds the digest of the ground truth the builder chose (:func:`ground_truth_digest`; a review
    pick or an import changes it); a file without one (an older build) is judged by the count of
    detections (``signals.members``) where its tracklet has detector scores."""
    if record and "ground_truth" in record:
        return record["ground_truth"] == ground_truth_digest(vt)
    gt = vt.ground_truth_tracklet()
    return gt is None or not gt.scores or _members_match(vt.signals.get("members"), len(gt.scores))


def _members_match(members: float | None, n: int) -> bool:
    """Whether the stored ``signals.members`` counts ``n`` detections (none stored: nothing to
    compare; NaN or Infinity, which no build writes: no)."""
    return members is None or (math.isfinite(members) and int(members) == n)


def _raw_describes(gt: Any, signals: dict[str, float], record: dict | None) -> bool:
    """:func:`signals_describe_ground_truth` of a file read light (``gt``: its ground-truth
    tracklet as parsed JSON). A tracklet whose dump is the digest the builder recorded is the one
    it validated and wrote; any other is validated as the full read does (a :class:`ValueError`
    when it does not read)."""
    recorded = record.get("ground_truth", _UNSET) if record else _UNSET
    if recorded is not _UNSET and recorded == tracklet_digest(gt):
        return True
    checked = Tracklet.model_validate(gt)
    if recorded is not _UNSET:
        return recorded == ground_truth_digest(
            VideoTracklets.model_construct(tracklets=[checked], ground_truth=0)
        )
    return not checked.scores or _members_match(signals.get("members"), len(checked.scores))


def _decidable(f: _Flagged) -> bool:
    """Whether the pass decides ``f``'s flag from its signals (a ground truth and every required signal)."""
    return f.ground_truth is not None and bool(f.signals) and not lacks_required(f.signals)


def _owner_problem(name: str, view: TrackletFileFlags) -> bool:
    """Whether the full read refuses the file as another video's (or product's)."""
    return file_owner_problem(name, view) is not None or any(t.video != view.video for t in view.tracklets)


#: What reading a file light raises when the file may not read (a JSON number past a float's
#: range, deep nesting, a malformed tracklet list): the full read then words the problem.
_LIGHT_ERRORS = (OSError, ValueError, ArithmeticError, LookupError, TypeError, RecursionError)


def _read_light(p: Path) -> StoredFlag:
    """:func:`read_stored_flag` without the full read (one of :data:`_LIGHT_ERRORS` when the
    file may not read)."""
    data = pydantic_core.from_json(p.read_bytes())
    view = TrackletFileFlags.model_validate(data)
    if _owner_problem(p.name, view):
        raise ValueError(f"{p}: not its video's file")
    describes = True
    archive_truth = False
    if view.ground_truth is not None:
        gt = data["tracklets"][view.ground_truth]
        archive_truth = isinstance(gt, dict) and gt.get("mode") == "ground-truth"
        if _decidable(view):
            describes = _raw_describes(gt, view.signals, read_build_record(p))
        else:
            Tracklet.model_validate(gt)  # checked as the full read checks it
    return StoredFlag(
        view.product_id,
        view.video,
        view.ground_truth,
        view.needs_review,
        view.review_reason,
        view.signals,
        describes,
        archive_truth,
    )


def read_stored_flag(p: Path) -> StoredFlag:
    """What the pass needs of the tracklet file ``p`` (:class:`StoredFlag`), read light: its
    fields as :func:`read_video_tracklets` checks them, the ground-truth tracklet included, but
    of the other tracklets only their video. A file that does not read that way is read in full,
    which words the problem (:class:`MFError`)."""
    try:
        return _read_light(p)
    except _LIGHT_ERRORS:
        vt = read_video_tracklets(p)
    describes = not _decidable(vt) or signals_describe_ground_truth(vt, read_build_record(p))
    gt = vt.ground_truth_tracklet()
    return StoredFlag(
        vt.product_id,
        vt.video,
        vt.ground_truth,
        vt.needs_review,
        vt.review_reason,
        vt.signals,
        describes,
        gt is not None and gt.mode == "ground-truth",
    )


def dataset_flags(root: Path) -> dict[str, StoredFlag]:
    """Every tracklet file of the dataset by file stem (``<video stem>``, or ``<video
    stem>@<product>`` for a video several products list), read one at a time
    (:func:`read_stored_flag`): those of its splits' videos and those ``mf publish`` left for
    products it holds back (they stay part of the population the relative rules are resolved
    over, so a rebuild after a publish does not ratchet the threshold up). A file that cannot be
    read is left out with a warning (the build of its video, if it still has one, reads it again
    and redoes it)."""
    out: dict[str, StoredFlag] = {}
    for p in sorted((root / TRACKLET_DIR).glob("*.json")):
        try:
            out[p.stem] = read_stored_flag(p)
        except MFError as exc:
            log.warning("review flags: %s left out (%s)", p, exc)
    return out


def _read_again(root: Path, stem: str) -> VideoTracklets | None:
    """The tracklet file ``stem`` read in full, to be rewritten (None when it does not read: left
    out with a warning, as :func:`dataset_flags` leaves out a file that does not read)."""
    p = root / TRACKLET_DIR / f"{stem}.json"
    try:
        return read_video_tracklets(p)
    except MFError as exc:
        log.warning("review flags: %s left out (%s)", p, exc)
        return None


def settle_flags(
    root: Path,
    jobs: Sequence[Any],
    review: ReviewConfig,
    *,
    fresh: set[int],
    cat: Any = None,
    redraw_sheets: bool = False,
    held: Collection[str] = (),
) -> Settled:
    """Decide the flag of every job's video (``jobs[i].video_path``/``.product_id``/``.stem``, and
    ``.key``, the stem of its tracklet file, when it has one; ``.shared``)
    under ``review`` resolved over the stored signals of every tracklet file of the dataset
    (:func:`dataset_flags`); ``fresh``: indices of the jobs built in this run (their catalog
    marks are still to be made); ``held``: stems of files whose flag the caller decided (a
    person's corrections on a video that changed since), left as they are. Only the files whose
    flag changes are read in full again (and rewritten)."""
    stored = dataset_flags(root)
    keep: set[str] = set(held)  # files left as they are (see the module docstring)
    person: list[str] = []
    archive: list[str] = []
    for stem, f in stored.items():
        if f.ground_truth is None or not f.signals:
            continue
        lacks = lacks_required(f.signals)
        if lacks:
            log.warning(
                "review flags: %s left out: its signals lack %s (rebuild its video with mf-tracklets build"
                " --force, or delete the file when no product lists the video)",
                root / TRACKLET_DIR / f"{stem}.json",
                ", ".join(lacks),
            )
            keep.add(stem)
        elif not f.describes:
            keep.add(stem)
            (archive if f.archive_truth else person).append(stem)
    resolved = review.for_dataset(
        f.signals for stem, f in stored.items() if f.ground_truth is not None and stem not in keep
    )
    out = Settled(
        thresholds={
            f"{r.signal} {'<' if r.op == 'lt' else '>'}": n.threshold
            for r, n in zip(review.rules, resolved.rules, strict=True)
            if r.max_share
        }
    )
    out.missing = review.missing_signals(f.signals for f in stored.values() if f.ground_truth is not None)
    out.decided_by_person = person
    out.split_truth = archive
    # each file, decided: (needs_review, reason) of those whose flag changes
    changes = {
        stem: flag for stem, f in stored.items() if stem not in keep and (flag := new_flag(f, resolved))
    }
    owners = _Owners(root, cat)
    # items with a flagged video anywhere in the dataset (other shards' videos too)
    flagged_products = {
        owners.of(f.product_id, _video_index(f.video, f.product_id), stem)[0]
        for stem, f in stored.items()
        if (changes[stem][0] if stem in changes else f.needs_review)
    }
    withdraw: dict[str, list[str]] = {}  # item -> its videos of this run no longer flagged
    for i, job in enumerate(jobs):
        key = getattr(job, "key", job.stem)
        shared = getattr(job, "shared", False)
        f = stored.get(key)
        if f is None or f.video != job.video_path:  # failed, or never built
            continue
        was, flag, reason = f.needs_review, f.needs_review, f.review_reason
        vt: VideoTracklets | None = None  # the file read in full, when it was
        if key in changes:
            vt = _read_again(root, key)
            if vt is None:
                continue
            if (decided := decide(vt, resolved)) is not None:
                vt = decided
                _write(root, vt, shared, redraw_sheets, out)
            flag, reason = vt.needs_review, vt.review_reason
        # the item that owns the video and the video's stem as that item's (a video another
        # item brought into the product is that item's: its flag holds that item back)
        owner, stem = owners.of(job.product_id, None if shared else getattr(job, "index", None), job.stem)
        if flag:
            out.flagged.append((i, reason or ""))
            # an older builder recorded it on the product's item: moved to its owner (marked
            # before that record is withdrawn, so the video is never unheld between the two)
            moved = owner != job.product_id and _recorded(cat, job.product_id, job.stem)
            if owner != job.product_id:
                withdraw.setdefault(job.product_id, []).append(job.stem)
            if cat is not None and (i in fresh or not was or moved):
                from annotations.review.marks import mark_needs_review

                build = _identity(root, key, vt)
                named = f"{stem}: {reason}"
                mark_needs_review(cat, owner, named, build, video=f"{job.stem} of {job.product_id}")
                out.marked += 1
        else:
            withdraw.setdefault(owner, []).append(stem)
    if cat is not None:
        from annotations.review.marks import withdraw_needs_review

        for pid, stems in withdraw.items():
            # none of its videos flagged: every flag of the product goes, and the item with it;
            # else only these videos' (a product still flagged is not released)
            done = pid not in flagged_products
            why = f"{', '.join(stems)} no longer flagged ({review_note(out)})"
            out.withdrawn += withdraw_needs_review(cat, pid, why, stems=None if done else stems, release=done)
    return out


class _Owners:
    """The owning item of each video (:func:`annotations.review.marks.video_owner`), with the
    dataset's ``metadata.video_items`` read once; without a catalog every video is its product's."""

    def __init__(self, root: Path, cat: Any) -> None:
        self.cat = cat
        self.items = video_items(root) if cat is not None else {}

    def of(self, product_id: str, index: int | None, stem: str) -> tuple[str, str]:
        """(product id of the item owning the video, its stem as that item's)."""
        items = self.items.get(product_id)
        if self.cat is None or index is None or not items or len(set(items)) == 1:
            return product_id, stem  # one item's product: its videos are that item's (no lookup)
        from annotations.review.marks import video_owner

        return video_owner(self.cat, self.items, product_id, index, stem)


def _recorded(cat: Any, product_id: str, stem: str) -> bool:
    """Whether the catalog's record of the product's item's flagged videos names ``stem``."""
    from annotations.review.marks import flagged_stems

    return cat is not None and stem in flagged_stems(cat, product_id)


def _video_index(video: str, product_id: str) -> int | None:
    """``n`` of a video ``videos/<product>_<n>.mp4`` of ``product_id`` (None: another name)."""
    n = Path(video).stem.removeprefix(f"{product_id}_")
    return int(n) if n.isdigit() and n != Path(video).stem else None


def _identity(root: Path, stem: str, vt: VideoTracklets | None) -> str | None:
    """The identity of the tracklet a flag is about (the digest of the ground truth of the file
    ``stem``, ``vt`` when it was read already: :func:`ground_truth_digest`), recorded with the
    catalog's flag so that an accept of an older tracklet of the video does not lift it; None
    when the file does not read (the flag's reason alone counts then)."""
    if vt is None:
        vt = _read_again(root, stem)
    return None if vt is None else ground_truth_digest(vt)


def _write(root: Path, vt: VideoTracklets, shared: bool, redraw_sheets: bool, out: Settled) -> None:
    """Write ``vt``'s tracklet file (and redraw its contact sheet where one exists), noted in ``out``."""
    out.written.append(write_video_tracklets(root, vt, shared=shared))
    out.changed += 1
    if redraw_sheets:
        from annotations.sheets import redraw_sheet

        sheet = redraw_sheet(root, vt, shared=shared)
        if sheet is not None:
            out.written.append(sheet)


def review_note(settled: Settled) -> str:
    """The resolved thresholds of the relative rules, for an event message."""
    return (
        ", ".join(f"{s} {t:.3g} over the dataset" for s, t in settled.thresholds.items()) or "rules changed"
    )
