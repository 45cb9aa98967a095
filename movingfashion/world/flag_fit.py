"""Fit the tracklet builder's review flags on synthetic worlds, and measure them on others.

Per world: export its ground-truth dataset (``export_gt_dataset``), build tracklets on a copy
without the true boxes (reruns skip done videos), and score every video's ground-truth tracklet
against the world's true item boxes (:mod:`.scoring.tracklets`): did it pass the paper's check
(>= 50% of its detections on the item), and what are its confidence signals
(:data:`annotations.flags.SIGNALS`, stored in the tracklet files)? Each video's detections and
embeddings are kept under ``<work>/<world>/detections``, one file per matching path (``--embed``,
default the builder's ``embed_source``) recording the weights and settings that made it, so that
``--retrack`` (new signals or tracker settings, ``--set tracker.KEY=VALUE``) tracks again without
detecting again; a failing video is put down to the detector, the pivot or the propagation
(:func:`failure_cause`); a video whose build failed has no row and is listed in the report
(``no_tracklet_file``). The figures also count the visible first/last frames of the videos and
those the ground-truth tracklet leaves without a box (``ends_visible``, ``ends_unboxed``).

:func:`fit_rules` then picks a short OR of one-sided thresholds (:class:`annotations.flags.FlagRule`)
greedily: each round adds the rule catching the most still-unflagged failing videos per flagged
passing one, within a flag-rate budget, until the recall target is met; at the end a rule whose
failing videos the others flag anyway is dropped. The shipped defaults
(``annotations.config.FITTED_RULES``) and the figures in the weights card come from::

    python -m movingfashion.world.flag_fit fit --work build/flags --world W1 --world W2 ... --out rules.json
    python -m movingfashion.world.flag_fit eval --work build/flags --world U1 --world U2 ... [--rules rules.json]
    python -m movingfashion.world.flag_fit fit --rows-in fit_rows.jsonl --max-rate 0.15   # rows of --rows-out

``--world`` is a world folder; ``NAME=products:seed[:quick][:hard|:noiseF]`` generates it under
``--work`` first; ``--rows-out`` writes every video's row (JSON lines) for other fits;
``--embed crops|roi|auto`` picks the matching path; ``--rows-in`` fits or evaluates on rows written
before (no build: new rules, budgets or priors in seconds); the report lists the worlds flagged over
``--world-rate`` (default 0.15, the goal's budget per world). ``fit --keep-rules shipped|FILE``
adds to rules in use instead of starting afresh, ``--world-cap`` keeps every rule from putting a
world of ``--world-min-videos`` (40) or more over ``--world-rate``, and ``--lowo`` also reports
what the fit is worth on a world it did not see (:func:`leave_one_world_out`). Candidate weights
are measured before they are embedded with ``--weights detector.pt [--matcher roi_matcher.pt]``
(an RoI matcher trained on that detector, ``weights_build --roi-matcher-only
--detector-weights``) and a ``--work`` of their own::

    python -m movingfashion.world.flag_fit eval --work build/cand --weights cand/detector.pt \
        --matcher cand/roi_matcher.pt --world build/flags/f5101/world
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from annotations.config import FITTED_RULES, BuildConfig, ReviewConfig, lacks_required
from annotations.flags import SIGNALS, FlagRule
from schemas.atomic import atomic_write_text
from schemas.cli_support import DETECTOR_RUN, MATCHER_RUN, add_run_file_argument

#: Stride the figures are measured with (the demo's and the README's).
STRIDE = 2


@dataclass
class VideoRow:
    """One video of one world: did its tracklet pass the check, and its flag inputs."""

    world: str
    video: str
    passed: bool
    mean_iou: float
    has_tracklet: bool  #: False: nothing matched the shop image (always flagged)
    signals: dict[str, float]
    cause: str | None = None  #: a failing video: what limited it (see :func:`failure_cause`)
    ends_visible: int = 0  #: of the video's first and last frame, those the item is visible on
    ends_unboxed: int = 0  #: of those, the ones the ground-truth tracklet has no box on


def build_config(embed: str | None = None, settings: Sequence[str] = ()) -> BuildConfig:
    """The build's config: stride :data:`STRIDE`, the matching path ``embed`` (None: the default)
    and ``KEY=VALUE`` settings (dotted keys, YAML values)."""
    from schemas.config import parse_yaml_value

    data: dict[str, Any] = {"stride": STRIDE}
    if embed is not None:
        data["embed_source"] = embed
    for item in settings:
        key, _, value = item.partition("=")
        *parents, leaf = key.strip().split(".")
        d = data
        for k in parents:
            d = d.setdefault(k, {})
        d[leaf] = parse_yaml_value(f"--set {key.strip()}", value)
    return BuildConfig(**data)


def world_spec(spec: str, work: Path) -> Path:
    """A world folder; ``NAME=products:seed[:quick][:hard|:noiseF]`` is generated under ``work`` first
    (``hard``: the hard preset; ``noiseF``: tracklet noise on a share F of each clip's frames)."""
    if "=" not in spec:
        return Path(spec)
    from movingfashion.world.config import preset_config
    from movingfashion.world.generate import generate_world

    name, params = spec.split("=", 1)
    parts = params.split(":")
    extra = parts[2:]
    out = work / name / "world"
    preset = "hard" if "hard" in extra else "default"
    noise = [float(x[5:]) for x in extra if x.startswith("noise")]
    config = preset_config(preset, {"noise": {"frames": noise[0]}} if noise else None)
    generate_world(out, int(parts[0]), int(parts[1]), quick="quick" in extra, workers=1, config=config)
    return out


def cache_file(cache: Path, video: str, stride: int = STRIDE, embed: str = "crops") -> Path:
    """Where :func:`cached_builder` keeps a video's detections: ``<stem>-s<stride>-<embed>.npz``."""
    return cache / f"{Path(str(video)).stem}-s{stride}-{embed}.npz"


def detection_tag(builder: Any) -> str:
    """What produced a builder's detections: the detector's weights (its version names their hash)
    and the settings that change which boxes come out (detector options, stride, frames sampled)."""
    c = builder.config
    opts = json.dumps(
        {
            "detector": c.detector.model_dump(),
            "stride": c.stride,
            "keyframes": c.keyframes,
            "last": c.detect_last,
        },
        sort_keys=True,
    )
    return f"{builder.detector.version}|{opts}"


def _stored(z: Any, embeddings: Any) -> Any:
    """A cache file's detections (:class:`annotations.tracking.VideoDetections`) with ``embeddings``."""
    from annotations.tracking import VideoDetections

    return VideoDetections(z["frames"], z["boxes"], z["scores"], z["classes"], embeddings)


def cached_builder(
    cache: Path,
    config: BuildConfig,
    *,
    weights: str | os.PathLike[str] | None = None,
    matcher: str | os.PathLike[str] | None = None,
) -> Any:
    """The tracklet builder on ``config.embed_source`` (``auto``: roi when the RoI matcher fits the
    detector) with the embedded weights, or the detector ``weights`` and ``matcher`` checkpoint
    given (candidate weights measured before they are embedded), keeping each video's detections
    and embeddings in ``cache`` (:func:`cache_file`, one file per matching path): a rerun with
    other tracker settings or signals detects nothing again. Each file records what produced it
    (:func:`detection_tag` and the matcher's tag, which names its weights' hash); a file of other
    weights or settings is computed again and replaced. When only the other path's file is there
    with the same detector, the crop path reuses its boxes (decoding and embedding the crops, no
    detection)."""
    import torch

    from annotations.builder import TrackletBuilder
    from annotations.pivot_check import offer_stored
    from annotations.tracking import VideoDetections
    from movingfashion.media.video_source import prefetch_batches
    from movingfashion.models.detectors import build_detector
    from movingfashion.models.matchers import matcher_for

    class Cached(TrackletBuilder):
        def _save(self, f: Path, dets: VideoDetections, idx: list[int]) -> None:
            cache.mkdir(parents=True, exist_ok=True)
            tmp = f.with_suffix(".part.npz")
            np.savez(
                tmp,
                frames=dets.frames,
                boxes=dets.boxes,
                scores=dets.scores,
                classes=dets.classes,
                embeddings=dets.embeddings.cpu().numpy(),
                sampled=np.asarray(idx, np.int64),
                detection_tag=np.asarray(detection_tag(self)),
                matcher_tag=np.asarray(self.matcher_tag),
            )
            tmp.replace(f)

        def _load(self, f: Path, *, matcher: bool = True) -> Any:
            """The file's arrays when they were made by this builder's weights and settings, else None."""
            if not f.is_file():
                return None
            z = np.load(f)
            if "detection_tag" not in z or str(z["detection_tag"]) != detection_tag(self):
                return None
            if matcher and str(z["matcher_tag"]) != self.matcher_tag:
                return None
            return z

        def _crops_on(self, src, z, timings):  # type: ignore[no-untyped-def]
            """The crop path's embeddings of another path's boxes (no detection)."""
            idx = [int(i) for i in z["sampled"]]
            return self.crop_embeddings(src, _stored(z, torch.zeros(0)), idx), idx

        def detect_video(self, src, timings, keep=None):  # type: ignore[no-untyped-def]
            stride, path = self.config.stride, self.embed_source
            f = cache_file(cache, str(src.path), stride, path)
            z = self._load(f)
            if z is not None:
                dets, idx = _stored(z, torch.from_numpy(z["embeddings"])), [int(i) for i in z["sampled"]]
                if keep is not None:  # the pivot's second opinion needs the frames: decoded again
                    offer_stored(keep, prefetch_batches(src, idx, self.config.detector.batch), dets)
                return dets, idx
            other = self._load(cache_file(cache, str(src.path), stride, "roi"), matcher=False)
            if path == "crops" and other is not None:
                dets, idx = self._crops_on(src, other, timings)
            else:
                dets, idx = super().detect_video(src, timings, keep)
            self._save(f, dets, idx)
            return dets, idx

    det = build_detector("ultralytics", weights, config.detector)
    return Cached(det, matcher_for(det, config.embed_source, matcher, device=det.device), config)


def world_dataset(work: Path) -> Path:
    """Where :func:`build_world` builds a world's dataset under its ``work`` folder."""
    return work / "dataset"


def unbuilt_videos(dataset: Path) -> list[str]:
    """The videos the dataset's split files list that have no tracklet file (a build that
    failed): :func:`world_rows` has no row for them (the figures stay those of the built videos);
    the report lists them (``no_tracklet_file``)."""
    from annotations.qa import listed_videos, without_tracklet_file
    from annotations.tracklet_files import load_results
    from schemas.tracklet_names import shared_videos

    pairs = listed_videos(dataset)
    shared = shared_videos((pid, [vp]) for pid, vp in pairs)
    return sorted({vp for _, vp in without_tracklet_file(pairs, load_results(dataset), shared)})


def build_world(
    world_dir: Path,
    work: Path,
    config: BuildConfig | None = None,
    *,
    retrack: bool = False,
    weights: str | os.PathLike[str] | None = None,
    matcher: str | os.PathLike[str] | None = None,
) -> Path:
    """Build tracklets on the world's ground-truth dataset (a copy under ``work``); reruns skip
    done videos, or with ``retrack`` track every video again from its cached detections.
    ``weights`` / ``matcher``: see :func:`cached_builder`."""
    from annotations.builder import build_dataset_tracklets
    from movingfashion.world.gt_dataset import export_gt_dataset

    ds = world_dataset(work)
    if not (ds / "train.json").is_file():
        tmp = work / "dataset.part"
        shutil.rmtree(tmp, ignore_errors=True)
        export_gt_dataset(world_dir, tmp)
        shutil.rmtree(tmp / "tracklets")  # the true boxes must not be what the builder reads
        tmp.rename(ds)
    config = config or BuildConfig(stride=STRIDE)
    build_dataset_tracklets(
        ds,
        config=config,
        builder=cached_builder(work / "detections", config, weights=weights, matcher=matcher),
        force=retrack,
    )
    return ds


def world_rows(
    world_dir: Path,
    work: Path,
    config: BuildConfig | None = None,
    *,
    retrack: bool = False,
    weights: str | os.PathLike[str] | None = None,
    matcher: str | os.PathLike[str] | None = None,
) -> list[VideoRow]:
    """Every video of a world, built and scored against its truth (``weights`` / ``matcher``: see
    :func:`cached_builder`); a video whose build failed has no row (:func:`unbuilt_videos`)."""
    from annotations.qa import check_tracklet
    from annotations.tracklet_files import load_results
    from movingfashion.world.scoring.tracklets import truth_boxes_for_dataset

    config = config or BuildConfig(stride=STRIDE)
    ds = build_world(world_dir, work, config, retrack=retrack, weights=weights, matcher=matcher)
    name = world_dir.name if world_dir.name != "world" else world_dir.parent.name
    truth = truth_boxes_for_dataset(ds, world_dir)
    rows = []
    for vt in load_results(ds):
        gt = vt.tracklets[vt.ground_truth] if vt.ground_truth is not None else None
        true = truth.get(vt.video, {})
        c = check_tracklet(vt.video, gt, true)
        cause = (
            None
            if c.passed
            else failure_cause(gt, true, work / "detections", vt.video, config.stride, embed_path(vt))
        )
        ends = [f for f in {0, vt.frames - 1} if f in true or str(f) in true]
        unboxed = sum(gt is None or f not in gt.boxes for f in ends)
        rows.append(
            VideoRow(
                name,
                vt.video,
                c.passed,
                c.mean_iou,
                gt is not None,
                dict(vt.signals),
                cause,
                len(ends),
                unboxed,
            )
        )
    return rows


#: Why a video fails the check, decided from its cached detections and the world's truth.
CAUSES = {
    "detector": "the item is detected (IoU >= 0.5) on fewer than half of the sampled frames it is visible on",
    "pivot": "the pivot is not on the item although the detector found it on half its frames or more",
    "propagation": "pivot on the item, but the detections propagated from it are mostly elsewhere",
}


def embed_path(vt: Any) -> str:
    """The matching path a video's tracklets were built on, from the matcher named in its file."""
    from movingfashion.models.roi import ROI_MATCHER_KIND

    return "roi" if str(vt.matcher).startswith(ROI_MATCHER_KIND) else "crops"


def failure_cause(
    tracklet: Any,
    truth: dict[int, list[float]],
    cache: Path,
    video: str,
    stride: int = STRIDE,
    embed: str = "crops",
) -> str:
    """Which of :data:`CAUSES` limited a failing video's tracklet."""
    from schemas.geometry import box_iou

    truth = {int(k): v for k, v in truth.items()}
    f = cache_file(cache, video, stride, embed)
    if tracklet is None or not f.is_file():
        return "detector" if tracklet is None else "unknown"
    z = np.load(f)
    seen = [int(t) for t in z["sampled"] if int(t) in truth]
    found = sum(any(box_iou(list(b), truth[t]) >= 0.5 for b in z["boxes"][z["frames"] == t]) for t in seen)
    if not seen or found < 0.5 * len(seen):
        return "detector"
    pf = tracklet.pivot_frame
    if pf is None or pf not in truth or box_iou(tracklet.boxes[pf], truth[pf]) < 0.5:
        return "pivot"
    return "propagation"


def flagged(row: VideoRow, review: ReviewConfig) -> bool:
    """Whether the builder flags this video under ``review`` (already resolved for its dataset:
    see :func:`flag_decisions`)."""
    return not row.has_tracklet or not row.signals or review.reason(row.signals) is not None


def world_reviews(rows: Sequence[VideoRow], review: ReviewConfig) -> dict[str, ReviewConfig]:
    """``review`` per world, each world being one dataset: rules relative to the dataset
    (``max_share``) resolved over the world's videos, as a build over it resolves them."""
    return {
        w: review.for_dataset(r.signals for r in rows if r.world == w and r.has_tracklet and r.signals)
        for w in dict.fromkeys(r.world for r in rows)
    }


def flag_decisions(rows: Sequence[VideoRow], review: ReviewConfig) -> list[bool]:
    """Whether the builder flags each video (see :func:`world_reviews`)."""
    by_world = world_reviews(rows, review)
    return [flagged(r, by_world[r.world]) for r in rows]


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion ``k / n`` (95% by default); None when ``n`` is 0.
    Flag recall rests on a handful of failing videos: 6 of 8 is anywhere from 0.41 to 0.93."""
    if n <= 0:
        return None
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return round(max(0.0, float(centre - half)), 4), round(min(1.0, float(centre + half)), 4)


def flag_figures(
    rows: Sequence[VideoRow], review: ReviewConfig, decisions: Sequence[bool] | None = None
) -> dict[str, Any]:
    """Flag recall (failing videos flagged, with its 95% Wilson interval), flag rate, pass rate,
    mean IoU and what the failing videos failed on (:data:`CAUSES`, when known) of some videos;
    ``decisions`` (one per row) replaces the flags ``review`` would give (held-out evaluations)."""
    n = len(rows)
    f = list(decisions) if decisions is not None else flag_decisions(rows, review)
    fail = [not r.passed for r in rows]
    n_fail = sum(fail)
    caught = sum(a and b for a, b in zip(f, fail, strict=True))
    return {
        "videos": n,
        "failing": n_fail,
        "flagged": sum(f),
        "failing_flagged": caught,
        "flag_recall": round(caught / n_fail, 4) if n_fail else None,
        "flag_recall_ci95": wilson_interval(caught, n_fail),
        "flag_rate": round(sum(f) / n, 4) if n else 0.0,
        "pass_rate": round(1 - n_fail / n, 4) if n else 0.0,
        "mean_iou": round(float(np.mean([r.mean_iou for r in rows])), 4) if n else 0.0,
        "ends_visible": sum(r.ends_visible for r in rows),
        "ends_unboxed": sum(r.ends_unboxed for r in rows),
        "causes": {
            c: k for c in (*CAUSES, "unknown") if (k := sum(r.cause == c for r in rows if not r.passed))
        },
    }


def _candidates(values: np.ndarray) -> np.ndarray:
    u = np.unique(values[np.isfinite(values)])
    return (u[:-1] + u[1:]) / 2 if len(u) > 1 else u


def fit_rules(
    rows: Sequence[VideoRow],
    *,
    max_rate: float = 0.10,
    target_recall: float = 0.95,
    max_rules: int = 4,
    base: ReviewConfig | None = None,
    min_caught: int = 1,
    prior: float = 1.0,
    keep: Sequence[FlagRule] = (),
    world_rate: float | None = None,
    world_min_videos: int = 40,
) -> list[FlagRule]:
    """A short OR of thresholds flagging the failing videos (see the module docstring).

    Videos the fixed checks of ``base`` (no tracklet, too few frames, low pivot shop score) flag
    already count as flagged, and so do those the ``keep`` rules flag (kept as they are, first in
    the result: a fit that adds to rules in use); each rule added must catch at least
    ``min_caught`` more failing videos, and rules are ranked by caught / (passing flagged +
    ``prior``): a larger ``prior`` prefers broad rules over ones that fit a single video. A looser
    threshold on a signal in use replaces its rule, also once ``max_rules`` rules exist (the budget
    counts rules, not steps). With
    ``world_rate``, a rule may not put a world of at least ``world_min_videos`` videos over that
    flag rate (the goal's per-world budget; a world already over it blocks only a rule that flags
    more of its videos).
    """
    base = (base or ReviewConfig()).model_copy(update={"rules": list(keep)})
    usable = [r for r in rows if r.has_tracklet and r.signals]
    fixed = np.array(flag_decisions(rows, base))  # the fixed checks and the kept rules
    flags = fixed.copy()
    fail = np.array([not r.passed for r in rows])
    n = len(rows)
    idx = {id(r): i for i, r in enumerate(rows)}
    cols = {s: np.array([r.signals.get(s, np.nan) for r in usable], float) for s in SIGNALS}
    ui = np.array([idx[id(r)] for r in usable], int)
    names = {w: i for i, w in enumerate(dict.fromkeys(r.world for r in rows))}
    world_of = np.array([names[r.world] for r in rows], int)
    sizes = np.bincount(world_of, minlength=len(names))
    capped = sizes >= world_min_videos if world_rate is not None else np.zeros(len(names), bool)
    rules: list[FlagRule] = []
    hits: dict[tuple[str, str], np.ndarray] = {}  # what each rule flags
    while True:
        n_fail = fail.sum()
        if not n_fail or (flags & fail).sum() / n_fail >= target_recall:
            break
        best = None
        per_world = np.bincount(world_of, weights=flags, minlength=len(names))  # flagged so far
        used = {(r.signal, r.op) for r in rules}
        for s, v in cols.items():
            for op in ("lt", "gt"):
                if len(rules) >= max_rules and (s, op) not in used:
                    continue  # at max_rules only a looser threshold on a rule in use may join
                for t in _candidates(v):
                    hit = np.zeros(n, bool)
                    hit[ui] = (v < t) if op == "lt" else (v > t)
                    new = hit & ~flags
                    caught, false = int((new & fail).sum()), int((new & ~fail).sum())
                    if caught < min_caught or (flags | hit).sum() > max_rate * n:
                        continue
                    if capped.any() and _over_world_rate(per_world, new, world_of, sizes, capped, world_rate):
                        continue
                    key = (caught / (false + prior), caught, -false)
                    if best is None or key > best[0]:
                        best = (key, FlagRule(signal=s, op=op, threshold=round(float(t), 4)), hit)
        if best is None:
            break
        # a looser threshold on a signal already used replaces its rule (it flags a superset)
        rules = [r for r in rules if (r.signal, r.op) != (best[1].signal, best[1].op)] + [best[1]]
        hits[(best[1].signal, best[1].op)] = best[2]
        flags |= best[2]
    return [*keep, *_prune(rules, hits, fixed, fail)]


def leave_one_world_out(rows: Sequence[VideoRow], **fit: Any) -> dict[str, Any]:
    """What a fit is worth on a world it did not see: per world, the rules :func:`fit_rules`
    (``fit``: its keywords) picks on the other worlds, and their flags on the world left out;
    ``pooled`` gathers the held-out flags of every world (:func:`flag_figures`)."""
    worlds = list(dict.fromkeys(r.world for r in rows))
    if len(worlds) < 2:
        raise ValueError("leave-one-world-out needs rows of at least two worlds")
    held: list[VideoRow] = []
    decisions: list[bool] = []
    out: dict[str, Any] = {"rules": {}}
    for w in worlds:
        rules = fit_rules([r for r in rows if r.world != w], **fit)
        test = [r for r in rows if r.world == w]
        held += test
        decisions += flag_decisions(test, ReviewConfig(rules=rules))
        out["rules"][w] = [r.model_dump(exclude_none=True) for r in rules]
    out["pooled"] = flag_figures(held, ReviewConfig(rules=[]), decisions)
    return out


def _over_world_rate(
    per_world: np.ndarray,
    new: np.ndarray,
    world_of: np.ndarray,
    sizes: np.ndarray,
    capped: np.ndarray,
    rate: float | None,
) -> bool:
    """Whether the videos ``new`` flags (none flagged yet; ``per_world``: those flagged per world)
    put a ``capped`` world over ``rate`` of its ``sizes``."""
    added = np.bincount(world_of, weights=new, minlength=len(sizes))
    return bool(np.any(capped & (added > 0) & (per_world + added > (rate or 0.0) * sizes)))


def _prune(
    rules: list[FlagRule], hits: dict[tuple[str, str], np.ndarray], fixed: np.ndarray, fail: np.ndarray
) -> list[FlagRule]:
    """Drop, first added first, each rule whose failing videos the other rules and the fixed
    checks (``fixed``) flag anyway: the greedy order can add a narrow rule before a broader one
    that covers it."""

    def caught(rs: list[FlagRule]) -> int:
        flags = fixed.copy()
        for o in rs:
            flags |= hits[(o.signal, o.op)]
        return int((flags & fail).sum())

    kept = list(rules)
    for r in rules:
        if caught([o for o in kept if o is not r]) == caught(kept):
            kept.remove(r)
    return kept


def read_rows(path: str | os.PathLike[str]) -> list[VideoRow]:
    """Rows written by ``--rows-out`` (JSON lines), for fits and evaluations without building;
    raises ``ValueError`` naming the file and line of a row that does not fit :class:`VideoRow`,
    or whose tracklet's signals lack one the flag cannot be decided without
    (:data:`annotations.config.REQUIRED_SIGNALS`)."""
    from schemas.errors import MFError
    from schemas.text_input import read_text_input

    rows = []
    try:  # missing, unreadable, not UTF-8 (the byte, and what to do): one line naming the file
        text = read_text_input(path, "rows file", limit=None)
    except MFError as exc:
        raise ValueError(str(exc)) from None
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = VideoRow(**json.loads(line))
        except (json.JSONDecodeError, TypeError) as exc:
            raise ValueError(f"{path}:{i}: not a flag_fit row ({exc}); write rows with --rows-out") from None
        missing = lacks_required(row.signals) if row.has_tracklet and row.signals else []
        if missing:
            raise ValueError(
                f"{path}:{i}: the signals of {row.video} lack {', '.join(missing)}, which the flag"
                " cannot be decided without; write the rows again with --rows-out (--retrack)"
            )
        rows.append(row)
    return rows


def _report(by_world: dict[str, list[VideoRow]], review: ReviewConfig, world_rate: float = 0.15) -> dict:
    out: dict[str, Any] = {w: flag_figures(rs, review) for w, rs in by_world.items()}
    out["pooled"] = flag_figures([r for rs in by_world.values() for r in rs], review)
    over = {w: out[w]["flag_rate"] for w in by_world if out[w]["flagged"] > world_rate * out[w]["videos"]}
    out["worlds_over_rate"] = {"rate": world_rate, "worlds": over}
    out["failing_videos"] = {
        w: [
            {"video": r.video, "flagged": f, "cause": r.cause, "mean_iou": round(r.mean_iou, 3), **r.signals}
            for r, f in zip(rs, flag_decisions(rs, review), strict=True)
            if not r.passed
        ]
        for w, rs in by_world.items()
    }
    out["thresholds"] = {
        w: [r.threshold for r in world_reviews(rs, review)[w].rules] for w, rs in by_world.items()
    }
    # rows written before a rule's signal existed: the rule cannot fire on them (retrack to add it)
    out["signals_missing"] = review.missing_signals(
        r.signals for rs in by_world.values() for r in rs if r.has_tracklet
    )
    return out


def _rules_arg(ap: argparse.ArgumentParser, option: str, value: str) -> list[FlagRule]:
    """The rules an option names: ``shipped`` (``FITTED_RULES``) or a rules JSON file
    (``{"rules": [...]}``, as ``--out`` writes); a file that does not hold them is a usage error."""
    if value == "shipped":
        return [r.model_copy() for r in FITTED_RULES]
    from schemas.errors import MFError
    from schemas.text_input import load_json, read_text_input

    try:  # a file that is not UTF-8 is said so, with the byte (read_text_input)
        return [FlagRule(**r) for r in load_json(read_text_input(value, "rules file"), value)["rules"]]
    except MFError as exc:
        ap.error(f"{option}: {exc}")
    except (ValueError, KeyError, TypeError) as exc:
        ap.error(f"{option} {value}: not a rules file ({str(exc).splitlines()[0]}); write one with fit --out")


def _bounded(kind: type[int] | type[float], lo: float, hi: float = math.inf) -> Any:
    """An argparse ``type=``: a finite ``kind`` within ``lo..hi``; anything else a usage error
    naming the option and the range (``nan`` made every rule fail the budget, silently)."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'an integer' if kind is int else 'a number'}"
            ) from None
        if not (math.isfinite(value) and lo <= value <= hi):
            raise argparse.ArgumentTypeError(f"{text!r} is outside {lo:g}..{hi:g}")
        return value

    return parse


