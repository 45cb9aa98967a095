"""Quality checks of tracklets: query selection (paper section 5) and the paper's acceptance
check (at least 50% of a tracklet's detections contain the item) against known ground truth.

The ground truth is any *reference dataset* in the official format whose ``tracklets`` hold the
true item boxes (a hand-annotated copy, or ``mf world export-gt`` of a synthetic world):
:func:`reference_boxes` lines its videos up with the dataset's (video ``i`` of a product is the
reference's video of the item ``metadata.video_items[i]`` of ``entries.jsonl`` names, else of the
same product id and index) and moves the boxes into the dataset video's pixels when either was
cropped from its source (``source_crops`` in ``entries.jsonl``, as ``mf publish`` writes it).

:func:`score_dataset` counts every video: those the split files list (one without a tracklet
file fails the check, ``no_tracklet_file``) and those ``mf publish`` held back for review, whose
tracklet files it keeps (:func:`held_videos`; ``held_back``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from schemas.dataset import Tracklet, VideoTracklets, read_entry_rows
from schemas.errors import DataFormatError
from schemas.geometry import box_iou, tracklet_iou
from schemas.items import SourceName
from schemas.official import BadVideo, OfficialEntry, OnBad, warn_held_out
from schemas.redact import redacted_logger
from schemas.tracklet_names import product_key, shared_videos, tracklet_key
from schemas.video_items import item_video, video_items

log = redacted_logger(__name__)

BoxesByFrame = Mapping[int, Sequence[float]]


def _boxes(t: Tracklet | BoxesByFrame) -> dict[int, Sequence[float]]:
    if isinstance(t, Tracklet):
        return dict(t.boxes)
    return {int(k): v for k, v in t.items()}


def average_iou(tracklet: Tracklet | BoxesByFrame, gt_boxes: BoxesByFrame) -> float:
    """The tracklet's average IoU with the ground truth, as ``mf evaluate`` chooses its queries
    (:func:`schemas.geometry.tracklet_iou`: over the frames either boxes, 0 where one has none)."""
    return tracklet_iou(_boxes(tracklet), {int(k): v for k, v in gt_boxes.items()})


def select_query(tracklets: Sequence[Tracklet | BoxesByFrame], gt_boxes: BoxesByFrame) -> int | None:
    """Index of the tracklet with the highest average IoU with the ground-truth tracklet (the
    paper's query selection); None when there is no tracklet. Ties: the first one."""
    best, best_i = -1.0, None
    for i, t in enumerate(tracklets):
        v = average_iou(t, gt_boxes)
        if v > best:
            best, best_i = v, i
    return best_i


@dataclass
class VideoCheck:
    """One tracklet against the true item boxes, over the tracklet's *detected* frames."""

    video: str
    detections: int
    mean_iou: float
    contain_fraction: float
    passed: bool
    flagged: bool = False  #: the builder marked the video needs_review


def check_tracklet(
    video: str,
    tracklet: Tracklet | None,
    true_boxes: BoxesByFrame,
    iou_hit: float = 0.5,
    min_fraction: float = 0.5,
) -> VideoCheck:
    """Mean IoU of the tracklet's detections with the true item box of their frame (0 where the
    item is not visible) and the fraction that contain the item (IoU >= ``iou_hit``); passes
    when that fraction is >= ``min_fraction``. No tracklet = 0 and a failure."""
    truth = {int(k): v for k, v in true_boxes.items()}
    if tracklet is None:
        return VideoCheck(video, 0, 0.0, 0.0, False)
    frames = sorted(tracklet.scores) or sorted(tracklet.boxes)
    ious = [box_iou(tracklet.boxes[f], truth[f]) if f in truth else 0.0 for f in frames]
    if not ious:
        return VideoCheck(video, 0, 0.0, 0.0, False)
    frac = sum(v >= iou_hit for v in ious) / len(ious)
    return VideoCheck(video, len(ious), sum(ious) / len(ious), frac, frac >= min_fraction)


@dataclass
class QAReport:
    videos: int = 0
    mean_iou: float = 0.0
    pass_rate: float = 0.0
    query_mean_iou: float = 0.0
    missing: list[str] = field(default_factory=list)
    checks: list[VideoCheck] = field(default_factory=list)

    @property
    def flagged(self) -> int:
        """Videos the builder flagged needs_review."""
        return sum(c.flagged for c in self.checks)

    @property
    def flag_rate(self) -> float:
        """Share of the videos flagged."""
        return self.flagged / self.videos if self.videos else 0.0

    @property
    def flag_recall(self) -> float | None:
        """Share of the videos failing the >= 50% check that are flagged (None: none fails)."""
        failed = [c for c in self.checks if not c.passed]
        return sum(c.flagged for c in failed) / len(failed) if failed else None

    def as_dict(self, details: bool = False) -> dict:
        fr = self.flag_recall
        d = {
            "videos": self.videos,
            "mean_iou": round(self.mean_iou, 4),
            "pass_rate": round(self.pass_rate, 4),
            "query_mean_iou": round(self.query_mean_iou, 4),
            "flagged": self.flagged,
            "flag_rate": round(self.flag_rate, 4),
            "flag_recall": None if fr is None else round(fr, 4),
            "missing": self.missing,
            "failed_videos": [c.video for c in self.checks if not c.passed],
            "failed_unflagged": [c.video for c in self.checks if not c.passed and not c.flagged],
        }
        if details:
            d["checks"] = [c.__dict__ for c in self.checks]
        return d


def qa_report(
    results: Sequence[VideoTracklets],
    truth: Mapping[str, BoxesByFrame],
    iou_hit: float = 0.5,
    min_fraction: float = 0.5,
) -> QAReport:
    """Check every video's ground-truth tracklet against ``truth`` (video path -> true item boxes;
    ``<video path>@<product>`` -> that product's, for a video several products list: each
    product's tracklet is checked against its own garment's boxes);
    also select the query among the inference tracklets with the true boxes (paper section 5),
    and measure the review flags: the share of failing videos flagged (flag recall) and of all
    videos flagged (flag rate)."""
    rep = QAReport()
    qious = []
    for vt in results:
        true = truth.get(product_key(vt.video, vt.product_id), truth.get(vt.video))
        if true is None:
            rep.missing.append(vt.video)
            continue
        gt = vt.ground_truth_tracklet()
        check = check_tracklet(vt.video, gt, true, iou_hit, min_fraction)
        check.flagged = vt.needs_review
        rep.checks.append(check)
        inf = [t for t in vt.tracklets if t.mode == "inference"]
        q = select_query(inf, true)
        qious.append(average_iou(inf[q], true) if q is not None else 0.0)
    rep.videos = len(rep.checks)
    if rep.checks:
        rep.mean_iou = sum(c.mean_iou for c in rep.checks) / rep.videos
        rep.pass_rate = sum(c.passed for c in rep.checks) / rep.videos
        rep.query_mean_iou = sum(qious) / len(qious)
    return rep


def source_crops(dataset: str | os.PathLike[str]) -> dict[str, list[Sequence[float] | None]]:
    """Product id -> per video the box of its source video it was cropped to (None: not cropped),
    from ``metadata.source_crops`` of ``entries.jsonl``; empty when the dataset has none."""
    path = Path(dataset) / "entries.jsonl"
    if not path.is_file():
        return {}
    out: dict[str, list[Sequence[float] | None]] = {}
    for pid, row in read_entry_rows(path).items():
        crops = (row.get("metadata") or {}).get("source_crops")
        if crops is None:
            continue
        if not isinstance(crops, list) or not all(c is None or _is_box(c) for c in crops):
            raise DataFormatError(
                f"product '{pid}': metadata.source_crops must be a list holding, per video, null or"
                f" [x1, y1, x2, y2] in pixels (got {crops!r:.80})",
                where=str(path),
                hint="republish the dataset with mf publish, or fix the row",
            )
        out[pid] = crops
    return out


def _is_box(value: object) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 4
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    )


