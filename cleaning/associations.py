"""Wrong video/shop associations: score every pair with a matcher, flag the ones that do not fit.

The matcher is any object with ``score(video_path, shop_path) -> float`` in [0, 1]
(:class:`PairScorer`; one that also takes ``crop=(x1, y1, x2, y2)`` scores split-screen videos
on their moving half); :func:`matchrcnn_scorer` builds the Match-RCNN one
(:class:`movingfashion.models.shop_scorer.VideoShopScorer`: the detector and the single-frame
matcher; the embedded default weights unless ``mf clean --matcher FILE``).

Five rules make a pair ``needs_review`` (score and reason in the item's reason; nothing is
dropped):

1. **low score**: the pair scores below ``match_threshold``;
2. **contested shop image**: several items (with different, non-duplicate videos) carry one
   product shot (the same garment picture: one file, or equal object hashes,
   :func:`object_signature`, within ``contest_object_bits`` and ``contest_colour_tolerance``,
   and equal pixels, :func:`object_difference`, within ``contest_copy_tolerance``, or
   ``contest_still_tolerance`` when one is a split-screen still; whether it came as a shop
   image, a carousel pick or a split-screen still half), each video scored on its detections
   of the item's DeepFashion2 class when it has any (``match_by_class``). The item whose video matches it best
   among those whose image the source gave (a product page's picture, a shop map) keeps it,
   unless one whose image cleaning derived (a carousel pick, a split-screen still: inferences)
   matches its own video better by more than ``contest_derived_lead``, or its video shows more of
   the picture's main colours (:func:`cleaning.shop_pick.colour_coverage`, the carousel pick's
   colour measure) by more than ``contest_coverage_lead`` (then the collected items trailing it
   by as much are flagged: the matcher can score a same-class garment of other colours as high
   as the right one); pairs below ``match_threshold`` never keep it. The others are flagged when their image is derived and
   the keeper's is not, or when they score more than ``contest_margin`` below it (retakes,
   several videos of one product, share its shop image file and score alike). A picture served with the wrong item is nearly
   always another catalogued item's shop image, so this catches wrong pairs a per-pair
   threshold cannot (the embedded matcher scores a same-class garment about as high as the
   right one);
3. **off-colour shop image** (only items with a fabric close-up of their own garment:
   Net-A-Porter's ``fabric`` view): the mean colour of the shop image's object
   (:func:`object_colour`, the pixels far from the border colour) lies more than
   ``fabric_colour_distance`` (L1 over RGB) from the fabric image's mean colour. This catches
   the look-alike of another colour that rules 1 and 2 cannot (the matcher scores it like the
   right garment), and inside a contest such an item keeps the shot only when no other can.
   Items without a fabric image (TikTok, Instagram, your own files) are left to rules 1 and 2;
4. **shop image unlike the item's own rear shot** (only items with a rear product shot of their
   own garment: Net-A-Porter's ``rear`` view): the mean colours of the two product shots' objects
   (:func:`object_colour`) lie more than ``rear_colour_distance`` (L1 over RGB) apart. The rear
   shot is the same kind of picture as the shop image (the same garment, from behind, on the same
   plain background), so a shop image served from another product page disagrees with it even
   when its colour is near the fabric's (rule 3). Inside a contest such an item, like an
   off-colour one, keeps the shot only when no other item can: a source's shop image that its
   own rear shot contradicts does not win over a carousel pick that shows the garment;
5. **a picture claimed on the item's class** (``association_class_claim``, with
   ``match_by_class``): the pair passes ``match_threshold`` on every detection but not on the
   item's DeepFashion2 class (the video has detections of it, none matching: another garment of
   the video matched), and another item's video of that class (another video, another shop
   image) scores the shop image at least ``match_threshold`` on the class and more than
   ``contest_margin`` above it (:func:`_class_claims`): a same-class item's picture served with
   the wrong video, which rule 1 reads on every detection and rule 2 never sees (the owner
   carries another picture).

Pairs are scored through an executor (:mod:`movingfashion.executors`): each worker gets the
scorer once; scores come back to this process, which alone writes the cache and the catalog. A
pair whose worker dies (past the executor's retries: a video that crashes the decoder, an
out-of-memory kill) is a failure of its item (:attr:`AssociationResult.failed`, naming the video
and the shop image): the item is left as it is, the other pairs are scored, and a rerun scores it
again.
"""

from __future__ import annotations

import os
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from cleaning.colours import colour_distance, mean_colour, object_colour, object_mask
from cleaning.scorers import scorer_tag, takes_category, takes_crop
from schemas.atomic import sha256_file
from schemas.catalog import CAS_BATCH, Catalog, ItemRow, write_until_settled
from schemas.errors import ConfigError
from schemas.items import CANDIDATE_URL, DERIVED_URLS, SPLITSCREEN_URL, AssetKind, Status
from schemas.paths import PathEscapeError, resolve_under
from schemas.redact import redacted_logger
from schemas.review import held_by_recorded_flags

#: catalog meta key: whether the check ran on the catalog, and with what
META_KEY = "associations"
REASON = "association:"

log = redacted_logger(__name__)

if TYPE_CHECKING:
    from movingfashion.executors import Executor


@runtime_checkable
class PairScorer(Protocol):
    """Anything that scores how well a video shows the item of a shop image (1 = same item)."""

    def score(self, video_path: str, shop_path: str) -> float: ...


def matchrcnn_scorer(
    matcher: str | os.PathLike[str] | None = None,
    detector_weights: str | os.PathLike[str] | None = None,
    detector: str = "ultralytics",
) -> PairScorer:
    """The Match-RCNN pair scorer: detector ``detector`` with ``detector_weights`` and the matcher
    checkpoint ``matcher`` (``None`` = the embedded default weights of ``movingfashion.models``).

    Raises :class:`schemas.errors.ModelError` naming the file when a checkpoint cannot be read.
    """
    from movingfashion.models.shop_scorer import VideoShopScorer

    return VideoShopScorer(matcher=matcher, weights=detector_weights, detector=detector)


