"""Build ground-truth tracklets for every video of a dataset in the official format.

Per video: decode frames (the reader registry's ``video_backend``, in a prefetching thread), detect in batches, embed every
detection (``embed_source``: ``crops``, through the single-frame matcher; ``roi``, pooled from the
detector's own feature maps by the RoI matcher, :mod:`movingfashion.models.roi`, a video whose shop
image matches nothing there matched again on the crop path (``roi_fallback``); ``auto``, the
default: roi when the RoI matcher fits the detector, :func:`movingfashion.models.matchers.matcher_for`),
run inference tracking (all tracklets) and training
tracking (the shop item's tracklet = the ground truth), write ``tracklets/<video>.json``
atomically, with its build record (:func:`annotations.tracklet_files.write_build_record`: the
settings that change the file, the video's and the shop image's size, mtime and SHA-256;
marked pending until the file is written, so a build killed in between redoes the video). A
rerun skips videos whose file exists with the same detector and matcher, the same settings and
the same inputs (:meth:`TrackletBuilder.redo_reason`; a file without a record, from an older
build, counts as done and is counted apart); an unreadable video is reported and skipped.
A file holding a person's work (:func:`human_work`: a CVAT import, a review pick, an accept
made since its build) is never rebuilt silently: a rerun that would redo it (other weights or
settings, ``force``) keeps it and counts it (``kept_human``) unless ``discard_corrections``; when
its video changed since the build, the kept file is flagged for review (the boxes may no longer
fit it). Other writers do not wait for the build: each rebuilt file is written into the build's
staging folder (:class:`Staging`) and put in place under the dataset's lock only after a last
look (:class:`WriteCheck`): a file that got a person's work while the build ran (a pick, an
import, an accept) is kept as well, and a video no split file lists any more (a ``mf publish``
meanwhile took it out, and does not hold it back) gets no file (``dropped_unlisted``). A video built anew (no file) that a reviewer accepted after the build's catalog flag of
it (``tracklets: <video>: ...``; a file an older ``mf publish`` deleted while it held the product
back) does not mark the catalog again: the accept decided that flag (:func:`accepted_since_flag`).
Finally the ground-truth tracklets of every done video are merged into ``train.json`` /
``test.json`` (``tracklets[i]`` for ``video_paths[i]``), and a folder ``mf publish`` wrote gets
its tables, card, Croissant metadata and manifest rewritten
(:func:`movingfashion.archive.describe.refresh`), so ``mf verify`` still holds afterwards. Before
that, every video's review flag is settled over the whole dataset, with the catalog marks
(:mod:`annotations.settle`: rules relative to the dataset need all its videos' signals).

Videos go through an executor (:mod:`movingfashion.executors`): ``local`` processes them here,
in order; ``ray`` gives every worker (actor) its own detector and matcher (a GPU share each when
the cluster has GPUs) and streams each video's result back. Only this process writes files.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import socket
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pydantic_core

from annotations.config import BuildConfig, ReviewConfig, lacks_required
from annotations.flags import SCORE_DECIMALS, rounded, tracklet_signals
from annotations.refresh_mark import BuildRun
from annotations.review.marks import follow_tracklet_names
from annotations.settle import settle_flags
from annotations.tracklet_files import (  # noqa: F401 - re-exported, their home is tracklet_files
    BUILD_DIR,
    HELD_OUT_HINT,
    SPLIT_FILES,
    SPLIT_ORIGIN,
    TRACKLET_DIR,
    OnBad,
    SplitOrigin,
    SplitRows,
    build_record_file,
    check_tracklet_names,
    dataset_lock,
    detector_wrote,
    file_owner_problem,
    ground_truth_digest,
    held_out_rows,
    load_splits,
    load_splits_rows,
    read_build_record,
    read_split_origin,
    read_video_tracklets,
    shared_videos,
    split_tracklet_digest,
    tracklet_digest,
    tracklet_file,
    tracklet_folders,
    write_build_record,
    write_split_origin,
    write_video_tracklets,
)
from movingfashion.executors import (
    Executor,
    LocalExecutor,
    Pool,
    WorkerLostError,
    WorkerResources,
    unseen_on_worker,
)
from movingfashion.media.images import read_image
from movingfashion.media.video_source import VideoSource, frame_indices, prefetch_batches
from movingfashion.models.detectors import Detector, build_detector, same_weights
from movingfashion.models.matchers import matcher_for
from movingfashion.split_errors import all_held_out, no_product_in
from schemas.activity import activity
from schemas.atomic import atomic_write_bytes, file_lock, pid_alive, sha256_file, sweep_partials
from schemas.dataset import Tracklet, TrackletFileBuild, VideoTracklets, read_entry_classes
from schemas.errors import ConfigError, DataFormatError, MFError
from schemas.faults import reraise_local_fault
from schemas.geometry import box_iou, common_frame_iou
from schemas.official import OfficialSplit, warn_held_out, write_official, write_official_keeping
from schemas.paths import resolve_under
from schemas.redact import redacted_logger
from schemas.text_input import read_file_bytes
from schemas.tracklet_names import shared_videos as _listed_shared
from schemas.tracklet_names import split_stem, stem_heads

if TYPE_CHECKING:  # torch and the models load once a video is built, not on a rerun with none due
    import torch

    from annotations.pivot_check import PivotCandidates
    from annotations.tracking import TrackResult, VideoDetections
    from movingfashion.models import SingleFrameMatcher
    from movingfashion.models.roi import RoIEmbedder, RoIMatcher

#: crops embedded per forward pass of the matcher, gathered across decoded batches (larger batches
#: cost less per crop on the CPU; 128 crops of 64 px are 6 MB)
EMBED_BATCH = 128


log = redacted_logger(__name__)


@dataclass
class VideoJob:
    """One video of the dataset to process."""

    split_file: str
    product_id: str
    index: int
    video_path: str
    img_path: str
    item_class: int | None = None  #: the product's DeepFashion2 class, from entries.jsonl when published
    #: several products list the video: its tracklet file is this product's (``<stem>@<product>``)
    shared: bool = False

    @property
    def stem(self) -> str:
        return Path(self.video_path).stem

    def tracklet_file(self, dataset: str | os.PathLike[str]) -> Path:
        """This job's tracklet file (:func:`annotations.tracklet_files.tracklet_file`)."""
        return tracklet_file(dataset, self.video_path, self.product_id, shared=self.shared)

    @property
    def key(self) -> str:
        """The stem of this job's tracklet file (``<video stem>``, or ``<video stem>@<product>``)."""
        return self.tracklet_file(".").stem


@dataclass
class BuildReport:
    """What a build did, with timings (seconds) per phase and throughput."""

    videos: int = 0
    processed: int = 0
    skipped: int = 0
    redecided: int = 0  #: videos whose flag the end-of-run pass changed (annotations.settle)
    #: thresholds of the rules relative to the dataset, resolved over its videos (signal -> value)
    flag_thresholds: dict[str, float] = field(default_factory=dict)
    #: rule signals missing from stored tracklet files (older files: signal -> files; --force)
    flag_signals_missing: dict[str, int] = field(default_factory=dict)
    failed: list[dict[str, str]] = field(default_factory=list)
    #: flagged videos no reviewer has accepted since their flag (``{"video", "reason"}``)
    needs_review: list[dict[str, str]] = field(default_factory=list)
    #: flagged videos a reviewer accepted after the catalog's flag of them: decided, their file
    #: keeps the flag it was built with (the review queue does not list them)
    accepted_in_review: list[dict[str, str]] = field(default_factory=list)
    #: videos ``mf publish`` holds back for review (``.publish-held.json``): in no split file, so
    #: neither built nor counted in ``needs_review``; ``mf-tracklets review`` lists them
    held_back: int = 0
    frames_detected: int = 0
    detections: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(
        default_factory=lambda: {
            "decode_wait": 0.0,
            "detect": 0.0,
            "crop": 0.0,
            "embed": 0.0,
            "track": 0.0,
            "write": 0.0,
        }
    )
    detector: str | None = None
    matcher: str | None = None
    official_updated: list[str] = field(default_factory=list)
    #: done videos built again because what their file was built from changed (reason -> videos)
    rebuilt: dict[str, int] = field(default_factory=dict)
    #: done videos skipped whose file has no build record (an older build: their settings and
    #: inputs are not known, so a change to them is not seen; --force rebuilds them)
    unrecorded: int = 0
    #: videos whose ground truth a person changed (review pick, import): their flag is theirs
    decided_by_person: int = 0
    #: videos whose ground truth is the split file's own, kept by a build (this run's or an
    #: earlier one's): their flag is the one decided when it was kept (:func:`with_split_ground_truth`)
    split_truth_files: int = 0
    #: files holding a person's work that this run would have built again, kept as they are
    #: (``discard_corrections`` builds them): how many, and per file what it holds and why it
    #: was due (``{"video": <file stem>, "holds": ..., "due": ...}``)
    kept_human: int = 0
    kept_human_videos: list[dict[str, str]] = field(default_factory=list)
    #: videos only one product lists now (the others dropped by a republish) whose tracklet file
    #: was that product's ``<stem>@<product>.json``: made the video's ``<stem>.json`` (with its
    #: build record and sheet: done and human work kept), or dropped for an existing
    #: ``<stem>.json`` that holds a person's work or is newer: how many, and per video which file
    #: it kept and why (``{"video", "file", "kept", "why"}``)
    adopted_unshared: int = 0
    adopted_unshared_videos: list[dict[str, str]] = field(default_factory=list)
    #: ``tracklets/<stem>@<product>.json`` files of products that no longer list the video, removed
    removed_unlisted: list[str] = field(default_factory=list)
    #: videos built anew (no file) that a reviewer accepted after the catalog's flag of them: the
    #: catalog item is not marked needs_review again (:func:`accepted_since_flag`)
    accepted_since_flag: list[str] = field(default_factory=list)
    #: videos built whose file was not written: by then no split file listed them for the
    #: product (a ``mf publish`` run meanwhile removed them) and ``mf publish`` does not hold them
    #: back (:class:`WriteCheck`)
    dropped_unlisted: list[str] = field(default_factory=list)
    #: videos built anew (no tracklet file) whose split-file entry already held a tracklet (the
    #: archive's ground truth): their file keeps that tracklet as the ground truth, beside the
    #: detector's, so the split files keep it (:func:`with_split_ground_truth`)
    kept_split_ground_truth: list[str] = field(default_factory=list)
    #: of each of those, the mean IoU of the detector's tracklet with the kept ground truth over
    #: the frames both box (None: the detector chose no tracklet); below the review config's
    #: ``split_truth_min_iou`` the video is flagged (``needs_review``), whatever the detector's signals
    split_truth_agreement: dict[str, float | None] = field(default_factory=dict)
    #: videos built anew whose split-file tracklet an earlier build wrote from the detector's
    #: choice (:data:`~annotations.tracklet_files.SPLIT_ORIGIN`): not the archive's, not kept
    split_detector_choice: list[str] = field(default_factory=list)
    #: the review config's ``split_truth_min_iou`` this run flagged them by
    split_truth_min_iou: float | None = None
    #: products of the split files held out (``on_bad="skip"``): an entry the reader refuses (a bad
    #: box, a missing or malformed field), its videos neither built nor merged, its entry and
    #: tracklet files left as they are; per problem ``{"file", "product_id", "video", "frame_key",
    #: "error"}`` (:func:`~annotations.tracklet_files.held_out_rows`). The rest is built; the
    #: command exits 1 and a rerun after the fix builds them
    held_out: list[dict[str, str | None]] = field(default_factory=list)
    #: why the folder's description (tables, card, manifest) was not refreshed: a held-out row
    #: keeps it from reading the split files whole; a rerun after the fix refreshes it (None: refreshed)
    not_refreshed: str | None = None

    @property
    def fps(self) -> float:
        return self.frames_detected / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["frames_per_second"] = round(self.fps, 2)
        d["seconds"] = round(self.seconds, 3)
        d["timings"] = {k: round(v, 3) for k, v in self.timings.items()}
        return d


def _held_back_count(root: Path) -> int:
    """How many videos ``mf publish`` holds back for review in ``root`` (0, with a warning, when
    its record does not read: the build does not stop for it)."""
    from movingfashion.archive.verify import read_held_videos

    try:
        return len(read_held_videos(root))
    except MFError as exc:
        log.warning("%s", exc)
        return 0