def shift_boxes(boxes: BoxesByFrame, dx: float, dy: float) -> dict[int, list[float]]:
    """Boxes moved by (-dx, -dy): into a video cropped at (dx, dy) of theirs."""
    return {int(t): [b[0] - dx, b[1] - dy, b[2] - dx, b[3] - dy] for t, b in boxes.items()}


def crop_offset(ref: Sequence[float] | None, own: Sequence[float] | None) -> tuple[float, float]:
    """How far a video cropped at ``own`` sits from one cropped at ``ref`` (same source video;
    None = not cropped). Crops start on whole pixels, so the corners are rounded."""
    rx, ry = (round(ref[0]), round(ref[1])) if ref is not None else (0, 0)
    ox, oy = (round(own[0]), round(own[1])) if own is not None else (0, 0)
    return float(ox - rx), float(oy - ry)


def reference_id(pid: str, ref: Mapping[str, object]) -> str | None:
    """The reference's id of dataset product ``pid``: the same id, else the id without the
    ``<source>-`` prefix ``mf clean`` gives a product whose source id another source also uses
    (``tiktok-7003...`` in a collected dataset is ``7003...`` in ``mf world export-gt``)."""
    if pid in ref:
        return pid
    src, _, rest = pid.partition("-")
    return rest if rest and src in {s.value for s in SourceName} and rest in ref else None


def _crop_box(recipe: str) -> list[float] | None:
    """The crop of a held-back video's publish recipe (``crop:x1,y1,x2,y2``; None: ``copy``
    or a recipe that does not read)."""
    kind, _, box = recipe.partition(":")
    try:
        values = [float(x) for x in box.split(",")]
    except ValueError:
        return None
    return values if kind == "crop" and len(values) == 4 else None