#: Where the cleaning cache keeps a lazy scorer's tag (keyed by its weights' files as they are).
SCORER_TAG_KEY = "scorer-tag"


class LazyMatchRCNNScorer:
    """:func:`matchrcnn_scorer`'s scorer, built on its first ``score`` (once), so a rerun whose
    every score and pick is cached loads no model (and imports no torch).

    Its ``tag`` is the built scorer's; ``cache`` (the cleaning cache) remembers it under the weight
    files' paths, sizes and modification times and the toolkit's version, so a rerun reads it
    there; a changed file (or none cached) builds the scorer to learn it. Threads sharing it (the
    local executor's) build one scorer between them. Pickling sends only the weight paths (a
    worker builds its scorer on its first score)."""

    def __init__(
        self,
        matcher: str | os.PathLike[str] | None = None,
        detector_weights: str | os.PathLike[str] | None = None,
        cache: Any = None,
    ) -> None:
        self.matcher = None if matcher is None else str(Path(matcher).absolute())
        self.detector_weights = None if detector_weights is None else str(Path(detector_weights).absolute())
        self.cache = cache
        self._scorer: PairScorer | None = None
        self._tag: str | None = None
        self._building = threading.Lock()

    def scorer(self) -> PairScorer:
        """The Match-RCNN scorer, built now when it is not yet (once, whatever thread asks first)."""
        if self._scorer is None:
            with self._building:
                if self._scorer is None:
                    self._scorer = matchrcnn_scorer(self.matcher, self.detector_weights)
        return self._scorer

    def score(self, video_path: str, shop_path: str, crop: Any = None, category: int | None = None) -> float:
        kw: dict[str, Any] = {}
        if crop is not None:
            kw["crop"] = crop
        if category is not None:
            kw["category"] = category
        return float(self.scorer().score(video_path, shop_path, **kw))

    @property
    def tag(self) -> str | None:
        """The built scorer's tag (:func:`scorer_tag`), read from the cache when its weight files
        are the ones it was recorded for."""
        if self._tag is None:
            key = self._tag_key()
            cached = self.cache.get(SCORER_TAG_KEY, key) if self.cache is not None and key else None
            if isinstance(cached, str) and cached:
                self._tag = cached
            else:
                self._tag = scorer_tag(self.scorer())
                if self.cache is not None and key and self._tag:
                    self.cache.put(SCORER_TAG_KEY, key, self._tag)
        return self._tag

    def _tag_key(self) -> str | None:
        """The weight files (given, else the embedded ones) with the SHA-256 of their bytes, and
        the toolkit's version; None when one cannot be read (no remembered tag). By content, not
        size and modification time: weights rewritten in place at the same size within one tick
        of the file system's clock are other weights (17 MB hashed: tens of milliseconds a run)."""
        import json

        import movingfashion
        import movingfashion.models

        embedded = Path(movingfashion.models.__file__).resolve().parent / "weights"
        files = [
            self.matcher or str(embedded / "matcher.pt"),
            self.detector_weights or str(embedded / "detector.pt"),
        ]
        try:
            stats = [(str(f), sha256_file(f)) for f in files]
        except OSError:
            return None
        return "tag:" + json.dumps([movingfashion.__version__, stats])

    def __getstate__(self) -> dict[str, Any]:
        return {"matcher": self.matcher, "detector_weights": self.detector_weights, "tag": self._tag}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.matcher, self.detector_weights = state["matcher"], state["detector_weights"]
        self._tag, self.cache, self._scorer = state["tag"], None, None
        self._building = threading.Lock()