#: a shard as ``--shard`` takes it: ``i/n``, whole numbers in ASCII digits without leading zeros
_SHARD = re.compile(r"(0|[1-9][0-9]*)/(0|[1-9][0-9]*)")


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"i/n"`` -> ``(i, n)`` with ``0 <= i < n``; None (no ``--shard``) -> ``(0, 1)``. Anything
    else (an empty string too: an unset variable in ``--shard "$SHARD"``) is refused."""
    if text is None:
        return 0, 1
    m = _SHARD.fullmatch(text)
    if m is None:
        raise ConfigError(
            f"bad shard {text!r}", where="--shard", hint="write it as i/n in plain digits, e.g. 0/4"
        )
    i, n = int(m[1]), int(m[2])
    if n < 1 or not 0 <= i < n:
        raise ConfigError(f"shard {text!r} out of range", where="--shard", hint="need 0 <= i < n")
    return i, n


def in_shard(video_path: str, shard: tuple[int, int]) -> bool:
    """Stable assignment of a video to a shard (CRC32 of its path), independent of dataset order."""
    return zlib.crc32(video_path.encode()) % shard[1] == shard[0]


def video_jobs(
    splits: dict[str, OfficialSplit],
    shard: tuple[int, int] = (0, 1),
    *,
    held_videos: Iterable[tuple[str, str]] = (),
) -> list[VideoJob]:
    """One job per (product, video) of the split files in this shard; a video several products
    list gives each product its own job, matched with that product's shop image and written to
    that product's tracklet file. ``held_videos``: ``(video, product)`` of the products held out
    (:func:`~annotations.tracklet_files.load_splits_rows`): no job, but a video one of them lists
    with another product is still shared (the other product's file stays ``<stem>@<product>``)."""
    held: dict[str, list[str]] = {}
    for vp, pid in held_videos:
        held.setdefault(pid, []).append(vp)
    listings = [(pid, e.video_paths) for split in splits.values() for pid, e in split.items()]
    shared = _listed_shared([*listings, *held.items()])
    jobs = []
    for split_file, split in splits.items():
        for pid, entry in split.items():
            for i, vp in enumerate(entry.video_paths):
                if in_shard(vp, shard):
                    jobs.append(VideoJob(split_file, pid, i, vp, entry.img_path, shared=vp in shared))
    return jobs


def extend_ends(boxes: dict[int, list[float]], n_frames: int, max_gap: int) -> dict[int, list[float]]:
    """Hold the first/last box out to the video's first/last frame when they are at most
    ``max_gap`` frames away (the detector missed the garment there, as between two detections)."""
    if not boxes or max_gap < 1:
        return dict(boxes)
    out = dict(boxes)
    first, last = min(boxes), max(boxes)
    if 0 < first <= max_gap:
        out.update({t: list(boxes[first]) for t in range(first)})
    if 0 < n_frames - 1 - last <= max_gap:
        out.update({t: list(boxes[last]) for t in range(last + 1, n_frames)})
    return dict(sorted(out.items()))


def interpolate_boxes(boxes: dict[int, list[float]], max_gap: int) -> dict[int, list[float]]:
    """Fill frames between two boxes at most ``max_gap`` frames apart by linear interpolation."""
    if max_gap <= 1 or len(boxes) < 2:
        return dict(boxes)
    keys = sorted(boxes)
    out = dict(boxes)
    for a, b in zip(keys[:-1], keys[1:], strict=True):
        if 1 < b - a <= max_gap:
            ba, bb = np.asarray(boxes[a], float), np.asarray(boxes[b], float)
            for t in range(a + 1, b):
                w = (t - a) / (b - a)
                out[t] = list(ba * (1 - w) + bb * w)
    return dict(sorted(out.items()))


class TrackletBuilder:
    """Detector + matcher + tracker over the videos of one dataset."""

    def __init__(
        self, detector: Detector, matcher: SingleFrameMatcher | RoIMatcher, config: BuildConfig | None = None
    ) -> None:
        from movingfashion.models import SingleFrameMatcher
        from movingfashion.models.roi import RoIEmbedder, RoIMatcher

        self.detector = detector
        self.config = config or BuildConfig()
        self.matcher = matcher.eval().to(detector.device)
        #: the RoI path: the matcher's hooks on the detector (None on the crop path)
        self.roi: RoIEmbedder | None = None
        source = self.config.embed_source
        if source == "auto":  # the matcher given decides
            source = "roi" if isinstance(matcher, RoIMatcher) else "crops"
        #: the matching path this builder runs (``crops`` or ``roi``)
        self.embed_source = source
        #: the crop matcher a video falls back to on the RoI path (``roi_fallback``)
        self.fallback: SingleFrameMatcher | None = None
        #: frames :meth:`continue_into_skipped` detected, and the seconds it took (all videos)
        self.skipped_frames, self.skipped_seconds = 0, 0.0
        if source == "roi":
            if not isinstance(matcher, RoIMatcher):
                raise ConfigError(
                    f"embed_source roi needs an RoI matcher, got {type(matcher).__name__}",
                    where="embed_source",
                    hint="load one with movingfashion.models.matchers.load_matcher_kind('roi')",
                )
            self.roi = RoIEmbedder(matcher, detector)
            self.embed_size = 0
            self.matcher_tag = matcher.tag
            self.fallback_tag = None
            if self.config.roi_fallback:
                from movingfashion.models import load_matcher

                crop = load_matcher(None, device=detector.device).eval()
                self.fallback = crop.fused_for_inference()
                #: the matcher named by a video that fell back to crops: both tags
                self.fallback_tag = f"{matcher.tag}>{crop.tag}"
            return
        if not isinstance(matcher, SingleFrameMatcher):
            raise ConfigError(
                f"embed_source crops needs the crop matcher, got {type(matcher).__name__}",
                where="embed_source",
                hint="set embed_source: roi for an RoI matcher",
            )
        #: what embeds detections and shop images: the matcher with its encoder's BatchNorm folded
        self.embedder = self.matcher.fused_for_inference()
        #: side of the crops embedded, and the matcher's name in the tracklet files: a size other
        #: than the one it was trained at gives other embeddings, so it is part of the name (a
        #: rerun at another size redoes the videos)
        self.embed_size = self.config.embed_size or matcher.crop_size
        self.matcher_tag = (
            matcher.tag if self.embed_size == matcher.crop_size else f"{matcher.tag}@{self.embed_size}px"
        )
        self.fallback_tag = None

    @cached_property
    def settings(self) -> dict[str, Any]:
        """What this builder's files are built with besides the weights
        (:meth:`BuildConfig.result_settings`, with the defaults the models resolve: the matching
        path, the crop size, the detector's input size); the build record keeps it, and a rerun
        with other settings builds the videos again."""
        out = self.config.result_settings()
        out["embed_source"] = self.embed_source
        out["embed_size"] = self.embed_size or None
        out["detector"]["imgsz"] = getattr(self.detector, "imgsz", None) or out["detector"]["imgsz"]
        if self.roi is None:  # the RoI path's options change nothing on the crop path
            out.pop("roi_fallback", None)
            out.pop("pivot_check", None)
        return out

    @property
    def embed_dim(self) -> int:
        """Length of the descriptors this builder's matcher gives."""
        return int(self.matcher.m.dim)

    # -- detection ---------------------------------------------------------------
    def detect_video(
        self, src: VideoSource, timings: dict[str, float], keep: PivotCandidates | None = None
    ) -> tuple[VideoDetections, list[int]]:
        """Detect and embed every sampled frame; returns the detections and the frames sampled.

        Crops are cut per decoded batch (``timings["crop"]``) and embedded :data:`EMBED_BATCH` at a
        time across batches (``timings["embed"]``: the matcher's forward passes); the embeddings do
        not depend on how the crops are batched (up to float rounding). ``keep`` (the RoI path)
        is offered every batch's detections (the pivot's second opinion, :mod:`.pivot_check`)."""
        import torch

        from annotations.tracking import VideoDetections
        from movingfashion.models import crops_from_frames

        cfg = self.config
        keys = src.key_indices() if cfg.keyframes else None
        idx = frame_indices(src.frames, cfg.stride, keys, last=cfg.detect_last)
        frames_l, boxes_l, scores_l, classes_l, emb_l = [], [], [], [], []
        pending: list[torch.Tensor] = []  # crops not embedded yet
        t = time.perf_counter()
        # a small first batch: detection starts while the thread decodes on (large frames decode slowly)
        first = max(1, cfg.detector.batch // 4)
        done = 0  # sampled frames detected, shown inside the bar over videos (a long video moves too)
        with activity(src.path.name, total=len(idx), unit="frames detected") as advance:
            for chunk, frames in prefetch_batches(src, idx, cfg.detector.batch, first=first, as_list=True):
                t1 = time.perf_counter()
                timings["decode_wait"] += t1 - t
                if self.roi is not None:
                    self.roi.capture.clear()
                dets = self.detector.detect(frames)
                t2 = time.perf_counter()
                timings["detect"] += t2 - t1
                with torch.no_grad():
                    if self.roi is not None:
                        # the maps the detection forward left in the hooks, pooled per box + the head
                        # (timings["embed"] from t3 on; no crops to cut)
                        t3 = t2
                        boxes = [d.boxes for d in dets]
                        emb_l.append(self.roi.embed_boxes(frames, boxes))
                        if keep is not None:
                            keep.offer(
                                frames, boxes, [d.classes for d in dets], [d.scores for d in dets], emb_l[-1]
                            )
                    else:
                        crops = crops_from_frames(frames, [d.boxes for d in dets], self.embed_size)
                        if len(crops):
                            pending.append(crops)
                        t3 = time.perf_counter()
                        timings["crop"] = timings.get("crop", 0.0) + t3 - t2
                        if sum(len(c) for c in pending) >= EMBED_BATCH:
                            emb_l.append(self.embedder.embed(torch.cat(pending), batch_size=EMBED_BATCH))
                            pending = []
                for fi, d in zip(chunk, dets, strict=True):
                    frames_l.append(np.full(len(d), fi, np.int64))
                    boxes_l.append(d.boxes)
                    scores_l.append(d.scores)
                    classes_l.append(d.classes)
                t = time.perf_counter()
                timings["embed"] += t - t3
                done += len(chunk)
                advance(done)
        if pending:
            with torch.no_grad():
                emb_l.append(self.embedder.embed(torch.cat(pending), batch_size=EMBED_BATCH))
            timings["embed"] += time.perf_counter() - t
        dets = VideoDetections(
            frames=np.concatenate(frames_l) if frames_l else np.zeros(0, np.int64),
            boxes=np.concatenate(boxes_l).reshape(-1, 4) if boxes_l else np.zeros((0, 4), np.float32),
            scores=np.concatenate(scores_l) if scores_l else np.zeros(0, np.float32),
            classes=np.concatenate(classes_l) if classes_l else np.zeros(0, np.int64),
            embeddings=torch.cat(emb_l)
            if emb_l
            else torch.zeros((0, self.embed_dim), device=self.detector.device),
        )
        return dets, idx

    def crop_embedder(self) -> SingleFrameMatcher:
        """The crop path's embedder: this builder's on the crop path, else the embedded crop matcher
        (the RoI path's ``roi_fallback``), BatchNorm folded."""
        if self.roi is None:
            return self.embedder
        if self.fallback is None:
            raise ConfigError("this RoI-path builder has no crop fallback", where="roi_fallback")
        return self.fallback

    @property
    def crop_embed_size(self) -> int:
        """Side of the crops :meth:`crop_embedder` embeds: this builder's ``embed_size`` on the crop
        path, the size the fallback matcher was trained at on the RoI path."""
        return self.embed_size if self.roi is None else self.crop_embedder().crop_size

    def crop_embeddings(self, src: VideoSource, dets: VideoDetections, sampled: list[int]) -> VideoDetections:
        """``dets`` with their boxes cut out of the frames again and embedded on the crop path
        (:meth:`crop_embedder`; the crop size it was trained at); no detection runs."""
        import torch

        from annotations.tracking import VideoDetections
        from movingfashion.models import crops_from_frames

        emb, size = self.crop_embedder(), self.crop_embed_size
        out = []
        for chunk, imgs in prefetch_batches(src, sampled, self.config.detector.batch):
            crops = crops_from_frames(imgs, [dets.boxes[dets.frames == f] for f in chunk], size)
            if len(crops):
                with torch.no_grad():
                    out.append(emb.embed(crops, batch_size=EMBED_BATCH))
        e = torch.cat(out) if out else torch.zeros((0, int(emb.m.dim)), device=self.detector.device)
        return VideoDetections(dets.frames, dets.boxes, dets.scores, dets.classes, e)

    def crop_shop_embedding(self, shop_path: Path) -> torch.Tensor:
        """The shop image's descriptor on the crop path (:meth:`crop_embedder`)."""
        import torch

        from movingfashion.models import crops_from_frames

        with torch.no_grad():
            crop = crops_from_frames([read_image(shop_path)], [None], self.crop_embed_size)
            return self.crop_embedder().embed(crop)[0]

    def shop_embedding(self, shop_path: Path) -> torch.Tensor:
        """The shop image's descriptor (the whole image: a crop, or pooled from the detector's maps)."""
        if self.roi is None:
            return self.crop_shop_embedding(shop_path)
        return self.roi.embed_images([read_image(shop_path)])[0]

    def pivot_candidates(self, shop_emb: torch.Tensor, item_class: int | None) -> PivotCandidates | None:
        """What keeps the pivot's crop for its second opinion (``pivot_check`` candidates), on the
        RoI path with the crop matcher loaded (``roi_fallback``); None elsewhere."""
        k = self.config.pivot_check
        if self.roi is None or self.fallback is None or k <= 0:
            return None
        from annotations.pivot_check import PivotCandidates

        return PivotCandidates(
            self.matcher.m, shop_emb, item_class, self.config.tracker, k, self.crop_embed_size
        )

    def pivot_second_score(self, keep: PivotCandidates, shop_path: Path, pivot: int) -> float | None:
        """The crop matcher's score of the pivot's crop against the shop image (None: not kept)."""
        import torch

        crop = keep.crop(pivot)
        if crop is None:
            return None
        emb = self.crop_embedder()
        with torch.no_grad():
            a = emb.embed(crop[None].to(self.detector.device))
            return float(emb.m.score_matrix(self.crop_shop_embedding(shop_path)[None], a)[0, 0])

    # -- tracking ----------------------------------------------------------------
    def _tracklet(
        self,
        video: str,
        dets: VideoDetections,
        tr: TrackResult,
        mode: str,
        shop_scores: np.ndarray | None,
        max_gap: int,
        n_frames: int,
    ) -> Tracklet:
        r = self.config.decimals
        m = tr.members
        boxes = {int(dets.frames[i]): [round(float(v), r) for v in dets.boxes[i]] for i in m}
        if max_gap > 1:
            boxes = interpolate_boxes(boxes, max_gap)
        if self.config.extend_ends:
            boxes = extend_ends(boxes, n_frames, max_gap)
        boxes = {k: [round(float(v), r) for v in b] for k, b in boxes.items()}
        cls = np.bincount(dets.classes[m]).argmax() if len(m) else None
        shop = (
            tr.shop_score
            if tr.shop_score is not None
            else (float(np.mean(shop_scores[m])) if shop_scores is not None and len(m) else None)
        )
        return Tracklet(
            video=video,
            boxes=boxes,
            scores={int(dets.frames[i]): round(float(dets.scores[i]), SCORE_DECIMALS) for i in m},
            match_scores={
                int(dets.frames[i]): round(float(s), SCORE_DECIMALS)
                for i, s in zip(m, tr.match_scores, strict=True)
            },
            class_id=int(cls) if cls is not None and cls > 0 else None,
            pivot_frame=int(dets.frames[tr.pivot]),
            shop_score=None if shop is None else round(float(shop), SCORE_DECIMALS),
            mode=mode,
        )

    def signals(
        self,
        dets: VideoDetections,
        gt: TrackResult,
        shop_s: np.ndarray,
        sampled: list[int],
        item_class: int | None,
        others: list[TrackResult] | None = None,
    ) -> dict[str, float]:
        """The confidence signals of the ground-truth tracklet (:data:`annotations.flags.SIGNALS`);
        ``others``: the video's inference tracklets (the alternatives to it; ``track_agree``).

        Boxes and scores enter at the precision the tracklet file stores them (``decimals``; 4 for
        scores): the signals are a function of what was written, so two runs whose files agree
        (a Ray worker replaced mid-build, another BLAS thread count) store the same signals."""
        m = gt.members
        boxes = np.round(np.asarray(dets.boxes, float), self.config.decimals)
        shop_s = np.round(np.asarray(shop_s, float), SCORE_DECIMALS)
        alt = [
            float(np.mean(shop_s[t.members]))
            for t in others or []
            if len(t.members) >= 2 and not np.isin(t.members, m).any()
        ]
        best_other = np.full(len(m), -np.inf)
        rival = np.zeros(len(m), bool)
        for k, i in enumerate(m):
            same = np.flatnonzero(dets.frames == dets.frames[i])
            same = same[same != i]
            if len(same):
                best_other[k] = shop_s[same].max()
                better = same[shop_s[same] > shop_s[i] + 0.1]
                rival[k] = any(box_iou(boxes[j], boxes[i]) < 0.3 for j in better)
        pivot_shop = gt.shop_score if gt.shop_score is not None else float(shop_s[gt.pivot])
        track = None
        if others is not None:  # which inference tracklet holds each member (-1: none)
            track = np.full(len(m), -1, np.int64)
            for k, t in enumerate(others):
                track[np.isin(m, t.members)] = k
        return tracklet_signals(
            member_frames=dets.frames[m],
            member_boxes=boxes[m],
            member_classes=dets.classes[m],
            member_det_scores=np.round(np.asarray(dets.scores[m], float), SCORE_DECIMALS),
            member_match=np.round(np.asarray(gt.match_scores, float), SCORE_DECIMALS),
            member_shop=shop_s[m],
            pivot_shop=round(float(pivot_shop), SCORE_DECIMALS),
            frame_best_other_shop=best_other,
            sampled=sampled,
            frames_with_detections=len(np.unique(dets.frames)),
            item_class=item_class,
            member_rival=rival,
            pivot_class=int(dets.classes[gt.pivot]),
            alt_shop=max(alt) if alt else None,
            video_frames=dets.frames,
            video_classes=dets.classes,
            video_boxes=boxes,
            member_track=track,
        )

    def continue_into_skipped(
        self,
        src: VideoSource,
        dets: VideoDetections,
        gt: TrackResult,
        sampled: list[int],
        head: Any,
        shop_emb: torch.Tensor,
    ) -> tuple[TrackResult, VideoDetections]:
        """``gt`` continued into the frames the stride skipped next to its ends
        (``detect_skipped_ends``): those frames are decoded and detected in one batch, embedded by
        ``head``'s path (the RoI head from the detector's maps, or crops cut and embedded on the crop
        path) and joined by ``continue_iou``'s rule (:func:`annotations.tracking.extend_into`).
        Returns the tracklet and the detections its members index."""
        import torch

        from annotations.tracking import VideoDetections, extend_into, skipped_end_frames
        from movingfashion.models import crops_from_frames

        cfg = self.config
        if not len(gt.members) or cfg.tracker.continue_iou <= 0:
            return gt, dets
        ends = dets.frames[gt.members]
        want = sorted(skipped_end_frames(int(ends.min()), int(ends.max()), sampled, src.frames, cfg.stride))
        if not want:
            return gt, dets
        t = time.perf_counter()
        frames = src.get_batch(want)
        roi = self.roi is not None and head is self.matcher.m
        if self.roi is not None:
            self.roi.capture.clear()
        found = self.detector.detect(frames)
        boxes = [d.boxes for d in found]
        with torch.no_grad():
            if roi:
                emb = self.roi.embed_boxes(frames, boxes)
            else:
                crops = crops_from_frames(frames, boxes, self.crop_embed_size)
                emb = (
                    self.crop_embedder().embed(crops, batch_size=EMBED_BATCH)
                    if len(crops)
                    else dets.embeddings[:0]
                )
        extra = VideoDetections(
            frames=np.concatenate([np.full(len(d), f, np.int64) for f, d in zip(want, found, strict=True)]),
            boxes=np.concatenate(boxes).reshape(-1, 4).astype(np.float32),
            scores=np.concatenate([d.scores for d in found]).astype(np.float32),
            classes=np.concatenate([d.classes for d in found]).astype(np.int64),
            embeddings=emb,
        )
        self.skipped_frames += len(want)
        self.skipped_seconds += time.perf_counter() - t
        return extend_into(gt, dets, extra, head, shop_emb, cfg.tracker)

    def track(
        self,
        job: VideoJob,
        src: VideoSource,
        dets: VideoDetections,
        n_sampled: int | list[int],
        shop_emb: torch.Tensor,
        head: Any = None,
        matcher_tag: str | None = None,
        second: Callable[[int], float | None] | None = None,
    ) -> VideoTracklets:
        """Run both tracking modes and decide whether the video needs a human look.

        ``n_sampled``: the frames the detector ran on (or their count: every ``stride``-th);
        ``head``/``matcher_tag``: another matcher's (the RoI path's crop fallback), default this one's;
        ``second``: the pivot's second opinion (``pivot_second``) from its detection index."""
        from annotations.tracking import inference_tracking, shop_scores, similarity, training_tracking

        cfg = self.config
        head = self.matcher.m if head is None else head
        sim = similarity(head, dets.embeddings) if len(dets) else None
        inf = inference_tracking(dets, head, cfg.tracker, sim=sim)
        gt = training_tracking(dets, head, shop_emb, cfg.tracker, sim=sim, item_class=job.item_class)
        shop_s = shop_scores(dets.embeddings, head, shop_emb) if len(dets) else None
        max_gap = cfg.tracker.max_gap if cfg.tracker.max_gap is not None else 2 * cfg.stride
        nf = src.frames
        sampled = n_sampled if isinstance(n_sampled, list) else frame_indices(nf, cfg.stride)
        tracklets = []
        if gt is not None:
            # the boxes of the frames skipped next to its ends join the file; the signals below stay
            # those of the sampled frames (the flags are fitted on them)
            gt_w, dets_w = gt, dets
            if cfg.detect_skipped_ends:
                gt_w, dets_w = self.continue_into_skipped(src, dets, gt, sampled, head, shop_emb)
            shop_w = shop_s if dets_w is dets else shop_scores(dets_w.embeddings, head, shop_emb)
            tracklets.append(self._tracklet(job.video_path, dets_w, gt_w, "training", shop_w, max_gap, nf))
        tracklets += [self._tracklet(job.video_path, dets, t, "inference", shop_s, max_gap, nf) for t in inf]
        signals: dict[str, float] = {}
        if not len(dets):
            reason = "no detections"
        elif gt is None:
            reason = f"no detection matches the shop image (best {float(shop_s.max()):.2f})"
        else:
            signals = self.signals(dets, gt, shop_s, sampled, job.item_class, inf)
            opinion = second(gt.pivot) if second is not None else None
            if opinion is not None:
                signals["pivot_second"] = opinion
            signals = rounded(signals)
            reason = cfg.review.reason(signals)
        return VideoTracklets(
            product_id=job.product_id,
            video=job.video_path,
            frames=src.frames,
            width=src.width,
            height=src.height,
            tracklets=tracklets,
            ground_truth=0 if gt is not None else None,
            detector=self.detector.version,
            matcher=matcher_tag or self.matcher_tag,
            needs_review=reason is not None,
            review_reason=reason,
            signals=signals,
        )

    def process(
        self, dataset: Path, job: VideoJob, timings: dict[str, float]
    ) -> tuple[VideoTracklets, int, int]:
        """One video end to end; returns the result, frames detected and detections."""
        shop_path = resolve_under(dataset, job.img_path, what="img_path", where=job.product_id)
        shop_emb = self.shop_embedding(shop_path)
        src = VideoSource(
            resolve_under(dataset, job.video_path, what="video_paths", where=job.product_id),
            backend=self.config.video_backend,
        )
        keep = self.pivot_candidates(shop_emb, job.item_class)
        skipped = (self.skipped_frames, self.skipped_seconds)
        try:
            dets, idx = self.detect_video(src, timings, keep)
            t = time.perf_counter()
            second = None if keep is None else partial(self.pivot_second_score, keep, shop_path)
            vt = self.track(job, src, dets, idx, shop_emb, second=second)
            timings["track"] += time.perf_counter() - t
            if vt.ground_truth is None and len(dets) and self.fallback_tag is not None:
                # nothing matched the RoI shop descriptor: match this video again on the crop path
                t = time.perf_counter()
                shop_c = self.crop_shop_embedding(shop_path)
                dets_c = self.crop_embeddings(src, dets, idx)
                t1 = time.perf_counter()
                timings["embed"] += t1 - t
                vt = self.track(job, src, dets_c, idx, shop_c, self.crop_embedder().m, self.fallback_tag)
                timings["track"] += time.perf_counter() - t1
        finally:
            src.close()
        # the frames skipped next to the ground-truth tracklet's ends, detected while tracking
        extra = self.skipped_seconds - skipped[1]
        timings["detect"] += extra
        timings["track"] -= extra
        return vt, len(idx) + self.skipped_frames - skipped[0], len(dets)

    def is_done(self, dataset: Path, job: VideoJob) -> bool:
        """Whether ``job``'s tracklet file is done (:meth:`redo_reason` gives none)."""
        return self.redo_reason(dataset, job) is None

    def redo_reason(self, dataset: Path, job: VideoJob) -> str | None:
        """Why ``job``'s video is to be built (again), or None when its tracklet file is done: it
        exists, reads, is about this video and product, was built with these weights and this
        matcher, its signals can be settled, and its build record (when it has one: older files
        have none) names these settings and inputs."""
        p = job.tracklet_file(dataset)
        if not p.is_file():
            return "not built"
        try:
            done = read_done_file(p)
        except DataFormatError:
            return "unreadable tracklet file"
        vt = done.view
        if vt.product_id != job.product_id or vt.video != job.video_path:  # another product's or video's
            return "another product's or video's file"
        done_by = {self.matcher_tag, self.fallback_tag} - {None}
        # the same weights under another file name are the same detector (its content hash)
        if not same_weights(vt.detector, self.detector.version) or vt.matcher not in done_by:
            return "other weights"
        if vt.ground_truth is not None and vt.signals and lacks_required(vt.signals):
            return "signals incomplete"
        if done.record is None:
            return None  # an older build's file: done (counted apart by the build)
        return stale_record(dataset, job, done.record, self.settings)


@dataclass(frozen=True)
class DoneFile:
    """What a rerun of the build reads of a tracklet file (:func:`read_done_file`)."""

    view: TrackletFileBuild | VideoTracklets
    official: dict[str, list[float]]  #: its ground truth as the split files write it
    record: dict | None  #: its build record (:func:`read_build_record`)
    #: its ground truth is the builder's choice (the detector's tracklet, as its build record names
    #: it): no review pick, import, edit or split-file ground truth kept (:func:`human_work`)
    chosen: bool = False


def _builders_choice(
    detector: str | None,
    modes: list[Any],
    ground_truth: int | None,
    recorded: Any,
    digest: Callable[[], str | None],
) -> bool:
    """Whether a tracklet file's ground truth is the one its build chose (see :attr:`DoneFile.chosen`):
    built by a detector, no tracklet an import made, tracklet 0 and a training-tracking one (not
    an inference one, which a review pick made the ground truth, nor the split file's own, kept
    as tracklet 0 when the detector found no tracklet), and the one its build record names
    (``recorded``: None when the record names none, an older build's file; ``digest``: gives
    :func:`tracklet_digest` of the ground truth, asked only then)."""
    if detector is None or "manual" in modes or ground_truth != 0 or modes[0] != "training":
        return False
    return recorded is None or recorded == digest()


def read_done_file(p: Path) -> DoneFile:
    """The tracklet file ``p`` read light (:class:`TrackletFileBuild`): its fields as
    :func:`read_video_tracklets` checks them and its ground-truth tracklet (validated only when
    it is not the one its build record's digest names), but of the other tracklets only their
    video, so a rerun with nothing to build does not validate every box of 15K files. A file
    that does not read that way is read in full, which words the problem (:class:`DataFormatError`)."""
    try:
        return _read_light(p)
    except (OSError, ValueError):
        vt = read_video_tracklets(p)
    record = read_build_record(p)
    chosen = _builders_choice(
        vt.detector,
        [t.mode for t in vt.tracklets],
        vt.ground_truth,
        (record or {}).get("ground_truth"),
        lambda: ground_truth_digest(vt),
    )
    return DoneFile(vt, vt.official(), record, chosen)


def _read_light(p: Path) -> DoneFile:
    """:func:`read_done_file` without the full read (a :class:`ValueError` or :class:`OSError`
    when the full read may refuse the file)."""
    data = pydantic_core.from_json(read_file_bytes(p, what="tracklet file"))
    view = TrackletFileBuild.model_validate(data)
    if set(data) - VideoTracklets.model_fields.keys() or any(
        set(t) - Tracklet.model_fields.keys() for t in data["tracklets"]
    ):
        raise ValueError(f"{p}: unknown keys")  # the full read refuses them
    if file_owner_problem(p.name, view) is not None or any(t.video != view.video for t in view.tracklets):
        raise ValueError(f"{p}: not its video's file")
    record = read_build_record(p)
    official: dict[str, list[float]] = {}
    chosen = False
    if view.ground_truth is not None:
        gt = data["tracklets"][view.ground_truth]
        recorded = record.get("ground_truth") if record else None
        if record and recorded == tracklet_digest(gt):  # as the builder wrote it
            official = {k: gt["boxes"][k] for k in sorted(gt["boxes"], key=int)}
            same: Callable[[], str | None] = lambda: recorded  # noqa: E731
        else:
            checked = Tracklet.model_validate(gt)
            official = checked.official()
            same = lambda: tracklet_digest(checked.model_dump(mode="json"))  # noqa: E731
        modes = [t.get("mode") for t in data["tracklets"]]
        chosen = _builders_choice(view.detector, modes, view.ground_truth, recorded, same)
    return DoneFile(view, official, record, chosen)


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    """Nested settings as ``{"detector.conf": 0.1, ...}``."""
    if not isinstance(d, dict):
        return {prefix[:-1]: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def changed_settings(recorded: Any, now: dict[str, Any]) -> list[str]:
    """The settings (dotted names) that differ between a build record's and ``now``. A setting the
    record lacks (added to the toolkit after it was written) counts as changed only when it is
    not at its default; one the record has and ``now`` lacks (dropped) is not compared."""
    if not isinstance(recorded, dict):
        return ["(not recorded)"]
    old, new = _flat(recorded), _flat(now)
    default = _flat(BuildConfig().result_settings())
    return sorted(
        k for k, v in new.items() if (old[k] != v if k in old else k in default and default[k] != v)
    )


def _stamp(path: Path) -> dict[str, Any] | None:
    """Size and mtime of a file (None when it cannot be read)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _input_paths(root: Path, job: VideoJob) -> dict[str, Path | None]:
    """The video and shop image a job is built from (None: a path the dataset refuses)."""
    out: dict[str, Path | None] = {}
    for key, rel, what in (("video", job.video_path, "video_paths"), ("shop", job.img_path, "img_path")):
        try:
            out[key] = resolve_under(root, rel, what=what, where=job.product_id)
        except MFError:
            out[key] = None
    return out


def input_stamps(root: Path, job: VideoJob) -> dict[str, dict[str, Any] | None]:
    """Size and mtime of the job's video and shop image, taken before it is built."""
    return {k: None if p is None else _stamp(p) for k, p in _input_paths(root, job).items()}


def build_record(
    root: Path,
    job: VideoJob,
    vt: VideoTracklets,
    settings: dict[str, Any],
    before: dict[str, dict[str, Any] | None],
) -> dict[str, Any]:
    """The build record of a video just built (:func:`annotations.tracklet_files.write_build_record`):
    ``settings``, its inputs as they were when its build started (``before``, from
    :func:`input_stamps`: size, mtime and SHA-256; no hash when the file changed meanwhile, so
    the next run builds it again), the product's class and the ground truth chosen."""
    inputs: dict[str, Any] = {}
    for key, path in _input_paths(root, job).items():
        stamp = before.get(key)
        entry: dict[str, Any] = {"path": job.video_path if key == "video" else job.img_path}
        if stamp is not None and path is not None:
            entry.update(stamp)
            try:
                digest = sha256_file(path)
            except OSError:
                digest = None
            entry["sha256"] = digest if _stamp(path) == stamp else None
        inputs[key] = entry
    return {
        "settings": settings,
        **inputs,
        "item_class": job.item_class,
        "ground_truth": ground_truth_digest(vt),
    }


def _same_input(path: Path | None, rel: str, recorded: Any) -> bool:
    """Whether the input at ``path`` (dataset path ``rel``) is the file a build record describes:
    same size and, at the same path, the same mtime, else the same SHA-256 (a copy that did not
    keep mtimes costs one hash, not a rebuild). An input that cannot be read now counts as the
    same (the tracklets stay; building the video again would only fail)."""
    if not isinstance(recorded, dict):
        return False
    now = None if path is None else _stamp(path)
    if now is None:
        return True
    if "size" not in recorded:  # not readable when the video was built, readable now
        return False
    if now["size"] != recorded["size"]:
        return False
    if recorded.get("path") == rel and now["mtime_ns"] == recorded.get("mtime_ns"):
        return True
    digest = recorded.get("sha256")
    try:
        return digest is not None and sha256_file(path) == digest
    except OSError:
        return True


def stale_record(root: Path, job: VideoJob, record: dict[str, Any], settings: dict[str, Any]) -> str | None:
    """Why a done video's build record no longer fits ``job`` built with ``settings`` (None: it fits)."""
    if not record:
        return "build record unreadable"
    if record.get("pending"):
        return "build interrupted"
    changed = changed_settings(record.get("settings"), settings)
    if changed:
        return f"build settings changed ({', '.join(changed)})"
    paths = _input_paths(root, job)
    if not _same_input(paths["video"], job.video_path, record.get("video")):
        return "video file changed"
    if not _same_input(paths["shop"], job.img_path, record.get("shop")):
        return "shop image changed"
    # another class (entries.jsonl, after `mf clean` re-classified the product); a class known on
    # one side only (a folder published since, a job made without entries.jsonl) is not compared
    if None not in (record.get("item_class"), job.item_class) and record.get("item_class") != job.item_class:
        return "product class changed"
    return None


#: the review flag of a kept file whose video changed since its build
VIDEO_CHANGED_REASON = (
    "video file changed since the build, the tracklets hold a person's work: check that the boxes"
    " still fit (mf-tracklets build --discard-corrections builds it again)"
)

#: reasons to build a video again under which its file is not one to keep (none, unreadable, another's)
_NOT_KEPT = ("not built", "unreadable tracklet file", "another product's or video's file")


def human_work(vt: VideoTracklets, record: dict | None) -> str | None:
    """What a person put into a tracklet file that building its video again would not give back
    (None: nothing): ``"import"`` (a tracklet an import changed or added, ``mode="manual"``, or a
    file an import made from the split file's tracklet: no detector built it), ``"review pick"``
    (the ground truth is not tracklet 0, or is an inference tracklet: the builder puts the one it
    chose, by training tracking, first),
    ``"edited"`` (the ground truth is not the one its build record says the builder chose)."""
    if vt.detector is None or any(t.mode == "manual" for t in vt.tracklets):
        return "import"
    gt = vt.ground_truth_tracklet()
    if gt is not None and (vt.ground_truth != 0 or gt.mode == "inference"):
        return "review pick"
    built = record.get("ground_truth", "") if record and not record.get("pending") else ""
    return "edited" if built != "" and built != ground_truth_digest(vt) else None


def _when(at: Any) -> float | None:
    """An ISO time as POSIX seconds (None: none, or not a time)."""
    try:
        return datetime.fromisoformat(at).timestamp()
    except (TypeError, ValueError):
        return None


#: the review sources :func:`review_accepts` reads, as :class:`Accept` and a build record name
#: them: the ``.review.jsonl`` log, the page's default catalog ``DATASET/.review.sqlite``, and
#: the build's catalog (``catalog:<digest of its path from the dataset folder>``) when it is another file
LOG_SOURCE, PAGE_SOURCE = "log", "page"
#: the build record's key for how far each review source went when its build wrote the file
#: (:attr:`ReviewAccepts.reach`); a record an older build wrote has none
REVIEW_SEEN = "review_seen"


@dataclass(frozen=True)
class Accept:
    """A video's latest verdict in one review source, an accept: ``place`` orders it in that
    source (the log's record number, the catalog's decision id: both given in the order the
    decisions were made, whatever the clocks); ``at`` is the recording host's clock (POSIX s)."""

    source: str
    place: int
    at: float


@dataclass
class ReviewAccepts:
    """When each video's latest review verdict, an accept, was made (POSIX seconds): by review
    name (the stem of its tracklet file, ``.review.jsonl``) and by (video, product) (catalogs);
    each accept with its place in its source (:class:`Accept`), and how far each source went."""

    accepts_by_name: dict[str, Accept] = field(default_factory=dict)
    accepts_by_key: dict[tuple[str, str], list[Accept]] = field(default_factory=dict)
    #: each source's last place when read (the log's record count, a catalog's highest decision id)
    reach: dict[str, int] = field(default_factory=dict)

    def at(self, job: VideoJob) -> float | None:
        return max((a.at for a in self.of(job)), default=None)

    def of(self, job: VideoJob) -> list[Accept]:
        """``job``'s accepts, one per source that holds one."""
        named = self.accepts_by_name.get(job.key)
        return [*([named] if named else []), *self.accepts_by_key.get((job.video_path, job.product_id), [])]

    def since(self, job: VideoJob, seen: dict[str, int]) -> bool:
        """Whether an accept of ``job``'s lies beyond ``seen`` (a :attr:`reach` read earlier) in
        its source; a source ``seen`` lacks (made since) counts from nothing."""
        return any(a.place > seen.get(a.source, 0) for a in self.of(job))


def review_accepts(root: Path, cat: Any) -> ReviewAccepts:
    """The accepts of ``mf-tracklets review --accept`` (``.review.jsonl``) and of the review page
    (the build's catalog ``cat``, and ``DATASET/.review.sqlite``, the page's default): a source
    that does not read is passed over with a warning."""
    from annotations.review.marks import read_decision_records
    from schemas.catalog import Catalog

    out = ReviewAccepts()
    try:
        records = read_decision_records(root)
    except MFError as exc:
        log.warning("review accepts of .review.jsonl not read (%s)", exc)
    else:
        _log_accepts(records, out)
    page = root / ".review.sqlite"
    if cat is not None:
        _catalog_accepts(cat, _catalog_source(root, cat), out)
    if page.is_file() and (cat is None or Path(cat.path).resolve() != page.resolve()):
        try:
            with Catalog(page, read_only=True) as db:
                _catalog_accepts(db, PAGE_SOURCE, out)
        except MFError as exc:
            log.warning("review accepts of %s not read (%s)", page, exc)
    return out


def _catalog_source(root: Path, cat: Any) -> str:
    """How :class:`Accept` names the build's catalog ``cat`` (:data:`PAGE_SOURCE` when it is the
    page's default one): by a digest of its path relative to the dataset folder, so that no build
    record holds a path and a folder moved or copied with its catalog names it alike."""
    path = Path(cat.path).resolve()
    if path == (root / ".review.sqlite").resolve():
        return PAGE_SOURCE
    rel = os.path.relpath(path, root.resolve())
    return f"catalog:{hashlib.sha256(rel.encode()).hexdigest()[:16]}"


def _log_accepts(records: list[dict[str, Any]], out: ReviewAccepts) -> None:
    """Add to ``out`` the review names whose latest record of the log is an accept."""
    latest = {rec["video"]: (n, rec) for n, rec in enumerate(records, 1)}
    for name, (n, rec) in latest.items():
        when = _when(rec.get("at"))
        if rec.get("decision") == "accept" and when is not None:
            out.accepts_by_name[name] = Accept(LOG_SOURCE, n, when)
    out.reach[LOG_SOURCE] = len(records)


def _catalog_accepts(cat: Any, source: str, out: ReviewAccepts) -> None:
    """Add to ``out`` the reviews of ``cat`` whose latest live verdict (by decision id: the order
    they were made) is an accept."""
    from schemas.review import VERDICTS, list_decisions

    latest: dict[tuple[str, str], Any] = {}
    top = 0
    for d in list_decisions(cat, include_undone=True):  # in id order
        top = max(top, d.id)
        if d.kind in VERDICTS and d.undone_at is None:
            latest[(d.video, d.product_id)] = d
    for key, d in latest.items():
        when = _when(d.at)
        if d.kind == "accept" and when is not None:
            out.accepts_by_key.setdefault(key, []).append(Accept(source, d.id, when))
    out.reach[source] = top


def kept_work(root: Path, job: VideoJob, accepts: ReviewAccepts) -> str | None:
    """The person's work ``job``'s tracklet file holds (:func:`human_work`, or ``"review accept"``:
    accepted after its build, :func:`accepted_after_build`), None when none (or the file is not
    this job's to keep)."""
    p = job.tracklet_file(root)
    try:
        vt = read_video_tracklets(p, video=job.video_path, product_id=job.product_id)
    except DataFormatError:
        return None
    record = read_build_record(p)
    work = human_work(vt, record)
    if work is None and accepted_after_build(p, job, accepts, record):
        work = "review accept"
    return work


def accepted_after_build(p: Path, job: VideoJob, accepts: ReviewAccepts, record: dict | None) -> bool:
    """Whether a reviewer accepted ``job``'s file ``p`` after its build wrote it: an accept beyond
    what its build record says the build saw of that source (:data:`REVIEW_SEEN`). For a source
    the record does not name (a record an older build wrote; a catalog that build did not read)
    only clocks are left: the accept's time against the record file's mtime, as before. No build
    record: any accept."""
    found = accepts.of(job)
    if record is None or not found:
        return bool(found)
    seen = record.get(REVIEW_SEEN)
    seen = seen if isinstance(seen, dict) else {}
    built: dict[str, Any] | None = None
    for a in found:
        limit = seen.get(a.source)
        if isinstance(limit, int):
            if a.place > limit:
                return True
            continue
        built = built or _stamp(build_record_file(p))
        if built is None or a.at * 1e9 > built["mtime_ns"]:
            return True
    return False


def catalog_flag_times(cat: Any) -> dict[str, float]:
    """When the builder last marked each video's product needs_review in ``cat`` (POSIX
    seconds), by video stem: the ``tracklets`` events :func:`annotations.review.marks.mark_needs_review`
    logs, ``needs_review: <video stem>: <reason>``."""
    from annotations.review.marks import STAGE

    out: dict[str, float] = {}
    for ev in cat.events(STAGE):
        msg = ev.get("message") or ""
        if not msg.startswith("needs_review: ") or ": " not in msg[len("needs_review: ") :]:
            continue
        stem = msg[len("needs_review: ") :].split(": ", 1)[0]
        when = _when(ev.get("at"))
        if when is not None:
            out[stem] = max(when, out.get(stem, when))
    return out


def accepted_since_flag(job: VideoJob, accepts: ReviewAccepts, flags: dict[str, float]) -> bool:
    """Whether a reviewer accepted ``job``'s video after the builder's catalog flag of it
    (``flags``: :func:`catalog_flag_times`): the accept decided that flag, so a build of the video
    anew (its file is gone: one an older ``mf publish`` deleted while it held the product back)
    does not mark the product needs_review again (its file keeps the flag it was built with;
    settling leaves it this run, as it leaves kept work). An accept made before any flag (of the
    association check, say) decides nothing about the tracklets."""
    accepted, flagged = accepts.at(job), flags.get(job.stem)
    return accepted is not None and flagged is not None and accepted > flagged


def flag_changed_video(root: Path, job: VideoJob) -> tuple[bool, Path | None]:
    """Flag a kept file whose video changed since its build (its boxes may not fit the new
    one): (whether the video changed, the file when it is flagged now, None when it was flagged
    already). A file whose build record says nothing of the video is not flagged."""
    p = job.tracklet_file(root)
    record = read_build_record(p)
    if not record or not isinstance(record.get("video"), dict):
        return False, None
    if _same_input(_input_paths(root, job)["video"], job.video_path, record["video"]):
        return False, None
    vt = read_video_tracklets(p)
    if vt.needs_review and vt.review_reason == VIDEO_CHANGED_REASON:
        return True, None
    flagged = vt.model_copy(update={"needs_review": True, "review_reason": VIDEO_CHANGED_REASON})
    return True, write_video_tracklets(root, flagged, shared=job.shared)


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    """(inode, size, mtime) of a file, None when there is none: any rewrite (an atomic replace
    gives a new inode) changes it."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _stamps(paths: list[Path]) -> tuple[tuple[int, int, int] | None, ...]:
    return tuple(_file_stamp(p) for p in paths)


def listed_videos(root: Path) -> set[tuple[str, str]] | None:
    """(video, product) of every video the split files list, read light (only ``video_paths``);
    None when one of them does not read that way (then nothing is dropped for it)."""
    out: set[tuple[str, str]] = set()
    for name in SPLIT_FILES:
        try:
            data = pydantic_core.from_json((root / name).read_bytes())
        except FileNotFoundError:
            continue
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        for pid, entry in data.items():
            videos = entry.get("video_paths") if isinstance(entry, dict) else None
            out.update((vp, pid) for vp in videos or [] if isinstance(vp, str))
    return out


@dataclass
class WriteCheck:
    """What the build looks at again, under the dataset's lock, before it writes a video's rebuilt
    file: whether a split file still lists the video for its product (or ``mf publish`` holds it
    back), and whether a person's work came into its file since the build planned it (a review
    pick or an import rewrote it, a reviewer accepted it). The split files, ``.publish-held.json``
    and the review sources are read again only when their size or mtime changed."""

    root: Path
    cat: Any
    #: each video's tracklet file as the build planned from it (:func:`_file_stamp`), by job index
    planned: dict[int, tuple[int, int, int] | None] = field(default_factory=dict)
    #: how far each review source went when the build planned (:attr:`ReviewAccepts.reach`,
    #: taken when this check is made): an accept beyond it is new work
    seen: dict[str, int] = field(default_factory=dict)
    _listed: tuple[Any, set[tuple[str, str]] | None] | None = None
    _held: tuple[Any, set[str]] | None = None
    _accepts: tuple[Any, ReviewAccepts] | None = None

    def __post_init__(self) -> None:
        self.seen = dict(self.accepts().reach)

    def plan(self, i: int, job: VideoJob) -> None:
        """Remember ``job``'s tracklet file as it is now (call it when the job is planned)."""
        self.planned[i] = _file_stamp(job.tracklet_file(self.root))

    def unlisted(self, job: VideoJob) -> bool:
        """Whether no split file lists ``job``'s video for its product now, nor does ``mf
        publish`` hold it back (``.publish-held.json``)."""
        stamp = _stamps([self.root / n for n in SPLIT_FILES])
        if self._listed is None or self._listed[0] != stamp:
            self._listed = (stamp, listed_videos(self.root))
        listed = self._listed[1]
        return (
            listed is not None and (job.video_path, job.product_id) not in listed and not self._is_held(job)
        )

    def _is_held(self, job: VideoJob) -> bool:
        from movingfashion.archive.verify import HELD_TRACKLETS, read_held_videos

        stamp = _file_stamp(self.root / HELD_TRACKLETS)
        if self._held is None or self._held[0] != stamp:
            try:
                held = set(read_held_videos(self.root))
            except MFError as exc:
                log.warning("%s", exc)
                held = set()
            self._held = (stamp, held)
        return job.video_path in self._held[1]

    def accepts(self) -> ReviewAccepts:
        """:func:`review_accepts`, read again when one of its sources changed."""
        files = [self.root / ".review.jsonl", self.root / ".review.sqlite", self.root / ".review.sqlite-wal"]
        if self.cat is not None:
            files += [Path(self.cat.path), Path(f"{self.cat.path}-wal")]
        stamp = _stamps(files)
        if self._accepts is None or self._accepts[0] != stamp:
            self._accepts = (stamp, review_accepts(self.root, self.cat))
        return self._accepts[1]

    def new_work(self, i: int, job: VideoJob) -> str | None:
        """The person's work ``job``'s file got since the build planned it (:func:`kept_work`),
        None when none: its file was rewritten since and holds a person's work, or (unchanged)
        a reviewer accepted it since."""
        p = job.tracklet_file(self.root)
        now = _file_stamp(p)
        if now is None:
            return None
        if now != self.planned.get(i):
            return kept_work(self.root, job, self.accepts())
        return "review accept" if self.accepts().since(job, self.seen) else None

    def reach(self) -> dict[str, int]:
        """How far each review source goes now (a build record names it: :data:`REVIEW_SEEN`)."""
        return dict(self.accepts().reach)


#: the prefix of a build's staging folder in ``tracklets/.build/`` (:class:`Staging`)
STAGING_PREFIX = ".staging-"


class Staging:
    """A build's private folder, ``tracklets/.build/.staging-<host>-<pid>-<random>/`` (hidden: no
    manifest lists it), where each rebuilt tracklet file and its sheet are written and checked,
    outside the dataset's lock; under it they are copied into place (:class:`WriteCheck` first).
    Removed when the build ends; one a killed build of this host left goes at the next build."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder: Path | None = None

    def _make(self) -> Path:
        if self.folder is None:
            parent = self.root / TRACKLET_DIR / BUILD_DIR
            parent.mkdir(parents=True, exist_ok=True)
            prefix = f"{STAGING_PREFIX}{socket.gethostname()}-{os.getpid()}-"
            self.folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        return self.folder

    def tracklets(self, vt: VideoTracklets, shared: bool) -> Path:
        """``vt`` written (validated) as its tracklet file, in the staging folder."""
        return write_video_tracklets(self._make(), vt, shared=shared)

    def sheet(self, vt: VideoTracklets, shared: bool) -> Path:
        """``vt``'s contact sheet drawn into the staging folder."""
        from annotations.sheets import write_sheet

        out = self._make() / f"{tracklet_file(self.root, vt.video, vt.product_id, shared=shared).stem}.png"
        return write_sheet(self.root, vt, out=out, shared=shared)

    def close(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    @staticmethod
    def sweep(root: Path) -> None:
        """Remove the staging folders builds of this host left when they were killed."""
        parent = root / TRACKLET_DIR / BUILD_DIR
        mine = f"{STAGING_PREFIX}{socket.gethostname()}-"
        for d in parent.glob(f"{mine}*") if parent.is_dir() else []:
            pid = d.name[len(mine) :].split("-", 1)[0]
            if d.is_dir() and pid.isdigit() and not pid_alive(int(pid)):
                shutil.rmtree(d, ignore_errors=True)


@dataclass(frozen=True)
class BuilderSpec:
    """How a worker makes its own :class:`TrackletBuilder` (weights as absolute paths)."""

    detector: str
    weights: str | None
    matcher: str | None
    config: BuildConfig


def make_builder(spec: BuilderSpec) -> TrackletBuilder:
    """A worker's builder: the detector and matcher loaded once (pool setup)."""
    det = build_detector(spec.detector, spec.weights, spec.config.detector)
    return TrackletBuilder(
        det, matcher_for(det, spec.config.embed_source, spec.matcher, device=det.device), spec.config
    )


@dataclass
class Processed:
    """One video's result as a worker sends it back."""

    tracklets: VideoTracklets
    frames: int
    detections: int
    timings: dict[str, float]


def process_video(builder: TrackletBuilder, task: tuple[str, VideoJob]) -> Processed:
    """Pool task: one video end to end (nothing written)."""
    dataset, job = task
    timings = dict.fromkeys(BuildReport().timings, 0.0)
    vt, n, nd = builder.process(Path(dataset), job, timings)
    return Processed(vt, n, nd, timings)


def _same(value: Any) -> Any:
    return value


def _absolute(path: str | os.PathLike[str] | None) -> str | None:
    return None if path is None else str(Path(path).absolute())


def merge_official(
    dataset: str | os.PathLike[str], splits: dict[str, OfficialSplit] | None = None
) -> list[str]:
    """Write the ground-truth tracklet of every done video into ``train.json``/``test.json``.

    ``tracklets[i]`` belongs to ``video_paths[i]``; videos without a tracklet file keep what they
    had (or ``{}``). Extra keys are preserved. In a folder this toolkit did not describe, the
    tracklets written from the builder's choice are named in :data:`SPLIT_ORIGIN` (written
    before the split files, then again without what they no longer hold). Returns the split
    files rewritten.

    ``splits`` None: the split files are read product by product
    (:func:`~annotations.tracklet_files.load_splits_rows`): a product whose entry the reader
    refuses (a bad box) is held out, its entry kept in the file as it is (only the other
    products' entries are rewritten: :func:`~schemas.official.write_official_keeping`) and its
    :data:`SPLIT_ORIGIN` record kept.
    """
    root = Path(dataset)
    held: dict[str, set[str]] = {}  # split file -> the products held out of it
    if splits is None:
        read = load_splits_rows(root)
        splits = read.splits
        for b in read.held_out:
            held.setdefault(Path(b.path).name, set()).add(b.product_id)
    else:
        check_tracklet_names(root, splits)
    from movingfashion.archive.describe import described

    shared = shared_videos(splits)
    written = []
    # a folder this toolkit did not describe keeps a record of the tracklets written from the
    # detector's choice (SPLIT_ORIGIN): they are never taken for the archive's own ground truth
    before = None if described(root) else read_split_origin(root)
    origin: SplitOrigin = {}  # what the split files hold from the detector once written
    rewrites: list[tuple[str, OfficialSplit]] = []
    changes: dict[str, OfficialSplit] = {}  # of a file with products held out: the entries changed
    for name, pids in held.items():  # a product held out keeps what its record says
        for pid in pids:
            if (before or {}).get(name, {}).get(pid):
                origin.setdefault(name, {})[pid] = before[name][pid]  # type: ignore[index]
    for name, split in splits.items():
        changed = False
        for pid, entry in split.items():
            old = list(entry.tracklets)
            new = []
            for i, vp in enumerate(entry.video_paths):
                p = tracklet_file(root, vp, pid, shared=vp in shared)  # this product's file of it
                cur = old[i] if i < len(old) else {}
                wrote = (before or {}).get(name, {}).get(pid, {}).get(str(i), [])  # kept if no file
                if p.is_file():
                    try:  # the file must be about this video and product
                        cur, chosen = _official_of(p, vp, pid)
                        if not (chosen and cur):
                            wrote = []
                        elif not wrote or cur != (old[i] if i < len(old) else {}):  # else: named already
                            wrote = [split_tracklet_digest(cur)]
                    except DataFormatError as exc:
                        log.warning("%s: the split file keeps what it had (%s)", name, exc)
                if wrote:
                    origin.setdefault(name, {}).setdefault(pid, {})[str(i)] = wrote
                new.append(cur)
            if len(old) > len(new):  # more tracklets than videos: kept as they are, never dropped
                log.warning(
                    "%s: product %s lists %d tracklets for %d video(s); the extra ones are kept as they"
                    " are (mf verify reports the entry)",
                    name,
                    pid,
                    len(old),
                    len(new),
                )
                new += old[len(new) :]
            if new != old or "tracklets" not in entry.model_fields_set:
                entry.tracklets = new
                changed = True
                if name in held:
                    changes.setdefault(name, {})[pid] = entry
        if changed:
            rewrites.append((name, split))
    grown = _union(before, origin) if before is not None else None
    if grown is not None and grown != before:  # first every digest, old and new: a kill between
        write_split_origin(root, grown)  # the writes leaves no detector's tracklet unnamed
    for name, split in rewrites:
        if name in held:  # its held-out entries stay as the file holds them
            write_official_keeping(root / name, changes[name])
        else:
            write_official(root / name, split)
        written.append(name)
    if before is not None and origin != before:
        write_split_origin(root, origin)  # then only what the split files hold
    return written


def _union(a: SplitOrigin, b: SplitOrigin) -> SplitOrigin:
    """Two :data:`~annotations.tracklet_files.SPLIT_ORIGIN` records in one (every digest of either)."""
    out: SplitOrigin = {}
    for rec in (a, b):
        for name, pids in rec.items():
            for pid, slots in pids.items():
                for i, digests in slots.items():
                    have = out.setdefault(name, {}).setdefault(pid, {}).setdefault(i, [])
                    have += [d for d in digests if d not in have]
    return out


def split_ground_truths(
    root: Path, jobs: dict[int, VideoJob]
) -> tuple[dict[int, dict[int, list[float]]], list[int]]:
    """The tracklet each of ``jobs`` (videos to build that have no tracklet file, by index) holds
    in its split-file entry now, by index: the archive's own ground truth (the authors' tracklets
    of the real MovingFashion files, or one a person put there), which :func:`merge_official`
    would otherwise replace with the detector's. Only in a folder this toolkit did not describe
    (:func:`movingfashion.archive.describe.described`): in one it did (``mf publish``,
    ``mf world export-gt``), a split-file tracklet without its file is a copy of a file deleted
    since, and the video is built as before. Entries without a box are left out. Read once, before
    the build: each built file carries its ground truth from its first write, so a build killed
    outright (SIGKILL, the OOM killer) leaves no file the rerun would merge over it. A split-file
    tracklet an earlier build wrote from the detector's choice (:data:`SPLIT_ORIGIN` names it:
    its tracklet file was deleted since) is no ground truth of the archive's: those jobs are
    returned apart (second), and built as any video without one."""
    from movingfashion.archive.describe import described

    if not jobs or described(root):  # its split files' tracklets are copies of its tracklet files'
        return {}, []
    splits = load_splits_rows(root).splits  # a product held out has no job
    origin = read_split_origin(root)
    out, theirs = {}, []
    for i, job in jobs.items():
        entry = splits.get(job.split_file, {}).get(job.product_id)
        if entry is None or job.video_path not in entry.video_paths:
            continue  # no split file lists it for this product: merge_official leaves it
        index = entry.video_paths.index(job.video_path)
        if index < len(entry.tracklets) and detector_wrote(
            origin, job.split_file, job.product_id, index, entry.tracklets[index]
        ):
            theirs.append(i)  # an earlier build's detector choice: built as before
            continue
        boxes = entry.tracklet_boxes(index)
        if boxes:
            out[i] = boxes
    return out, theirs


def with_split_ground_truth(
    vt: VideoTracklets, boxes: dict[int, list[float]], review: ReviewConfig | None = None
) -> tuple[VideoTracklets, float | None] | None:
    """``vt`` with ``boxes`` (:func:`split_ground_truths`) joined as its ground truth
    (``mode="ground-truth"``; the detector's tracklets stay, for queries and review), and how well
    the detector's tracklet agrees with it (:func:`schemas.geometry.common_frame_iou`; None: the
    detector chose none); None when the detector chose the same boxes. The review flag is the
    kept ground truth's: raised only when the detector's tracklet disagrees with it beyond
    ``review.split_truth_min_iou`` (:meth:`ReviewConfig.split_truth_reason`), never from the
    detector's signals, which are of its own choice (they stay in the file). The build record
    keeps the builder's choice, so the file counts as a person's work (:func:`human_work`): the
    end-of-build pass leaves its flag as it is, and a rebuild keeps it unless ``--discard-corrections``."""
    gt = vt.ground_truth_tracklet()
    if gt is not None and gt.official() == {str(f): list(b) for f, b in sorted(boxes.items())}:
        return None
    agreement, frames = common_frame_iou(gt.boxes, boxes) if gt is not None else (None, 0)
    reason = (review or ReviewConfig()).split_truth_reason(agreement, frames)
    kept = Tracklet(video=vt.video, boxes=boxes, mode="ground-truth")
    joined = vt.model_copy(
        update={
            "tracklets": [*vt.tracklets, kept],
            "ground_truth": len(vt.tracklets),
            "needs_review": reason is not None,
            "review_reason": reason,
        }
    )
    return joined, None if agreement is None else round(agreement, SCORE_DECIMALS)


def _official_of(p: Path, video: str, product_id: str) -> tuple[dict[str, list[float]], bool]:
    """The ground truth of the tracklet file ``p`` of ``video`` listed under ``product_id``, as
    the split files write it, read light (:func:`read_done_file`), and whether it is the
    builder's choice (:attr:`DoneFile.chosen`); a file about another video or product is refused
    as :func:`read_video_tracklets` refuses it."""
    done = read_done_file(p)
    if done.view.video != video or done.view.product_id != product_id:
        read_video_tracklets(p, video=video, product_id=product_id)  # raises, naming the mismatch
    return done.official, done.chosen


def _adopt_single_file(root: Path, video_path: str, products: set[str]) -> None:
    """An older build's one tracklet file of a video several products list belongs to the product
    it names: it becomes that product's file (with its sheet), keeping what was imported or
    picked in it; the other products' files are built. A file naming no such product goes."""
    from annotations.sheets import sheet_path

    old = tracklet_file(root, video_path)
    try:
        owner = read_video_tracklets(old).product_id
    except DataFormatError:
        owner = None
    new = tracklet_file(root, video_path, owner, shared=True) if owner in products else None
    if new is not None and not new.exists():
        old_sheet, new_sheet = sheet_path(root, video_path), sheet_path(root, video_path, owner, shared=True)
        if old_sheet.is_file() and not new_sheet.exists():
            old_sheet.replace(new_sheet)
        old.replace(new)
        if build_record_file(old).is_file():
            build_record_file(old).replace(build_record_file(new))
        return
    old.unlink(missing_ok=True)
    build_record_file(old).unlink(missing_ok=True)
    sheet_path(root, video_path).unlink(missing_ok=True)


def _product_files(folder: Path) -> dict[str, dict[str, Path]]:
    """Video stem -> product -> file, of every ``<stem>@<product>.json`` in ``folder``
    (:func:`schemas.tracklet_names.split_stem`: the product follows the last ``@``; the file of a
    video whose stem holds a ``@`` is filed too: its content says whose it is)."""
    out: dict[str, dict[str, Path]] = {}
    if not folder.is_dir():
        return out
    with os.scandir(folder) as it:
        for e in it:
            base = e.name.removesuffix(".json")
            if base == e.name or not e.is_file():
                continue
            stem, pid = split_stem(base)
            if pid is not None:
                out.setdefault(stem, {})[pid] = folder / e.name
    return out


def _sheet_of(path: Path) -> Path:
    """The contact sheet of the tracklet file ``path`` (:func:`annotations.sheets.sheet_path`)."""
    from annotations.sheets import SHEET_DIR

    return path.parent / SHEET_DIR / f"{path.stem}.png"


def _remove_file(path: Path) -> None:
    """Remove a tracklet file, its build record and its sheet."""
    path.unlink(missing_ok=True)
    build_record_file(path).unlink(missing_ok=True)
    _sheet_of(path).unlink(missing_ok=True)


def _keep_which(own: Path, own_vt: VideoTracklets, plain: Path, plain_vt: VideoTracklets) -> tuple[bool, str]:
    """(whether the product's ``@`` file ``own`` wins over the video's ``plain`` file, why): the
    one holding a person's work (:func:`human_work`), else (both or neither) the newer one."""
    works = [human_work(vt, read_build_record(p)) for p, vt in ((own, own_vt), (plain, plain_vt))]
    if (works[0] is None) != (works[1] is None):
        i = 0 if works[0] is not None else 1
        return i == 0, f"holds a person's work ({works[i]})"
    newer = own.stat().st_mtime_ns > plain.stat().st_mtime_ns
    both = " (both hold a person's work)" if works[0] is not None else ""
    return newer, f"newer build{both}"


def _adopt_unshared_file(root: Path, video_path: str, product_id: str, own: Path) -> dict[str, str]:
    """Product ``product_id``'s file ``own``, ``<stem>@<product>.json``, of a video only it lists
    now becomes the video's ``<stem>.json`` (the mirror of :func:`_adopt_single_file`), build
    record and sheet with it; when ``<stem>.json`` is this product's file too, the one to keep is
    chosen by :func:`_keep_which` and the other goes. Returns the report entry."""
    plain = tracklet_file(root, video_path)
    entry = {"video": video_path, "file": f"{TRACKLET_DIR}/{plain.name}", "kept": own.name}
    try:
        plain_vt = read_video_tracklets(plain, video=video_path, product_id=product_id)
    except DataFormatError:  # none, or not this product's: replaced
        plain_vt = None
    keep, why = True, "the video's only file"
    if plain_vt is not None:
        own_vt = read_video_tracklets(own, video=video_path, product_id=product_id)
        keep, why = _keep_which(own, own_vt, plain, plain_vt)
    entry["why"] = why
    if not keep:
        entry["kept"] = plain.name
        _remove_file(own)
        return entry
    old_sheet, new_sheet = _sheet_of(own), _sheet_of(plain)
    if old_sheet.is_file():
        old_sheet.replace(new_sheet)
    else:  # the video's sheet drew the file replaced
        new_sheet.unlink(missing_ok=True)
    if build_record_file(own).is_file():
        build_record_file(own).replace(build_record_file(plain))
    else:  # the record of the file replaced says nothing of this one
        build_record_file(plain).unlink(missing_ok=True)
    own.replace(plain)
    return entry


def settle_product_files(
    root: Path, jobs: list[VideoJob], rep: BuildReport, held_videos: Iterable[tuple[str, str]] = ()
) -> None:
    """The ``<stem>@<product>.json`` files of the jobs' videos that belong to no product now: one
    of a product that no longer lists the video goes; one of the only product listing it
    becomes the video's ``<stem>.json`` (:func:`_adopt_unshared_file`). A file that does not
    read, or is about another video, is left to ``mf verify``. ``held_videos``: ``(video,
    product)`` of the products held out, which still list their videos (their files stay).
    Counted in ``rep``; call it holding the dataset's lock."""
    index = _product_files(root / TRACKLET_DIR)
    products: dict[str, set[str]] = {}
    shared: dict[str, bool] = {}
    for j in jobs:
        products.setdefault(j.video_path, set()).add(j.product_id)
        shared[j.video_path] = j.shared
    for vp, pid in held_videos:
        if vp in products:
            products[vp].add(pid)
    for vp in sorted(products):
        files = {p: f for head in stem_heads(Path(vp).stem) for p, f in index.get(head, {}).items()}
        for pid, path in sorted(files.items()):
            try:
                vt = read_video_tracklets(path)
            except DataFormatError:
                continue
            if vt.video != vp:
                continue
            if pid not in products[vp]:
                _remove_file(path)
                rep.removed_unlisted.append(f"{TRACKLET_DIR}/{path.name}")
            elif not shared[vp]:
                rep.adopted_unshared_videos.append(_adopt_unshared_file(root, vp, pid, path))
                rep.adopted_unshared += 1


def build_dataset_tracklets(
    dataset: str | os.PathLike[str],
    *,
    detector: str = "ultralytics",
    weights: str | os.PathLike[str] | None = None,
    matcher: str | os.PathLike[str] | None = None,
    config: BuildConfig | None = None,
    shard: tuple[int, int] = (0, 1),
    catalog: str | os.PathLike[str] | None = None,
    force: bool = False,
    discard_corrections: bool = False,
    sheets: bool = False,
    write_official_json: bool = True,
    on_video: Callable[[VideoJob, str, BuildReport], None] | None = None,
    builder: TrackletBuilder | None = None,
    executor: Executor | None = None,
    gpus_per_worker: float | None = None,
    on_bad: OnBad = "skip",
) -> BuildReport:
    """Build tracklets for every video of ``dataset`` in this shard (see the module docstring).

    ``on_video(job, outcome, report)`` is called after each video (outcome: done/skipped/failed,
    or dropped: built, but no split file lists it any more),
    e.g. for a progress bar. ``builder`` reuses already loaded models. ``executor`` spreads the
    videos (default: this process); ``gpus_per_worker`` is each remote worker's GPU share
    (default: one GPU each when the cluster has GPUs, else none). A file holding a person's
    work due to be built again (``force`` too) is kept unless ``discard_corrections``
    (:func:`kept_work`).

    One build of a shard at a time: it holds ``.build-<k>of<n>.lock`` (in the dataset) for the whole
    run, and a second build of the same shard stops at once (:class:`~schemas.atomic.LockBusy`,
    exit 2, naming the first) instead of building every video again beside it.

    ``on_bad`` (as ``MovingFashionDataset``'s): with ``"skip"`` (default) a product whose
    split-file entry the reader refuses (a bad box, a missing or malformed field) is held out:
    named in a warning and in ``report.held_out`` (file, product, video and frame key when known,
    what to do), its videos neither built nor merged, its entry and files left as they are; the
    other products are built. ``"raise"`` refuses the dataset at the first such entry
    (:class:`DataFormatError`), before anything is written.
    """
    root = Path(dataset)
    tracklet_folders(root)  # every file the build writes or removes stays inside the dataset
    return _build_dataset(
        root, detector, weights, matcher, config, shard, on_video, builder, write_official_json,
        catalog, force, discard_corrections, sheets, executor, gpus_per_worker, on_bad,
    )  # fmt: skip


def _build_dataset(
    root: Path,
    detector: str,
    weights: Any,
    matcher: Any,
    config: BuildConfig | None,
    shard: tuple[int, int],
    on_video: Callable[[VideoJob, str, BuildReport], None] | None,
    builder: TrackletBuilder | None,
    write_official_json: bool,
    catalog: Any,
    force: bool,
    discard_corrections: bool,
    sheets: bool,
    executor: Executor | None,
    gpus_per_worker: float | None,
    on_bad: OnBad = "skip",
) -> BuildReport:
    """:func:`build_dataset_tracklets`: every check, then the work under its shard's build lock."""
    ex = executor or LocalExecutor()
    cfg = config or BuildConfig()
    read = load_splits_rows(root, on_bad)  # not kept: the split files are read again to be merged
    if not any(read.splits.values()):  # nothing to build: one error, before any lock or file
        raise all_held_out(read.held_out) if read.held_out else no_product_in([root / n for n in read.splits])
    jobs = video_jobs(read.splits, shard, held_videos=read.held_videos)
    warn_held_out(read.held_out, "the build", log)
    if (root / "entries.jsonl").is_file():
        classes = read_entry_classes(root / "entries.jsonl")
        for job in jobs:
            job.item_class = classes.get(job.product_id)
    cat = None
    if catalog is not None:  # opened and checked before any work: a damaged one is refused, and
        from annotations.review.marks import open_catalog, require_catalog_knows_dataset

        require_catalog_knows_dataset(root, catalog)  # one of another collection
        cat = open_catalog(catalog)
    lock = contextlib.ExitStack()
    try:  # after every refusal (a bad split file, a damaged catalog): nothing written before
        lock.enter_context(
            file_lock(
                root / f".build-{shard[0]}of{shard[1]}.lock",
                timeout_s=0,
                who="another mf-tracklets build of this shard runs on this dataset",
                hint="wait for it to finish: a rerun then skips every video it built",
            )
        )
    except BaseException:
        if cat is not None:
            cat.close()
        raise
    early = None
    run: BuildRun | None = None
    try:
        # a killed build's leftovers
        sweep_partials(
            root, root / TRACKLET_DIR, root / TRACKLET_DIR / "sheets", root / TRACKLET_DIR / BUILD_DIR
        )
        Staging.sweep(root)
        run = BuildRun.new(shard)  # its line of the refresh-pending mark
        remote = BuilderSpec(detector, _absolute(weights), _absolute(matcher), cfg) if ex.remote else None
        load: Callable[[], TrackletBuilder] | None = None
        known: BuilderIdentity | None = None
        if builder is None:
            # remote workers load their own models: the copy here (versions, checks) stays on the CPU
            here = cfg.model_copy(update={"detector": cfg.detector.model_copy(update={"device": "cpu"})})
            key = _identity_key(detector, weights, matcher, here if ex.remote else cfg)
            load = partial(
                _load_remembered, root, key, detector, weights, matcher, here if ex.remote else cfg
            )
            if remote is not None and any(force or not j.tracklet_file(root).is_file() for j in jobs):
                # videos to build for sure: the workers load their models while this process loads its copy
                builder, early = _beside_pool(load, partial(_remote_pool, ex, remote, gpus_per_worker))
            elif not force:  # the models are loaded once a video is due (none: a rerun that loads nothing)
                known = known_identity(root, key, here if ex.remote else cfg)
            if builder is None and known is None:
                builder = load()
        return _build_jobs(
            root,
            jobs,
            builder or known,  # type: ignore[arg-type]
            cat,
            ex,
            remote=remote,
            gpus_per_worker=gpus_per_worker,
            force=force,
            discard_corrections=discard_corrections,
            sheets=sheets,
            on_video=on_video,
            write_official_json=write_official_json,
            pool=early,
            run=run,
            load=load,
            held=read,
        )
    finally:
        if run is not None:
            run.close()
        if early is not None:
            early.close()
        if cat is not None:
            cat.close()
        lock.close()


#: what the last build of a dataset loaded, keyed by what it loaded it from (hidden, in the
#: dataset: :func:`known_identity`)
IDENTITY_FILE = ".build-identity.json"


@dataclass(frozen=True)
class DetectorName:
    """A detector as a done tracklet file names it (:attr:`Detector.version`), without its model."""

    version: str


@dataclass
class BuilderIdentity:
    """What :meth:`TrackletBuilder.redo_reason` compares a tracklet file with, without the models:
    the detector's version, the matcher's tags and the settings a build with the same weights,
    matcher and config loaded last time (:func:`known_identity`). A rerun with nothing to build
    decides so with it and loads no model; each video's reason is kept (asked once)."""

    detector: DetectorName
    matcher_tag: str
    fallback_tag: str | None
    settings: dict[str, Any]
    config: BuildConfig
    reasons: dict[str, str | None] = field(default_factory=dict)

    def redo_reason(self, dataset: Path, job: VideoJob) -> str | None:
        """:meth:`TrackletBuilder.redo_reason`, read once per video."""
        if job.key not in self.reasons:
            self.reasons[job.key] = TrackletBuilder.redo_reason(self, dataset, job)  # type: ignore[arg-type]
        return self.reasons[job.key]

    def nothing_due(self, dataset: Path, jobs: list[VideoJob]) -> bool:
        """Whether every video of ``jobs`` is done (stops at the first one that is not)."""
        return all(self.redo_reason(dataset, job) is None for job in jobs)


def _identity_key(detector: str, weights: Any, matcher: Any, cfg: BuildConfig) -> Any:
    """What a builder's identity follows from: the detector backend, the weights and matcher
    given (paths and file stamps), the settings that change the files, and the stamps of the shipped weights and of the
    code that loads them (an upgrade, or an edit, loads the models again)."""
    import movingfashion.models as models

    code = Path(models.__file__).parent
    files = [
        *(Path(p) for p in (weights, matcher) if p is not None),
        *sorted(f for f in code.rglob("*") if f.is_file() and "__pycache__" not in f.parts),
        Path(__file__),
        Path(__file__).with_name("config.py"),
    ]
    key = {
        "detector": detector,
        "weights": _absolute(weights),
        "matcher": _absolute(matcher),
        "config": cfg.result_settings(),  # what changes the files: not the device, batch or review rules
        "files": {str(f.absolute()): _file_stamp(f) for f in files},
    }
    return pydantic_core.from_json(pydantic_core.to_json(key))  # as read back from the file


def known_identity(root: Path, key: Any, cfg: BuildConfig) -> BuilderIdentity | None:
    """The identity :func:`remember_identity` kept for ``key`` in ``root`` (None: none kept, or
    kept for another key: other weights, config or code)."""
    try:
        data = pydantic_core.from_json((root / IDENTITY_FILE).read_bytes())
        if data["key"] != key:
            return None
        return BuilderIdentity(
            DetectorName(str(data["detector"])),
            str(data["matcher"]),
            None if data["fallback"] is None else str(data["fallback"]),
            dict(data["settings"]),
            cfg,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remember_identity(root: Path, key: Any, builder: TrackletBuilder) -> None:
    """Keep what ``builder`` (loaded from ``key``) names its files with, for the next rerun
    (best effort: without it the next rerun loads the models first)."""
    data = {
        "key": key,
        "detector": builder.detector.version,
        "matcher": builder.matcher_tag,
        "fallback": builder.fallback_tag,
        "settings": builder.settings,
    }
    with contextlib.suppress(OSError, MFError):
        atomic_write_bytes(root / IDENTITY_FILE, pydantic_core.to_json(data, indent=1), durable=False)


def _load_builder(detector: str, weights: Any, matcher: Any, cfg: BuildConfig) -> TrackletBuilder:
    det = build_detector(detector, weights, cfg.detector)
    return TrackletBuilder(det, matcher_for(det, cfg.embed_source, matcher, device=det.device), cfg)


def _load_remembered(
    root: Path, key: Any, detector: str, weights: Any, matcher: Any, cfg: BuildConfig
) -> TrackletBuilder:
    """:func:`_load_builder`, its identity kept in ``root`` for the next rerun (:func:`remember_identity`)."""
    builder = _load_builder(detector, weights, matcher, cfg)
    remember_identity(root, key, builder)
    return builder


def _remote_pool(ex: Executor, remote: BuilderSpec, gpus_per_worker: float | None) -> Pool:
    """Cluster workers with a builder each (one CPU; a GPU share when the cluster has GPUs)."""
    gpus = gpus_per_worker if gpus_per_worker is not None else (1.0 if ex.gpu_count() else 0.0)
    return ex.pool(process_video, setup=partial(make_builder, remote), resources=WorkerResources(1.0, gpus))


def _beside_pool(
    load: Callable[[], TrackletBuilder], start: Callable[[], Pool]
) -> tuple[TrackletBuilder, Pool]:
    """``load()`` in a thread while ``start()`` starts the workers (whose setup loads their own
    models): the two loads overlap. An error of this process's load is raised first."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="mf-load") as thread:
        loading = thread.submit(load)
        try:
            pool = start()
        except BaseException:
            loading.result()  # bad weights: the error as this process raises it
            raise
        try:
            return loading.result(), pool
        except BaseException:
            pool.close()
            raise


def _build_jobs(
    root: Path,
    jobs: list[VideoJob],
    builder: TrackletBuilder,
    cat: Any,
    ex: Executor,
    *,
    remote: BuilderSpec | None,
    gpus_per_worker: float | None,
    force: bool,
    sheets: bool,
    on_video: Callable[[VideoJob, str, BuildReport], None] | None,
    write_official_json: bool,
    pool: Pool | None = None,
    discard_corrections: bool = False,
    run: BuildRun,
    load: Callable[[], TrackletBuilder] | None = None,
    held: SplitRows | None = None,
) -> BuildReport:
    """The build loop of :func:`build_dataset_tracklets` over ``jobs`` (``cat``: a Catalog or None;
    ``remote``: what cluster workers build their own builder from; ``run``: its line of the
    refresh-pending mark). Workers compute; this process writes every file and catalog mark, as
    each video comes back. ``builder`` may be a :class:`BuilderIdentity`: ``load()`` gives the
    builder once a video is due (with none due, no model is loaded). ``held``: the split files
    as read, with the products held out (their videos are in no job; their files stay)."""
    rep = BuildReport(videos=len(jobs), detector=builder.detector.version, matcher=builder.matcher_tag)
    held_videos = held.held_videos if held is not None else frozenset()
    rep.held_out = held_out_rows(held.held_out) if held is not None else []
    rep.split_truth_min_iou = builder.config.review.split_truth_min_iou
    start = time.perf_counter()
    # a run killed between its first write and the end of the refresh below leaves this mark: the
    # rerun, with nothing left to build, still refreshes what the folder says about itself
    marks = run.begin(root)  # another run's, an import's or a pick's line forces the refresh too
    unfinished = run.unfinished  # a killed build (dead here, or older elsewhere): settle, merge again
    order: dict[int, int] = {}  # id of a report entry -> its video's index (lists end in video order)
    fresh: set[int] = set()  # videos built in this run (and kept files flagged in it)

    def note(entries: list[dict[str, str]], i: int, entry: dict[str, str]) -> None:
        entries.append(entry)
        order[id(entry)] = i

    def finish(job: VideoJob, outcome: str) -> None:
        rep.seconds = time.perf_counter() - start
        if on_video is not None:
            on_video(job, outcome, rep)

    staging = Staging(root)  # where rebuilt files are written before they go into place

    def keep_work(entry: dict[str, str], i: int, job: VideoJob) -> None:
        """Count a file kept for the person's work it holds; flag it when its video changed."""
        rep.kept_human += 1
        rep.kept_human_videos.append(entry)
        changed, flagged = flag_changed_video(root, job)
        if changed:
            held.add(job.key)
        if flagged is not None:
            written.append(flagged)
            fresh.add(i)  # newly flagged: its catalog mark is made when the flags are settled

    def commit(i: int, job: VideoJob, vt: VideoTracklets, record: dict[str, Any]) -> str:
        """Write a video's rebuilt file (staged: validated and drawn outside the lock), its sheet
        and build record under the dataset's lock, unless by then no split file lists the video
        (a publish removed it: ``dropped``) or a person's work came into its file (``kept``)."""
        kept_gt = (
            with_split_ground_truth(vt, archive_gt[i], builder.config.review) if i in archive_gt else None
        )
        if kept_gt is not None:  # the archive's own ground truth, beside the detector's tracklets
            vt = kept_gt[0]
        staged = staging.tracklets(vt, job.shared)
        sheet = staging.sheet(vt, job.shared) if sheets else None
        with dataset_lock(root):
            if check.unlisted(job):
                rep.dropped_unlisted.append(job.video_path)
                log.warning(
                    "%s: not written, no split file lists it for %s now", job.video_path, job.product_id
                )
                return "dropped"
            work = check.new_work(i, job)
            if work is not None:
                entry = {"video": job.key, "holds": work, "due": due[i], "when": "while this build ran"}
                keep_work(entry, i, job)
                log.warning(
                    "%s: kept as it is, a person's work (%s) came into it while this build ran", job.key, work
                )
                return "kept"
            # side effects first, the tracklet file (what marks the video done) last: a kill
            # in between leaves the video to redo, never done without its sheet or mark; its
            # build record says "pending" until the file is in place (a kill before that: redone)
            path = job.tracklet_file(root)
            # the accepts made so far are of older files: a later one (beyond this) is of this file
            record = {**record, REVIEW_SEEN: check.reach()}
            write_build_record(path, {**record, "pending": True})
            if sheet is not None:
                from annotations.sheets import sheet_path

                dst = sheet_path(root, job.video_path, job.product_id, shared=job.shared)
                atomic_write_bytes(dst, sheet.read_bytes())
            atomic_write_bytes(path, staged.read_bytes())  # flagged on its own signals (settled below)
            if sheet is not None:  # drawn from this file: not "older than it" (a rerun redraws those)
                written_ns = path.stat().st_mtime_ns
                os.utime(dst, ns=(written_ns, written_ns))
            write_build_record(path, record)
            if kept_gt is not None:
                rep.kept_split_ground_truth.append(path.stem)
                rep.split_truth_agreement[path.stem] = kept_gt[1]
        staged.unlink(missing_ok=True)
        if sheet is not None:
            sheet.unlink(missing_ok=True)
        return "done"

    with dataset_lock(root):  # the review log's decisions follow the files renamed below
        follow_tracklet_names(root, {j.video_path: None if j.shared else j.product_id for j in jobs})
    stale = {j.video_path for j in jobs if j.shared and tracklet_file(root, j.video_path).is_file()}
    if stale:  # an older build's one file for a video several products list: one product's only
        with dataset_lock(root):
            for vp in sorted(stale):
                owners = {j.product_id for j in jobs if j.video_path == vp}
                _adopt_single_file(root, vp, owners | {pid for v, pid in held_videos if v == vp})
    with dataset_lock(root):  # a product's file of a video it no longer shares, or no longer lists
        settle_product_files(root, jobs, rep, held_videos)
    if isinstance(builder, BuilderIdentity) and not builder.nothing_due(root, jobs):
        assert load is not None
        builder = load()  # a video to build: the models (decided again below with them)
        rep.detector, rep.matcher = builder.detector.version, builder.matcher_tag
    todo = []
    before: dict[int, dict[str, dict[str, Any] | None]] = {}  # the inputs of each video to build
    written: list[Path] = []  # files written besides those of the videos built (the manifest follows)
    accepts: ReviewAccepts | None = None  # read once a file due to be built again exists
    held: set[str] = set()  # files whose flag is decided here (kept work, accepts): settling leaves them
    flags: dict[str, float] | None = None  # the catalog's flag times, read once a video has no file
    decided: set[int] = set()  # videos built anew whose flag a reviewer's accept decided
    check = WriteCheck(root, cat)  # looked at again under the lock before each write
    due: dict[int, str] = {}  # why each video to build is due
    anew: dict[int, VideoJob] = {}  # videos to build without a tracklet file: their split tracklet is kept
    for i, job in enumerate(jobs):
        why = None if force else builder.redo_reason(root, job)
        work = None
        if force or why is not None:  # stamped before kept_work reads it: a pick after the
            check.plan(i, job)  # stamp is seen again under the lock (new_work), never lost
        if (force or why is not None) and not discard_corrections and why not in _NOT_KEPT:
            accepts = accepts or review_accepts(root, cat)
            work = kept_work(root, job, accepts)
        if (force or why is not None) and work is None:
            built = job.tracklet_file(root).is_file()
            if why is not None and built:  # done once, outdated now
                rep.rebuilt[why] = rep.rebuilt.get(why, 0) + 1
            if not built and not discard_corrections:
                anew[i] = job
            if not built and cat is not None and not discard_corrections:  # an accept since its flag?
                accepts = accepts or review_accepts(root, cat)
                flags = catalog_flag_times(cat) if flags is None else flags
                if accepted_since_flag(job, accepts, flags):
                    decided.add(i)
                    rep.accepted_since_flag.append(job.key)
            todo.append(i)
            before[i] = input_stamps(root, job)
            due[i] = why or "--force"
            continue
        check.planned.pop(i, None)  # not built: its file is not looked at again
        if work is not None:  # a person's work: kept, never rebuilt silently
            keep_work({"video": job.key, "holds": work, "due": why or "--force"}, i, job)
        rep.skipped += 1
        rep.unrecorded += work is None and read_build_record(job.tracklet_file(root)) is None
        if sheets:  # asked for now, lost, or older than its tracklet file (edited): drawn again
            from annotations.sheets import sheet_is_stale, write_sheet

            if sheet_is_stale(root, job.video_path, job.product_id, shared=job.shared):
                written.append(
                    write_sheet(root, read_video_tracklets(job.tracklet_file(root)), shared=job.shared)
                )
        finish(job, "skipped")
    # the split files' own tracklets of the videos built anew (an archive's ground truth): each
    # file carries its one from its first write (commit), so no kill leaves it to be merged over
    archive_gt, detectors = split_ground_truths(root, anew)
    rep.split_detector_choice = [jobs[i].key for i in detectors]
    order_of_stem = {jobs[i].tracklet_file(root).stem: i for i in archive_gt}
    if pool is not None and todo:
        pass  # started early, beside this process's model load
    elif not todo:
        pool = LocalExecutor().pool(process_video)  # nothing to do: no workers to start
    elif remote is not None:
        pool = _remote_pool(ex, remote, gpus_per_worker)
    else:
        pool = ex.pool(process_video, setup=partial(_same, builder))
    with pool, contextlib.closing(staging):
        for i in todo:
            pool.submit((str(root.absolute()), jobs[i]), tag=i)
        for res in pool.drain():
            i, job = res.tag, jobs[res.tag]
            if res.error is not None:
                reraise_local_fault(res.error)  # disk full etc. is not the video's fault: stop the run
                unseen = unseen_on_worker(res.error, ex.node_name(res.node)) if ex.remote else None
                if unseen is not None:  # the workers' node does not share the dataset: stop here
                    raise unseen
                if not isinstance(res.error, MFError | WorkerLostError):
                    raise res.error
                note(rep.failed, i, {"video": job.video_path, "error": str(res.error)})
                if cat is not None:
                    from annotations.review import log_failure

                    log_failure(cat, job.product_id, f"{job.video_path}: {res.error}")
                finish(job, "failed")
                continue
            got: Processed = res.value
            vt = got.tracklets
            for k, v in got.timings.items():
                rep.timings[k] += v
            t = time.perf_counter()
            outcome = commit(i, job, vt, build_record(root, job, vt, builder.settings, before[i]))
            rep.timings["write"] += time.perf_counter() - t
            rep.frames_detected += got.frames
            rep.detections += got.detections
            if outcome == "kept":
                rep.skipped += 1
                finish(job, "skipped")
                continue
            if outcome == "done":
                rep.processed += 1
                if i in decided:  # a reviewer's accept since its flag: the flag is not settled, nor marked
                    held.add(job.key)
                else:
                    fresh.add(i)
            finish(job, outcome)

    # settling the flags, the split files and the manifest: one read-modify-write under the
    # dataset's lock (a review pick or an import of the same folder waits, and is not undone)
    with dataset_lock(root):
        rep.kept_split_ground_truth.sort(key=lambda stem: order_of_stem[stem])
        rep.split_truth_agreement = {k: rep.split_truth_agreement[k] for k in rep.kept_split_ground_truth}
        # every video's flag over the whole dataset (relative rules), catalog marks with it; a run
        # killed before this point left its videos unmarked: they count as fresh here
        settled = settle_flags(
            root,
            jobs,
            builder.config.review,
            fresh=set(range(len(jobs))) if unfinished else fresh,
            cat=cat,
            redraw_sheets=True,
            held=held,
        )
        rep.redecided = settled.changed
        rep.decided_by_person = len(settled.decided_by_person)
        rep.split_truth_files = len(settled.split_truth)
        written += settled.written
        rep.flag_thresholds = settled.thresholds
        rep.flag_signals_missing = settled.missing
        if cat is not None and settled.flagged:  # read after this run's marks: its flags are newer
            accepts, flags = review_accepts(root, cat), catalog_flag_times(cat)
        for i, reason in settled.flagged:
            entry = {"video": jobs[i].stem, "reason": reason}
            if cat is not None and accepted_since_flag(jobs[i], accepts, flags):  # type: ignore[arg-type]
                rep.accepted_in_review.append(entry)  # decided by a reviewer since its flag
            else:
                rep.needs_review.append(entry)
        rep.failed.sort(key=lambda e: order[id(e)])
        rep.held_back = _held_back_count(root)
        if write_official_json:
            rep.official_updated = merge_official(root)  # read again under the lock
    # outside the lock (hashing a large folder takes a while; a review pick waits for none of it;
    # a file a pick changes meanwhile is hashed again by the next refresh, by its mtime)
    from movingfashion.archive.describe import refresh

    try:
        if (
            rep.processed
            or rep.official_updated
            or marks
            or stale
            or rep.adopted_unshared
            or rep.removed_unlisted
        ):
            refresh(root)  # a published folder: tables, card, Croissant and manifest follow the new files
        elif written:  # sheets of done videos, flags settled again: only those files are hashed again
            refresh(root, changed=sorted({w.relative_to(root).as_posix() for w in written}))
    except DataFormatError as exc:
        if not rep.held_out:
            raise
        # a held-out row keeps the tables from reading the split file: the run's line of the
        # refresh-pending mark stays, so the rerun after the fix refreshes the folder
        rep.not_refreshed = exc.render()
        log.warning("the folder's description is not refreshed: %s (%s)", rep.not_refreshed, HELD_OUT_HINT)
        rep.seconds = time.perf_counter() - start
        return rep
    run.finish(root)  # its own line (and the killed builds' it settled): others' lines stay
    rep.seconds = time.perf_counter() - start
    return rep