def held_videos(dataset: str | os.PathLike[str]) -> dict[str, tuple[str, int, list[float] | None]]:
    """The videos ``mf publish`` held back for review and keeps the tracklet files of
    (``.publish-held.json``, :func:`movingfashion.archive.verify.read_held_videos`): video path
    -> (product id, index of the video among the item's, the crop publish made it with). Their
    products are in no split file; a held video is ``videos/<product>_<n>.mp4`` of one item,
    so its video ``n``. Records whose path is not of that form are left out."""
    from movingfashion.archive.verify import read_held_videos

    out = {}
    for rel, rec in read_held_videos(dataset).items():
        pid = rec["product_id"]
        stem = Path(rel).stem
        n = stem[len(pid) + 1 :] if stem.startswith(f"{pid}_") else ""
        if n.isdigit():
            out[rel] = (pid, int(n), _crop_box(rec["recipe"]))
    return out


def listed_videos(dataset: str | os.PathLike[str], on_bad: OnBad = "raise") -> list[tuple[str, str]]:
    """(product id, video path) of every video the split files list, in file order: from the
    split files' heads (:func:`annotations.tracklet_files.load_split_heads`: no box built; kept
    per version of the file, so :func:`reference_boxes` and this read each file once).
    ``on_bad="skip"``: a product whose entry the reader refuses is left out
    (:func:`~annotations.tracklet_files.load_split_heads_on_bad`); ``"raise"`` refuses, naming it."""
    from annotations.tracklet_files import load_split_heads_on_bad

    return _listed(load_split_heads_on_bad(dataset, on_bad)[0])