def object_signature(image: np.ndarray) -> tuple[int, list[int]]:
    """64-bit pHash and 4x4 colour thumbnail of the object of a product shot: the pixels far from
    the border colour, cut to their bounding box, so letterbox margins and scale do not count."""
    from cleaning.dedup import colour_signature
    from cleaning.phash import phash

    mask = object_mask(image)
    ys, xs = np.nonzero(mask)
    if len(ys) >= 0.01 * mask.size:
        image = image[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    return phash(image, 1.0), colour_signature(image).tolist()


def same_object(a: tuple[int, list[int]], b: tuple[int, list[int]], max_bits: int, colour_tol: float) -> bool:
    """Two object signatures of one picture (re-encoded, rescaled, letterboxed)."""
    bits = bin(int(a[0]) ^ int(b[0])).count("1")
    diff = float(np.abs(np.array(a[1], np.float32) - np.array(b[1], np.float32)).mean())
    return bits <= max_bits and diff <= colour_tol


@dataclass(frozen=True)
class AssociationFlag:
    source: str
    source_id: str
    video: str
    shop: str
    score: float
    reason: str = ""


@dataclass
class _Pair:
    source: str
    source_id: str
    video: Path
    shop: Path
    video_sha: str | None
    shop_sha: str | None
    crop: tuple[float, ...] | None
    derived: bool = False  # a carousel pick or a split-screen still, not the source's own shop image
    accepted: bool = True  # False: needs_review already (may keep a contested shot, never flagged)
    category: int | None = None  # the item's DeepFashion2 class, when the scorer looks at it
    score: float = 0.0  # on every detection of the video
    class_score: float | None = None  # on the detections of ``category`` (None: not scored so)
    read_as: tuple[str, str | None] = (Status.ACCEPTED, None)  # the item's (status, reason) when read
    placed: bool = False  # the item holds a split (published or placed by a rebuild): an incumbent
    fabric: Path | None = None  # the item's own fabric close-up (Net-A-Porter), when it has one
    fabric_sha: str | None = None
    rear: Path | None = None  # the item's own rear product shot (Net-A-Porter), when it has one
    rear_sha: str | None = None
    coverage: float | None = None  # how much of the shop image's main colours the video shows (rule 2)

    @property
    def contest_score(self) -> float:
        """The score a contested product shot is decided on: on the item's class when known."""
        return self.score if self.class_score is None else self.class_score


@dataclass(frozen=True)
class AssociationFailure:
    """A pair that could not be scored: its worker died (past the executor's retries)."""

    source: str
    source_id: str
    video: str
    shop: str
    error: str


@dataclass
class AssociationResult:
    """Every scored pair (item key -> its lowest score), the flags, and the items whose pairs
    could not all be scored (``failed``: left as they are, neither scored nor flagged)."""

    scores: dict[tuple[str, str], float] = field(default_factory=dict)
    flags: list[AssociationFlag] = field(default_factory=list)
    pairs: int = 0
    cached: int = 0
    #: scores found in the cache with another :data:`ASSOCIATION_VERSION` (or none): scored again
    recomputed: int = 0
    failed: list[AssociationFailure] = field(default_factory=list)
    #: item key -> mean colour distance of its shop image's object to its fabric close-up (rule 3;
    #: only items with a fabric image, only when the rule is on)
    fabric_colour: dict[tuple[str, str], float] = field(default_factory=dict)
    #: item key -> colour distance of its shop image's object to its rear product shot's (rule 4;
    #: only items with a rear image, only when the rule is on)
    rear_colour: dict[tuple[str, str], float] = field(default_factory=dict)
    #: item key -> how much of its shop image's main colours its video shows
    #: (:func:`cleaning.shop_pick.colour_coverage`; only items of a contest between a collected and
    #: a derived image, only when ``coverage_lead`` is on)
    colour_coverage: dict[tuple[str, str], float] = field(default_factory=dict)


def _same(value: Any) -> Any:
    return value


#: one pair to score: (video, shop image, crop of the frames or None, DeepFashion2 class or None)
Task = tuple[Path, Path, "tuple[float, ...] | None", "int | None"]


def _score(scorer: PairScorer, task: Task) -> float:
    video, shop, crop, category = task
    kw: dict[str, Any] = {"crop": crop} if crop is not None else {}
    if category is not None:
        kw["category"] = category
    return float(scorer.score(str(video), str(shop), **kw))


def _score_or_error(scorer: PairScorer, task: Task) -> tuple[float | None, BaseException | None]:
    """``_score``, its exception returned (to be raised by the caller as it was raised)."""
    try:
        return _score(scorer, task), None
    except Exception as exc:  # noqa: BLE001 - handed back, raised in the driver
        return None, exc


def _stream_scores(
    tasks: list[Task], scorer: PairScorer, executor: Executor | None
) -> Iterator[tuple[int, float | None, str | None]]:
    """(index, score, None) of every ``(video, shop, crop, category)`` task as it finishes; a
    scorer's exception is raised here as it was raised; a task whose worker died (remote, past
    the retries) comes as (index, None, why).

    On a remote executor the pairs are mapped as tasks, not sent to a pool of new workers: the
    worker processes that picked the shop images already hold the scorer's models (a scorer
    loads them once per process), so no worker loads them again."""
    from movingfashion.executors import LocalExecutor, WorkerLostError

    if not tasks:
        return
    if executor is not None and executor.remote:
        for i, out in executor.imap(partial(_score_or_error, scorer), tasks):
            if out.error is not None:  # the worker itself was lost
                yield i, None, out.error.removeprefix(f"{WorkerLostError.__name__}: ")
                continue
            score, error = out.value  # type: ignore[misc]
            if error is not None:
                raise error
            yield i, score, None
        return
    with (executor or LocalExecutor()).pool(_score, setup=partial(_same, scorer)) as pool:
        for i, task in enumerate(tasks):
            pool.submit(task, tag=i)
        for res in pool.drain():
            if res.error is not None:
                if isinstance(res.error, WorkerLostError):
                    yield res.tag, None, str(res.error)
                    continue
                raise res.error
            yield res.tag, res.value, None


def _scores(
    pairs: list[tuple[str, str, Path, Path]], scorer: PairScorer, executor: Executor | None
) -> list[float]:
    """The score of every pair, in order; a pair whose worker died is a :class:`WorkerLostError`
    naming it."""
    from movingfashion.executors import WorkerLostError

    scores = {}
    for i, score, lost in _stream_scores(
        [(video, shop, None, None) for _, _, video, shop in pairs], scorer, executor
    ):
        if lost is not None:
            raise WorkerLostError(_lost_line(pairs[i][2], pairs[i][3], lost))
        scores[i] = score
    return [scores[i] for i in range(len(pairs))]


def _lost_line(video: Path, shop: Path, why: str) -> str:
    return f"{video}: scoring it against shop image {shop.name} lost its worker ({why})"


def score_pairs(
    pairs: list[tuple[str, str, Path, Path]],
    scorer: PairScorer,
    threshold: float,
    executor: Executor | None = None,
) -> tuple[dict[tuple[str, str], float], list[AssociationFlag]]:
    """Score ``(source, source_id, video, shop)`` pairs; returns (min score per item, low pairs)."""
    per_item: dict[tuple[str, str], float] = {}
    flags = []
    for (source, source_id, video, shop), s in zip(pairs, _scores(pairs, scorer, executor), strict=True):
        s = _checked(s, video)
        key = (source, source_id)
        per_item[key] = min(per_item.get(key, 1.0), s)
        if s < threshold:
            flags.append(AssociationFlag(source, source_id, str(video), str(shop), round(s, 4)))
    return per_item, flags


def _checked(s: Any, video: Path) -> float:
    s = float(s)
    if not 0.0 <= s <= 1.0:
        raise ConfigError(f"matcher returned {s} for {video}, expected a score in [0, 1]", where="--matcher")
    return s


def _under(root: Path, rel: str) -> Path:
    return resolve_under(root, rel, what="asset path", root_label="the collection root")


def _pairs(
    catalog: Catalog,
    root: Path,
    crops: bool,
    skip: frozenset[tuple[str, str]] = frozenset(),
    categories: bool = False,
    held: frozenset[tuple[str, str]] = frozenset(),
) -> list[_Pair]:
    """(video, shop image) of every accepted item (but ``skip``), and of the needs_review ones
    (they may keep a contested product shot; only accepted items are flagged): its first shop image, collected
    before a carousel pick; split-screen videos with their recovered still half, scored on the
    moving half; ``categories``: with the item's DeepFashion2 class (for a scorer that takes it). An
    item whose files would lie outside the root is left to the steps that report it."""
    out = []
    for row in catalog.items(status=Status.ACCEPTED) + catalog.items(status=Status.NEEDS_REVIEW):
        src, sid = str(row.item.source), row.item.source_id
        if (src, sid) in skip:
            continue
        try:
            accepted = (
                row.status == Status.ACCEPTED
                or (src, sid) in held
                or held_by_recorded_flags(catalog, src, sid, row.status, row.reason)
            )
            pairs = _item_pairs(catalog, root, crops, src, sid, accepted)
        except PathEscapeError:
            continue
        for p in pairs:
            p.category = row.df2_class if categories else None
            p.read_as = (row.status, row.reason)
            p.placed = row.split in ("train", "test")
        out += pairs
    return out


def _item_pairs(catalog: Catalog, root: Path, crops: bool, src: str, sid: str, accepted: bool) -> list[_Pair]:
    out: list[_Pair] = []
    assets = catalog.assets(source=src, source_id=sid)
    shops = [a for a in assets if a.kind == AssetKind.SHOP and a.path and a.status == Status.ACCEPTED]
    if not shops:
        return out
    shops.sort(
        key=lambda a: ((a.url or "").startswith(CANDIDATE_URL), (a.url or "").startswith(SPLITSCREEN_URL))
    )
    shop = shops[0]
    fabrics = [a for a in assets if a.kind == AssetKind.FABRIC and a.path and a.status == Status.ACCEPTED]
    fabric = _under(root, fabrics[0].path) if fabrics else None
    rears = [a for a in assets if a.kind == AssetKind.REAR and a.path and a.status == Status.ACCEPTED]
    rear = _under(root, rears[0].path) if rears else None
    for v in assets:
        if v.kind != AssetKind.VIDEO or not v.path or v.status != Status.ACCEPTED:
            continue
        crop = tuple(float(c) for c in v.crop.box) if v.crop is not None else None
        if crop is not None and not crops:
            continue  # this scorer cannot look at the moving half alone
        derived = (shop.url or "").startswith(DERIVED_URLS)
        out.append(
            _Pair(
                src,
                sid,
                _under(root, v.path),
                _under(root, shop.path),
                v.sha256,
                shop.sha256,
                crop,
                derived,
                accepted,
                fabric=fabric,
                fabric_sha=fabrics[0].sha256 if fabrics else None,
                rear=rear,
                rear_sha=rears[0].sha256 if rears else None,
            )
        )
    return out


def check_associations(
    catalog: Catalog,
    root: str | os.PathLike[str],
    scorer: PairScorer,
    threshold: float,
    executor: Executor | None = None,
    *,
    margin: float | None = None,
    cache: Any = None,
    max_bits: int = 8,
    colour_tol: float = 6.0,
    copy_tol: float = 2.0,
) -> list[AssociationFlag]:
    """Score every accepted item's (video, shop) pairs; items with a pair below ``threshold``, or
    losing a contested shop image by more than ``margin`` (None: rule off), become needs_review
    with the score in the reason. ``cache`` (get/put by SHA-256) keeps scores and signatures
    between runs. ``executor`` scores the pairs (default: in this process). Returns the flags, one
    per flagged item."""
    return run_association_check(
        catalog,
        root,
        scorer,
        threshold,
        margin=margin,
        cache=cache,
        max_bits=max_bits,
        colour_tol=colour_tol,
        copy_tol=copy_tol,
        executor=executor,
    ).flags


def run_association_check(
    catalog: Catalog,
    root: str | os.PathLike[str],
    scorer: PairScorer,
    threshold: float,
    *,
    margin: float | None = None,
    cache: Any = None,
    max_bits: int = 8,
    colour_tol: float = 6.0,
    copy_tol: float = 2.0,
    still_tol: float = 9.0,
    derived_lead: float = 0.1,
    fabric_distance: float | None = None,
    rear_distance: float | None = None,
    coverage_lead: float | None = None,
    coverage_frames: int = 8,
    progress: Any = None,
    skip: frozenset[tuple[str, str]] = frozenset(),
    executor: Executor | None = None,
    by_class: bool = True,
    held: frozenset[tuple[str, str]] = frozenset(),
    class_claim: bool = False,
) -> AssociationResult:
    """:func:`check_associations` with the scores of every item (for reports and calibration);
    ``by_class``: pass each item's DeepFashion2 class to a scorer that takes ``category``;
    ``held``: items the catalog still shows needs_review by an earlier association flag while
    this run decided to accept them (``mf clean``'s record step keeps the flag until this check
    has run again): they are checked, and flagged, as accepted items. The thresholds
    (``max_bits``, ``colour_tol``, ``copy_tol``, ``still_tol``, ``derived_lead``) are the
    ``contest_*`` fields of :class:`cleaning.config.CleaningConfig`; ``fabric_distance`` (rule 3,
    None: off) is its ``fabric_colour_distance``, ``rear_distance`` (rule 4, None: off) its
    ``rear_colour_distance``, ``coverage_lead`` (rule 2's colour evidence, None: off) its
    ``contest_coverage_lead`` (over ``coverage_frames`` frames: ``shop_pick.sample_frames``);
    ``class_claim`` (rule 5, its ``association_class_claim``): :func:`_class_claims`."""
    from movingfashion.media.images import read_image

    root = Path(root)
    tag = scorer_tag(scorer)
    pairs = _pairs(catalog, root, takes_crop(scorer), skip, by_class and takes_category(scorer), held)
    res = AssociationResult(pairs=len(pairs))
    # every pair is scored on every detection; with ``by_class`` also on its class (the contest)
    jobs: list[tuple[_Pair, str, int | None]] = [(p, "score", None) for p in pairs] + [
        (p, "class_score", p.category) for p in pairs if p.category is not None
    ]
    todo: list[tuple[_Pair, str, int | None]] = []
    for job in jobs:
        p, attr, category = job
        hit, stale = _cached_score(
            cache.get(p.video_sha, _cache_what(tag, p, category))
            if cache is not None and tag and p.video_sha and p.shop_sha
            else None
        )
        res.recomputed += stale
        if hit is not None:  # else a miss, a damaged entry or another version's score
            setattr(p, attr, hit)
        else:
            todo.append(job)
    scored = {id(p) for p, _, _ in todo}
    res.cached = sum(1 for p in pairs if id(p) not in scored)  # pairs whose every score was cached
    # the progress counts pairs, as the report does: a pair is done once its last score is in
    left = Counter(id(p) for p, _, _ in todo)
    done = len(pairs) - len(left)
    if progress is not None and done:
        progress(done, len(pairs))

    def scored(p: _Pair) -> None:
        nonlocal done
        left[id(p)] -= 1
        if not left[id(p)]:
            done += 1
            if progress is not None:
                progress(done, len(pairs))

    tasks = [(p.video, p.shop, p.crop, category) for p, _, category in todo]
    lost: set[tuple[str, str]] = set()
    for i, score, why in _stream_scores(tasks, scorer, executor):
        p, attr, category = todo[i]
        if why is not None:  # its worker died: the item is left as it is (a rerun scores it)
            lost.add((p.source, p.source_id))
            failure = AssociationFailure(
                p.source, p.source_id, str(p.video), str(p.shop), _lost_line(_rel(p.video, root), p.shop, why)
            )
            log.warning("%s/%s: %s", p.source, p.source_id, failure.error)
            res.failed.append(failure)
            scored(p)
            continue
        setattr(p, attr, _checked(score, p.video))
        if cache is not None and tag and p.video_sha and p.shop_sha:
            # recorded here, as each score arrives
            cache.put(p.video_sha, _cache_what(tag, p, category), _stamped_score(getattr(p, attr)))
        scored(p)
    worst: dict[tuple[str, str], _Pair] = {}
    for p in pairs:
        key = (p.source, p.source_id)
        if key in lost:
            continue
        if key not in worst or p.score < worst[key].score:
            worst[key] = p
    res.scores = {k: round(p.score, 4) for k, p in worst.items() if p.accepted}
    reasons: dict[tuple[str, str], str] = {}
    for key, p in worst.items():
        if p.accepted and p.score < threshold:
            reasons[key] = (
                f"{REASON} low match score {round(p.score, 4)} < {threshold} "
                f"between {p.video.name} and {p.shop.name}"
            )
    off_colour: set[tuple[str, str]] = set()
    # rules 3 and 4: the item's own fabric close-up or rear product shot, where it has one
    views = (
        (fabric_distance, _fabric_distance, res.fabric_colour, "fabric", "fabric close-up", "mean colour"),
        (rear_distance, _rear_distance, res.rear_colour, "rear", "rear product shot", "object colour"),
    )
    for cut, distance, seen, attr, view, measure in views:
        if cut is None:
            continue  # the rule is off
        for key, p in worst.items():
            d = distance(p, cache)
            own = getattr(p, attr)
            if d is None or own is None:
                continue  # no such view: the rule does not apply
            seen[key] = round(d, 1)
            if d > cut:
                off_colour.add(key)
                if p.accepted:
                    reasons.setdefault(
                        key,
                        f"{REASON} shop image {p.shop.name}'s colour disagrees with the item's own {view} "
                        f"{own.name} ({measure} distance {round(d, 1)} > {cut}; match score {round(p.score, 4)})",
                    )
    if margin is not None:
        signature: dict[tuple[str, str], tuple[int, list[int]]] = {}
        for key, p in worst.items():
            sig = cache.get(p.shop_sha, "object") if cache is not None and p.shop_sha else None
            sig = _cached_signature(sig)
            if sig is None:
                sig = object_signature(read_image(p.shop))
                if cache is not None and p.shop_sha:
                    cache.put(p.shop_sha, "object", [format(sig[0], "016x"), sig[1]])
            signature[key] = sig

        contests = _contests(
            worst,
            signature,
            margin,
            threshold,
            max_bits,
            colour_tol,
            copy_tol=copy_tol,
            still_tol=still_tol,
            derived_lead=derived_lead,
            off_colour=frozenset(off_colour),
            coverage=None
            if coverage_lead is None
            else partial(_coverage, cache=cache, frames=coverage_frames),
            coverage_lead=coverage_lead,
        )
        res.colour_coverage = {
            (p.source, p.source_id): round(p.coverage, 3) for p in worst.values() if p.coverage is not None
        }
        for key, loser, keeper, why in contests:
            text = (
                f"{REASON} shop image {loser.shop.name} shows the garment of "
                f"{keeper.source}/{keeper.source_id}"
                + (", the source's own shop image there" if why == "derived" else "")
                + (", a product placed in a split before this item came" if why == "placed" else "")
            )
            on = ", on the item's class" if loser.class_score is not None else ""
            if why == "colour":  # decided on the colours the two videos show
                reasons.setdefault(
                    key,
                    text
                    + f", whose video shows the picture's colours (colour coverage {round(loser.coverage or 0.0, 3)} "
                    f"here vs {round(keeper.coverage or 0.0, 3)} there; match score "
                    f"{round(loser.contest_score, 4)} here vs {round(keeper.contest_score, 4)} there{on})",
                )
                continue
            reasons.setdefault(
                key,
                text
                + f" (match score {round(loser.contest_score, 4)} here vs {round(keeper.contest_score, 4)} there{on})",
            )
    if class_claim:
        for key, (p, claimant, claim) in _class_claims(
            pairs, worst, reasons, threshold, margin or 0.0, scorer, tag, cache, executor, lost, root, res
        ).items():
            reasons[key] = (
                f"{REASON} shop image {p.shop.name} shows the garment of {claimant.source}/"
                f"{claimant.source_id} on the item's class (match score {round(p.contest_score, 4)} here vs "
                f"{round(claim, 4)} there, on the item's class; {round(p.score, 4)} here on every detection)"
            )
    accepted = reviewer_accepted(catalog)
    todo = [(worst[key], reason) for key, reason in sorted(reasons.items()) if key not in accepted]
    for start in range(0, len(todo), CAS_BATCH):  # reviewer-accepted pairs are not flagged again
        for p, reason, changed in _write_flags(catalog, todo[start : start + CAS_BATCH]):
            if changed:  # an event records a change: a rerun that flags it the same way logs none
                catalog.log_event(
                    "clean", f"association flagged: score {round(p.score, 4)}", p.source, p.source_id
                )
            res.flags.append(
                AssociationFlag(p.source, p.source_id, str(p.video), str(p.shop), round(p.score, 4), reason)
            )
    return res


def _class_claims(
    pairs: list[_Pair],
    worst: dict[tuple[str, str], _Pair],
    reasons: dict[tuple[str, str], str],
    threshold: float,
    margin: float,
    scorer: PairScorer,
    tag: str | None,
    cache: Any,
    executor: Executor | None,
    lost: set[tuple[str, str]],
    root: Path,
    res: AssociationResult,
) -> dict[tuple[str, str], tuple[_Pair, _Pair, float]]:
    """Rule 5: item key -> (its pair, the claimant's pair, the claim) for every accepted item not
    flagged yet that passes ``threshold`` on every detection but not on its own class (its video
    has detections of the class, none of them matching), whose shop image another item's video of
    the same class (another video, another shop image) scores at least ``threshold`` on that class
    and more than ``margin`` above this item's: the picture shows a garment the catalog holds, and
    this video does not show it (a TikTok served a same-class item's picture that one of its other
    garments matches). Each such claim is one extra score per same-class video (cached as any)."""
    cands = [
        p
        for key, p in worst.items()
        if p.accepted and key not in reasons and p.class_score is not None and p.class_score < threshold
    ]
    jobs: list[
        tuple[_Pair, _Pair, _Pair]
    ] = []  # (candidate, claimant, the claimant's video with its shop image)
    for p in cands:
        for q in pairs:
            if (
                (q.source, q.source_id) == (p.source, p.source_id)
                or (q.source, q.source_id) in lost
                or q.category != p.category
                or q.video_sha == p.video_sha
                or q.shop_sha == p.shop_sha
            ):
                continue
            jobs.append((p, q, replace(q, shop=p.shop, shop_sha=p.shop_sha, class_score=None)))
    todo: list[int] = []
    for i, (_, _, c) in enumerate(jobs):
        hit, stale = _cached_score(
            cache.get(c.video_sha, _cache_what(tag, c, c.category))
            if cache is not None and tag and c.video_sha and c.shop_sha
            else None
        )
        res.recomputed += stale
        if hit is not None:
            c.class_score = hit
        else:
            todo.append(i)
    tasks = [(jobs[i][2].video, jobs[i][2].shop, jobs[i][2].crop, jobs[i][2].category) for i in todo]
    for n, score, why in _stream_scores(tasks, scorer, executor):
        c = jobs[todo[n]][2]
        if why is not None:  # its worker died: no claim from this video (a rerun scores it)
            log.warning("%s: %s", c.video, _lost_line(_rel(c.video, root), c.shop, why))
            continue
        c.class_score = _checked(score, c.video)
        if cache is not None and tag and c.video_sha and c.shop_sha:
            cache.put(c.video_sha, _cache_what(tag, c, c.category), _stamped_score(c.class_score))
    out: dict[tuple[str, str], tuple[_Pair, _Pair, float]] = {}
    for p, q, c in jobs:
        claim = c.class_score
        own = p.class_score if p.class_score is not None else p.score
        if claim is None or claim < threshold or claim <= own + margin:
            continue
        key = (p.source, p.source_id)
        if key not in out or claim > out[key][2]:
            out[key] = (p, q, claim)
    return out


def _write_flags(catalog: Catalog, flags: list[tuple[_Pair, str]]) -> list[tuple[_Pair, str, bool]]:
    """Set each pair's item needs_review with its reason, by compare-and-set against the row as
    :func:`_pairs` read it (:meth:`~schemas.catalog.Catalog.set_item_states_if`, one transaction
    a try); returns the flags written, each with whether it changed the row (False: the item was
    needs_review with that reason already, as on a rerun). A row another process changed since
    is read again and flagged only while it is still the check's to flag (:func:`_flaggable`): a
    tracklets mark or a reviewer's decision made during the run stays."""
    done: list[tuple[_Pair, str, bool]] = []

    def attempt(todo: list[tuple[_Pair, str, tuple[Any, Any]]]) -> list[tuple[_Pair, str, tuple[Any, Any]]]:
        missed = set(
            catalog.set_item_states_if(
                (
                    p.source,
                    p.source_id,
                    {"status": st, "reason": why},
                    {"status": Status.NEEDS_REVIEW, "reason": r},
                )
                for p, r, (st, why) in todo
            )
        )
        done.extend(
            (p, r, (st, why) != (Status.NEEDS_REVIEW, r))
            for p, r, (st, why) in todo
            if (p.source, p.source_id) not in missed
        )
        if not missed:
            return []
        accepted = reviewer_accepted(catalog)  # an accept made meanwhile counts too
        retry = []
        for p, r, _ in todo:
            row = catalog.get_item(p.source, p.source_id) if (p.source, p.source_id) in missed else None
            if row is not None and (p.source, p.source_id) not in accepted and _flaggable(catalog, row):
                retry.append((p, r, (row.status, row.reason)))
        return retry

    write_until_settled(
        catalog,
        [(p, reason, p.read_as) for p, reason in flags],
        attempt,
        name=lambda t: f"{t[0].source}/{t[0].source_id}",
        doing="mf clean flagged it",
    )
    return done


def _flaggable(catalog: Catalog, row: ItemRow) -> bool:
    """Whether the association check may (still) flag an item whose row is ``row``: accepted,
    needs_review by an association flag of its own, or by the tracklet builder's recorded flags
    alone (they hold it again once the flag is lifted,
    :func:`schemas.review.held_by_recorded_flags`); not another mark (a ``tracklets: ...`` reason
    the builder did not record, a reviewer's), nor a rejection (a reviewer's included)."""
    return (
        row.status == Status.ACCEPTED
        or (row.status == Status.NEEDS_REVIEW and (row.reason or "").startswith(REASON))
        or held_by_recorded_flags(catalog, str(row.item.source), row.item.source_id, row.status, row.reason)
    )


def _cached_colour(value: Any) -> list[float] | None:
    """A cached RGB colour (three numbers); None when absent or damaged."""
    if (
        isinstance(value, list)
        and len(value) == 3
        and all(isinstance(c, int | float) and not isinstance(c, bool) for c in value)
    ):
        return [float(c) for c in value]
    return None


def _colour_of(cache: Any, sha: str | None, path: Path, what: str, measure: Any) -> list[float]:
    """``measure(image)`` of the picture at ``path``, through ``cache`` under (``sha``, ``what``)."""
    from movingfashion.media.images import read_image

    colour = _cached_colour(cache.get(sha, what)) if cache is not None and sha else None
    if colour is None:
        colour = measure(read_image(path))
        if cache is not None and sha:
            cache.put(sha, what, colour)
    return colour


def _fabric_distance(p: _Pair, cache: Any) -> float | None:
    """Rule 3's distance: the L1 distance between the mean colour of the object of the item's shop
    image (:func:`object_colour`) and that of its own fabric close-up (:func:`mean_colour`); None
    when the item has no fabric image."""
    if p.fabric is None:
        return None
    shop = _colour_of(cache, p.shop_sha, p.shop, "object-colour", object_colour)
    fabric = _colour_of(cache, p.fabric_sha, p.fabric, "mean-colour", mean_colour)
    return colour_distance(shop, fabric)


def _rear_distance(p: _Pair, cache: Any) -> float | None:
    """Rule 4's distance: the L1 distance between the mean colours of the objects
    (:func:`object_colour`) of the item's shop image and of its own rear product shot; None when
    the item has no rear image."""
    if p.rear is None:
        return None
    shop = _colour_of(cache, p.shop_sha, p.shop, "object-colour", object_colour)
    rear = _colour_of(cache, p.rear_sha, p.rear, "object-colour", object_colour)
    return colour_distance(shop, rear)


def _coverage(p: _Pair, cache: Any = None, frames: int = 8) -> float:
    """How much of the main colours of the item's shop image its video shows
    (:func:`cleaning.shop_pick.colour_coverage` over ``frames`` frames spread over the video, as
    the carousel pick samples them; the moving half of a split-screen video), through ``cache``
    under the video's SHA-256; kept on ``p.coverage``."""
    from cleaning.shop_pick import colour_coverage, sample_frames
    from movingfashion.media.images import read_image

    if p.coverage is not None:
        return p.coverage
    what = f"coverage:{frames}:{p.shop_sha}:{p.crop}"
    kept = cache.get(p.video_sha, what) if cache is not None and p.video_sha and p.shop_sha else None
    if isinstance(kept, int | float) and not isinstance(kept, bool):
        p.coverage = float(kept)
    else:
        p.coverage = float(colour_coverage(sample_frames(p.video, frames, crop=p.crop), read_image(p.shop)))
        if cache is not None and p.video_sha and p.shop_sha:
            cache.put(p.video_sha, what, p.coverage)
    return p.coverage


def _cached_signature(value: Any) -> tuple[int, list[int]] | None:
    """A cached object signature (``[hex pHash, colour thumbnail]``); None when absent or damaged."""
    try:
        h, colour = value
        if not isinstance(colour, list) or not all(isinstance(c, int | float) for c in colour):
            return None
        return int(h, 16), colour
    except (TypeError, ValueError):
        return None


def _rel(path: Path, root: Path) -> Path:
    """``path`` as the catalog names it (under the collection root), when it is under it."""
    try:
        return path.relative_to(root)
    except ValueError:
        return path


#: Version of the (video, shop image) comparison: how a pair is cut and handed to the scorer
#: (:func:`_pairs`, :func:`_score`). Bump it when the score a pair gets changes: cached scores of
#: another version are scored again. The scorer's weights and settings are its ``tag``, in the key.
ASSOCIATION_VERSION = 1


def _cache_what(tag: str | None, p: _Pair, category: int | None = None) -> str:
    return f"assoc:{tag}:{p.shop_sha}:{p.crop}" + (f":c{category}" if category is not None else "")


def _stamped_score(score: float) -> dict[str, Any]:
    """A score as the cache keeps it: with the comparison's version."""
    return {"version": ASSOCIATION_VERSION, "score": score}


def _cached_score(kept: Any) -> tuple[float | None, bool]:
    """(the score ``kept`` holds, or None; whether it was there but of another version, a bare
    number of an older release included: it is scored again)."""
    if kept is None:
        return None, False
    if not isinstance(kept, dict) or kept.get("version") != ASSOCIATION_VERSION:
        return None, True
    score = kept.get("score")
    if isinstance(score, int | float) and not isinstance(score, bool):
        return float(score), False
    return None, False  # a damaged entry: a miss


def reviewer_accepted(catalog: Catalog) -> set[tuple[str, str]]:
    """(source, source_id) of the items whose latest review verdict is ``accept``."""
    from schemas.review import list_decisions, review_states

    keys: dict[tuple[str, str], tuple[str, str]] = {}  # (video, product) -> its item
    for d in list_decisions(catalog):
        if d.source and d.source_id:
            keys.setdefault((d.video, d.product_id), (d.source, d.source_id))
    return {keys[k] for k, st in review_states(catalog).items() if st.verdict == "accept" and k in keys}


def object_difference(a: np.ndarray, b: np.ndarray, size: tuple[int, int] = (64, 80)) -> float:
    """Mean absolute pixel difference of the objects of two product shots, each cut to its bounding
    box and resized to ``size``: ~0 for copies of one file, 3-5 for confusable twins (a logo or a
    stripe width apart), 5-8 for a still half of a video (re-encoded) against its source."""
    from cleaning.dedup import image_difference

    def obj(image: np.ndarray) -> np.ndarray:
        ys, xs = np.nonzero(object_mask(image))
        if len(ys) < 10:
            return image
        return image[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]

    return image_difference(obj(a), obj(b), size)


def _contests(
    worst: dict[tuple[str, str], _Pair],
    signature: dict[tuple[str, str], tuple[int, list[int]]],
    margin: float,
    threshold: float,
    max_bits: int,
    colour_tol: float,
    copy_tol: float = 2.0,
    still_tol: float = 9.0,
    derived_lead: float = 0.1,
    off_colour: frozenset[tuple[str, str]] = frozenset(),
    coverage: Callable[[_Pair], float] | None = None,
    coverage_lead: float | None = None,
) -> list[tuple[tuple[str, str], _Pair, _Pair, str]]:
    """(loser key, loser pair, keeper pair, why) of every group of items sharing one product shot.

    Two images are one shot when they are one file, or their object hashes agree and their objects
    differ by at most ``copy_tol`` grey levels (so confusable twins' shop images are not one shot),
    ``still_tol`` when one is a split-screen still (a re-encoded copy: 5-8 apart from its source;
    a twin's still is mostly further). The keeper is a pair scoring at least ``threshold``: the
    best-matching collected image, unless a derived one matches its video better by more than
    ``derived_lead``. The others lose (``why`` = ``"derived"`` or ``"score"``) when their image is
    derived and the keeper's is not, or when they score more than ``margin`` below it (items
    within ``margin`` stay: retakes, several videos of one product, share its shop image file).
    A group holding items already placed in a split and new ones keeps a placed item: a new
    item more than ``margin`` from it either way loses (``why`` = ``"placed"``), so a later
    batch never pushes a published product out on a score (a wrong incumbent is flagged by
    its own low score). Items in ``off_colour`` (rules 3 and 4: the shop image's colour disagrees
    with their own fabric close-up or rear product shot) keep it only when no other item can: one
    scoring at least ``threshold`` on its class, else one scoring so on every detection (rule 1's
    score; the item's class can be missed by the detector).

    With ``coverage`` (a pair's :func:`_coverage`) and ``coverage_lead``, a derived image whose
    video shows more of the picture's main colours than the keeper's video by more than
    ``coverage_lead`` keeps it instead of a collected one (a product page served another item's
    picture: the matcher can score a same-class garment of other colours as high as the right
    one), and the collected items trailing it by as much lose (``why`` = ``"colour"``)."""
    from cleaning.mih import UnionFind
    from movingfashion.media.images import read_image

    def still(p: _Pair) -> bool:
        return p.derived and p.crop is not None

    images: dict[Path, np.ndarray] = {}

    def image(path: Path) -> np.ndarray:  # each shop image read once, however many pairs it is in
        if path not in images:
            images[path] = read_image(path)
        return images[path]

    keys = sorted(worst)
    uf = UnionFind(keys)
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            pa, pb = worst[a], worst[b]
            if pa.shop_sha and pa.shop_sha == pb.shop_sha:
                uf.union(a, b)
            elif same_object(signature[a], signature[b], max_bits, colour_tol):
                tol = still_tol if still(pa) or still(pb) else copy_tol
                if object_difference(image(pa.shop), image(pb.shop)) <= tol:
                    uf.union(a, b)
    groups: dict[Any, list[tuple[str, str]]] = defaultdict(list)
    for k in keys:
        groups[uf.find(k)].append(k)
    out = []
    for members in groups.values():
        if len(members) < 2:
            continue
        placed = [k for k in members if worst[k].placed]
        pool = placed if placed and len(placed) < len(members) else members  # incumbents keep
        base = [k for k in pool if worst[k].contest_score >= threshold] or pool
        able = [k for k in base if k not in off_colour]
        if not able:  # every item matching it on its class is off-colour: one rule 1 passes can keep it
            able = [k for k in pool if k not in off_colour and worst[k].score >= threshold] or base
        best = max(able, key=lambda k: (not worst[k].derived, worst[k].contest_score, k))
        lead = max(able, key=lambda k: (worst[k].contest_score, k))
        if worst[lead].derived and worst[lead].contest_score > worst[best].contest_score + derived_lead:
            best = lead  # a derived image that fits its video far better than the collected one
        by_colour = False
        if coverage is not None and coverage_lead is not None and not worst[best].derived:
            shown = [k for k in able if worst[k].derived]
            if shown:
                top = max(shown, key=lambda k: (coverage(worst[k]), worst[k].contest_score, k))
                by_colour = coverage(worst[top]) > coverage(worst[best]) + coverage_lead
                best = top if by_colour else best  # its video shows the picture's colours, not the other's
        for k in members:
            if k == best or not worst[k].accepted:
                continue
            if (
                by_colour
                and not worst[k].derived
                and coverage is not None
                and coverage(worst[k]) < coverage(worst[best]) - (coverage_lead or 0.0)
            ):
                out.append((k, worst[k], worst[best], "colour"))
            elif worst[k].derived and not worst[best].derived:
                out.append((k, worst[k], worst[best], "derived"))
            elif pool is placed and not worst[k].placed:
                if abs(worst[k].contest_score - worst[best].contest_score) > margin:
                    out.append((k, worst[k], worst[best], "placed"))
            elif worst[k].contest_score < worst[best].contest_score - margin:
                out.append((k, worst[k], worst[best], "score"))
    return out