#: a share (a rate, a recall)
SHARE = _bounded(float, 0.0, 1.0)


def parser() -> argparse.ArgumentParser:
    """The command line of :func:`main`."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("action", choices=["fit", "eval"])
    ap.add_argument("--work", type=Path, help="folder for the built datasets (reused); needed with --world")
    ap.add_argument("--world", action="append", default=[], help="world folder or NAME=products:seed[:quick]")
    ap.add_argument(
        "--rows-in",
        action="append",
        default=[],
        type=Path,
        help="rows written by --rows-out before: fit or evaluate on them without building (with or"
        " instead of --world)",
    )
    ap.add_argument(
        "--world-rate",
        type=SHARE,
        default=0.15,
        help="per-world flag-rate budget the report checks (worlds_over_rate; the goal's 15%%)",
    )
    ap.add_argument("--rules", type=Path, help="eval: rules JSON (default: the shipped FITTED_RULES)")
    ap.add_argument("--out", type=Path, help="fit: write the rules and figures here (JSON)")
    ap.add_argument(
        "--rows-out", type=Path, help="also write every video's row (check + signals) as JSON lines"
    )
    ap.add_argument(
        "--retrack", action="store_true", help="track every video again from its cached detections"
    )
    ap.add_argument(
        "--embed",
        choices=["crops", "roi", "auto"],
        default=BuildConfig.model_fields["embed_source"].default,
        help="matching path the tracklets are built on (default: the builder's)",
    )
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a BuildConfig setting for the build, dotted, e.g. tracker.max_gap=4 (a YAML value)",
    )
    add_run_file_argument(
        ap,
        "--weights",
        **DETECTOR_RUN,
        help="detector weights to measure (default: the embedded ones); use a --work of their own.",
    )
    add_run_file_argument(
        ap,
        "--matcher",
        **MATCHER_RUN,
        help="matcher checkpoint to build with (e.g. an RoI matcher trained on --weights).",
    )
    ap.add_argument("--max-rate", type=SHARE, default=0.14, help="fit: flag-rate budget (pooled)")
    ap.add_argument("--target-recall", type=SHARE, default=0.95)
    ap.add_argument("--max-rules", type=_bounded(int, 1), default=4)
    ap.add_argument(
        "--min-caught", type=_bounded(int, 1), default=2, help="fit: failing videos a rule must add"
    )
    ap.add_argument(
        "--prior", type=_bounded(float, 0.0), default=5.0, help="fit: rank rules by caught / (false + prior)"
    )
    ap.add_argument(
        "--keep-rules",
        metavar="shipped|FILE",
        help="fit: keep these rules as they are and add to them (shipped: FITTED_RULES; FILE: a rules"
        " JSON as --out writes)",
    )
    ap.add_argument(
        "--world-cap",
        action="store_true",
        help="fit: no rule may put a world of at least --world-min-videos videos over --world-rate",
    )
    ap.add_argument(
        "--world-min-videos", type=_bounded(int, 0), default=40, help="fit: worlds --world-cap applies to"
    )
    ap.add_argument(
        "--lowo",
        action="store_true",
        help="fit: also report leave-one-world-out figures (refit without each world, flags on it)",
    )
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    if not args.world and not args.rows_in:
        ap.error("give --world (build and score) or --rows-in (rows written by --rows-out)")
    if args.world and args.work is None:
        ap.error("--world needs --work (the folder its dataset and detections are built in)")
    by_world: dict[str, list[VideoRow]] = {}
    unbuilt: dict[str, list[str]] = {}  # per world built here: listed videos without a tracklet file
    for path in args.rows_in:
        try:
            stored = read_rows(path)
        except (OSError, ValueError) as exc:
            ap.error(f"--rows-in: {exc}")
        for r in stored:
            by_world.setdefault(r.world, []).append(r)
    if args.world:  # checked before any world is generated
        from schemas.errors import MFError

        try:
            config = build_config(args.embed, args.set)
        except MFError as exc:
            ap.error(str(exc))
    for spec in args.world:
        wd = world_spec(spec, args.work)
        name = spec.split("=", 1)[0] if "=" in spec else wd.name if wd.name != "world" else wd.parent.name
        by_world[name] = world_rows(
            wd, args.work / name, config, retrack=args.retrack, weights=args.weights, matcher=args.matcher
        )
        unbuilt[name] = unbuilt_videos(world_dataset(args.work / name))
        left_out = f", {len(unbuilt[name])} without a tracklet file left out" if unbuilt[name] else ""
        print(f"{name}: {len(by_world[name])} videos{left_out}", flush=True)
    rows = [r for rs in by_world.values() for r in rs]
    if args.rows_out is not None:  # atomic: a killed run leaves no half file a rerun would trust
        atomic_write_text(args.rows_out, "".join(json.dumps(dataclasses.asdict(r)) + "\n" for r in rows))
    lowo = None
    if args.action == "fit":
        fit = dict(
            max_rate=args.max_rate,
            target_recall=args.target_recall,
            max_rules=args.max_rules,
            min_caught=args.min_caught,
            prior=args.prior,
            keep=_rules_arg(ap, "--keep-rules", args.keep_rules) if args.keep_rules else (),
            world_rate=args.world_rate if args.world_cap else None,
            world_min_videos=args.world_min_videos,
        )
        rules = fit_rules(rows, **fit)
        if args.lowo:
            try:
                lowo = leave_one_world_out(rows, **fit)
            except ValueError as exc:
                ap.error(f"--lowo: {exc}")
    elif args.rules is not None:
        rules = _rules_arg(ap, "--rules", str(args.rules))
    else:
        rules = ReviewConfig().rules
    result = {
        "rules": [r.model_dump() for r in rules],
        **_report(by_world, ReviewConfig(rules=rules), args.world_rate),
        "no_tracklet_file": {w: vs for w, vs in unbuilt.items() if vs},
    }
    if lowo is not None:
        result["leave_one_world_out"] = lowo
    text = json.dumps(result, indent=1)
    if args.out is not None:
        atomic_write_text(args.out, text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))  # the entry point sets it, once
    raise SystemExit(main())