def _listed(heads: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(product id, video path) of every video of split files' ``heads``, in file order."""
    return [(pid, vp) for split in heads.values() for pid, entry in split.items() for vp in entry.video_paths]


def without_tracklet_file(
    pairs: Iterable[tuple[str, str]], results: Sequence[VideoTracklets], shared: Collection[str]
) -> list[tuple[str, str]]:
    """The (product id, video path) of ``pairs`` that have no tracklet file in ``results``: a
    video one product lists has it when any file is of the video, one several products list
    (``shared``) when that product's file is (each has its own)."""
    built = {(vt.product_id, vt.video) for vt in results}
    videos = {vt.video for vt in results}
    return [(pid, vp) for pid, vp in pairs if ((pid, vp) not in built if vp in shared else vp not in videos)]


def _unbuilt(pid: str, video: str) -> VideoTracklets:
    """A stand-in for a video without a tracklet file: no tracklet, so a failure of the check."""
    return VideoTracklets(product_id=pid, video=video, frames=0, width=0, height=0, tracklets=[])


@dataclass
class DatasetQAReport(QAReport):
    """:class:`QAReport` of a dataset, with the videos it counts that the split files do not
    show: ``held_back`` of them ``mf publish`` held back for review (scored like the others),
    and the listed ones that have no tracklet file (``no_tracklet_file``, each a failure)."""

    held_back: int = 0
    no_tracklet_file: list[str] = field(default_factory=list)
    #: the products held out (``on_bad="skip"``): their split-file entry is refused, so their
    #: videos are not scored (:func:`~annotations.tracklet_files.held_out_rows`: file, product,
    #: video, frame key, error with what to do)
    held_out: list[dict[str, str | None]] = field(default_factory=list)

    def as_dict(self, details: bool = False) -> dict:
        return {
            **super().as_dict(details),
            "held_back": self.held_back,
            "no_tracklet_file": self.no_tracklet_file,
            "held_out": self.held_out,
        }


def score_dataset(
    dataset: str | os.PathLike[str],
    results: Sequence[VideoTracklets],
    truth: Mapping[str, BoxesByFrame],
    iou_hit: float = 0.5,
    min_fraction: float = 0.5,
    on_bad: OnBad = "raise",
) -> DatasetQAReport:
    """:func:`qa_report` of a dataset's tracklet files (``results``) against ``truth`` (as
    :func:`reference_boxes` gives it), over every video the split files list (one that has truth
    and no tracklet file fails the check) and those publish held back for review.
    ``on_bad="skip"``: a product whose split-file entry the reader refuses is held out (not
    scored, its tracklet files left out too), named in a warning and in ``held_out``; ``"raise"``
    refuses the dataset, naming it."""
    from annotations.tracklet_files import held_out_rows, load_split_heads_on_bad

    heads, bad = load_split_heads_on_bad(dataset, on_bad)
    warn_held_out(bad, "the QA", log)
    dropped = {b.product_id for b in bad}
    results = [vt for vt in results if vt.product_id not in dropped]
    held = held_videos(dataset)
    pairs = _listed(heads) + [(pid, vp) for vp, (pid, _, _) in held.items()]
    shared = shared_videos((pid, [vp]) for pid, vp in pairs)
    unbuilt = [
        (pid, vp)
        for pid, vp in without_tracklet_file(pairs, results, shared)
        if product_key(vp, pid) in truth or vp in truth
    ]
    rep = qa_report([*results, *(_unbuilt(pid, vp) for pid, vp in unbuilt)], truth, iou_hit, min_fraction)
    scored = {c.video for c in rep.checks}
    return DatasetQAReport(
        **{f.name: getattr(rep, f.name) for f in fields(QAReport)},
        held_back=sum(vp in scored for vp in held),
        no_tracklet_file=[tracklet_key(vp, pid, shared=vp in shared) for pid, vp in unbuilt],
        held_out=held_out_rows(bad),
    )


def reference_boxes(
    dataset: str | os.PathLike[str],
    reference: str | os.PathLike[str],
    on_bad: OnBad = "raise",
    *,
    held_out: list[BadVideo] | None = None,
) -> dict[str, dict[int, list[float]]]:
    """Video path of ``dataset`` -> {frame: true item box} from the reference dataset's tracklets
    (``<video path>@<product>`` for a video several products list, one key per product), for the
    videos the split files list and those publish held back for review (:func:`held_videos`).

    Video ``i`` of a product is the reference's video of the item ``metadata.video_items[i]``
    names (:func:`item_video`: a product published from several items lists their videos), else
    the reference product's video ``i`` (same product id); a held-back video ``n`` of a product
    is the reference product's video ``n``. Videos the reference lacks, or has no boxes for, are
    left out (``qa_report`` lists them as missing). Raises :class:`DataFormatError` when the
    reference is not an official-format dataset or holds no tracklet at all.

    ``on_bad="skip"``: a product of either dataset whose split-file entry the reader refuses is
    held out (the reference's: named in a warning and added to ``held_out``, its videos then
    missing from the reference; the dataset's: left out, as :func:`score_dataset` names them);
    ``"raise"`` refuses, naming it.
    """
    from annotations.tracklet_files import load_split_heads_on_bad, load_splits_rows
    from annotations.tracklet_files import shared_videos as split_shared_videos

    ref_read = load_splits_rows(reference, on_bad)
    warn_held_out(ref_read.held_out, "the QA's reference", log)
    if held_out is not None:
        held_out += ref_read.held_out
    ref_splits = ref_read.splits
    ref = {pid: e for split in ref_splits.values() for pid, e in split.items()}
    if not any(any(t) for e in ref.values() for t in e.tracklets):
        raise DataFormatError(
            "the reference dataset has no ground-truth tracklets",
            where=str(reference),
            hint="pass a dataset whose train.json/test.json hold the true boxes "
            "(e.g. written by `mf world export-gt`)",
        )
    own_crops, ref_crops, items = source_crops(dataset), source_crops(reference), video_items(dataset)
    out: dict[str, dict[int, list[float]]] = {}
    splits = load_split_heads_on_bad(dataset, on_bad)[0]  # the dataset's video lists only: no box built
    shared = split_shared_videos(splits)
    for split in splits.values():
        for pid, entry in split.items():
            oc = own_crops.get(pid, [])
            for i, video in enumerate(entry.video_paths):
                item, k = item_video(items.get(pid), pid, i)
                boxes = _reference_video(ref, ref_crops, item, k, oc[i] if i < len(oc) else None)
                if boxes is not None:
                    # a video several products list: each product's garment, under <video>@<product>
                    out[tracklet_key(video, pid, shared=video in shared)] = boxes
    for video, (pid, n, crop) in held_videos(dataset).items():
        boxes = _reference_video(ref, ref_crops, pid, n, crop)
        if boxes is not None and video not in out:
            out[video] = boxes
    return out


def _reference_video(
    ref: Mapping[str, OfficialEntry],
    ref_crops: Mapping[str, Sequence[Sequence[float] | None]],
    pid: str,
    k: int,
    own_crop: Sequence[float] | None,
) -> dict[int, list[float]] | None:
    """The true boxes of the reference's video ``k`` of product ``pid`` (:func:`reference_id`)
    in the pixels of a dataset video cropped at ``own_crop``; None when it has none."""
    ref_pid = reference_id(pid, ref)
    if ref_pid is None:
        return None
    r = ref[ref_pid]
    if k >= len(r.tracklets) or not r.tracklets[k]:
        return None
    rc = ref_crops.get(ref_pid, [])
    dx, dy = crop_offset(rc[k] if k < len(rc) else None, own_crop)
    return shift_boxes({int(t): v for t, v in r.tracklets[k].items()}, dx, dy)
