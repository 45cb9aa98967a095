"""The end of a tracklet build: every video's review flag decided over the whole dataset.

While it builds, the builder flags each video from its own signals (a rule's absolute
threshold). Some rules are relative to the dataset too (``FlagRule.max_share``: flag at most
about that share of the videos by this signal), so once the run's videos are done, every video of
the dataset that has a tracklet file is decided again from its stored signals under the rules
resolved over all of them (:meth:`annotations.config.ReviewConfig.for_dataset`). The same pass
re-decides videos a rerun skipped (new rules, or thresholds that moved with the videos added).

Files change only where the flag or its reason changes (atomic writes; a contact sheet that
exists is redrawn). The catalog follows: a video of this run that ends flagged, or a done one
newly flagged, marks its product needs_review; a product none of whose videos is flagged any
more goes back to accepted when the item is needs_review by this stage only
(:func:`annotations.review.marks.withdraw_needs_review`). A run killed before this pass is
settled by the next one (the builder passes the videos of an unfinished run as ``fresh``).

Two kinds of file are left as they are, and out of the population the relative rules are
resolved over: a file whose stored signals lack one the flag cannot be decided without
(:data:`annotations.config.REQUIRED_SIGNALS`; a warning names it: the build of its video redoes
it), and a file whose ground truth a person changed since the build (a review pick, a CVAT
import: its signals describe the tracklet the builder chose, not this one; the person decided).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotations.config import ReviewConfig, lacks_required
from annotations.tracklet_files import (
    TRACKLET_DIR,
    ground_truth_digest,
    read_build_record,
    read_video_tracklets,
    write_video_tracklets,
)
from schemas.dataset import VideoTracklets
from schemas.errors import MFError

log = logging.getLogger(__name__)


@dataclass
class Settled:
    """What the pass decided: the flagged videos (index into the jobs, reason) and the changes."""

    flagged: list[tuple[int, str]] = field(default_factory=list)
    changed: int = 0  #: tracklet files whose flag or reason changed
    marked: int = 0  #: catalog items marked needs_review
    withdrawn: int = 0  #: catalog items put back to accepted
    #: the relative rules' thresholds resolved over the dataset ("det_mean <" -> value)
    thresholds: dict[str, float] = field(default_factory=dict)
    #: per rule signal, the tracklet files whose stored signals lack it (written by an older
    #: toolkit: that rule cannot flag them until they are built again, ``--force``)
    missing: dict[str, int] = field(default_factory=dict)
    #: the files the pass rewrote (tracklet files, contact sheets redrawn)
    written: list[Path] = field(default_factory=list)
    #: stems of the files whose ground truth a person changed since the build (left as they are)
    decided_by_person: list[str] = field(default_factory=list)


def decide(vt: VideoTracklets, review: ReviewConfig) -> VideoTracklets | None:
    """The video with its flag decided again from its stored signals under ``review`` (resolved
    for its dataset); None when nothing changes or it has no signals to decide on (none, or not
    every one of :data:`annotations.config.REQUIRED_SIGNALS`)."""
    if not vt.signals or vt.ground_truth is None or lacks_required(vt.signals):
        return None
    reason = review.reason(vt.signals)
    if reason == vt.review_reason and vt.needs_review == (reason is not None):
        return None
    return vt.model_copy(update={"needs_review": reason is not None, "review_reason": reason})


def signals_describe_ground_truth(vt: VideoTracklets, record: dict | None) -> bool:
    """Whether ``vt``'s stored signals are those of its current ground truth: its build record
    holds the digest of the ground truth the builder chose (:func:`ground_truth_digest`; a review
    pick or an import changes it); a file without one (an older build) is judged by the count of
    detections (``signals.members``) where its tracklet has detector scores."""
    if record and "ground_truth" in record:
        return record["ground_truth"] == ground_truth_digest(vt)
    gt = vt.ground_truth_tracklet()
    members = vt.signals.get("members")
    return gt is None or not gt.scores or members is None or int(members) == len(gt.scores)


def dataset_tracklets(root: Path) -> dict[str, VideoTracklets]:
    """Every tracklet file of the dataset by file stem (``<video stem>``, or ``<video
    stem>@<product>`` for a video several products list): those of its splits' videos and those
    ``mf publish`` left for products it holds back (they stay part of the population the
    relative rules are resolved over, so a rebuild after a publish does not ratchet the
    threshold up). A file that cannot be read is left out with a warning (the build of its video,
    if it still has one, reads it again and redoes it)."""
    out: dict[str, VideoTracklets] = {}
    for p in sorted((root / TRACKLET_DIR).glob("*.json")):
        try:
            out[p.stem] = read_video_tracklets(p)
        except MFError as exc:
            log.warning("review flags: %s left out (%s)", p, exc)
    return out


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
    (:func:`dataset_tracklets`); ``fresh``: indices of the jobs built in this run (their catalog
    marks are still to be made); ``held``: stems of files whose flag the caller decided (a
    person's corrections on a video that changed since), left as they are."""
    stored = dataset_tracklets(root)
    keep: set[str] = set(held)  # files left as they are (see the module docstring)
    person: list[str] = []
    for stem, vt in stored.items():
        if vt.ground_truth is None or not vt.signals:
            continue
        path = root / TRACKLET_DIR / f"{stem}.json"
        lacks = lacks_required(vt.signals)
        if lacks:
            log.warning(
                "review flags: %s left out: its signals lack %s (rebuild its video with mf-tracklets build"
                " --force, or delete the file when no product lists the video)",
                path,
                ", ".join(lacks),
            )
            keep.add(stem)
        elif not signals_describe_ground_truth(vt, read_build_record(path)):
            keep.add(stem)
            person.append(stem)
    resolved = review.for_dataset(
        vt.signals for stem, vt in stored.items() if vt.ground_truth is not None and stem not in keep
    )
    out = Settled(
        thresholds={
            f"{r.signal} {'<' if r.op == 'lt' else '>'}": n.threshold
            for r, n in zip(review.rules, resolved.rules, strict=True)
            if r.max_share
        }
    )
    out.missing = review.missing_signals(vt.signals for vt in stored.values() if vt.ground_truth is not None)
    out.decided_by_person = person
    # each file, decided
    now = {stem: vt if stem in keep else decide(vt, resolved) or vt for stem, vt in stored.items()}
    # products with a flagged video anywhere in the dataset (other shards' videos too)
    flagged_products = {vt.product_id for vt in now.values() if vt.needs_review}
    withdraw: dict[str, str] = {}
    for i, job in enumerate(jobs):
        key = getattr(job, "key", job.stem)
        shared = getattr(job, "shared", False)
        vt = stored.get(key)
        if vt is None or vt.video != job.video_path:  # failed, or never built
            continue
        was = vt.needs_review
        if now[key] is not vt:
            vt = now[key]
            out.written.append(write_video_tracklets(root, vt, shared=shared))
            out.changed += 1
            if redraw_sheets:
                from annotations.sheets import sheet_path, write_sheet

                if sheet_path(root, vt.video, vt.product_id, shared=shared).is_file():
                    out.written.append(write_sheet(root, vt, shared=shared))
        if vt.needs_review:
            out.flagged.append((i, vt.review_reason or ""))
            if cat is not None and (i in fresh or not was):
                from annotations.review.marks import mark_needs_review

                mark_needs_review(cat, job.product_id, f"{job.stem}: {vt.review_reason}")
                out.marked += 1
        elif job.product_id not in flagged_products:
            withdraw.setdefault(job.product_id, f"{job.stem} no longer flagged ({review_note(out)})")
    if cat is not None:
        from annotations.review.marks import withdraw_needs_review

        out.withdrawn = sum(withdraw_needs_review(cat, pid, why) for pid, why in withdraw.items())
    return out


def review_note(settled: Settled) -> str:
    """The resolved thresholds of the relative rules, for an event message."""
    return (
        ", ".join(f"{s} {t:.3g} over the dataset" for s, t in settled.thresholds.items()) or "rules changed"
    )
