"""Wrong video/shop associations: score every pair with a matcher, flag low scores.

The matcher is any object with ``score(video_path, shop_path) -> float`` in [0, 1]
(:class:`PairScorer`); :func:`matchrcnn_scorer` builds the Match-RCNN one
(:class:`movingfashion.models.shop_scorer.VideoShopScorer`: the detector and the single-frame
matcher) from weight files, as ``mf clean --matcher FILE`` does. Low-scoring pairs become
``needs_review`` with the score in the reason; nothing is dropped. Pairs are scored through an
executor (:mod:`movingfashion.executors`): each worker gets the scorer once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from schemas.catalog import Catalog
from schemas.errors import ConfigError
from schemas.items import AssetKind, Status
from schemas.paths import resolve_under

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


@dataclass(frozen=True)
class AssociationFlag:
    source: str
    source_id: str
    video: str
    shop: str
    score: float


def _same(value: Any) -> Any:
    return value


def _score(scorer: PairScorer, pair: tuple[Path, Path]) -> float:
    return float(scorer.score(str(pair[0]), str(pair[1])))


def _scores(
    pairs: list[tuple[str, str, Path, Path]], scorer: PairScorer, executor: Executor | None
) -> list[float]:
    """The score of every pair, in order; a scorer's exception is raised here as it was raised."""
    from movingfashion.executors import LocalExecutor

    scores: dict[int, float] = {}
    with (executor or LocalExecutor()).pool(_score, setup=partial(_same, scorer)) as pool:
        for i, (_, _, video, shop) in enumerate(pairs):
            pool.submit((video, shop), tag=i)
        for res in pool.drain():
            if res.error is not None:
                raise res.error
            scores[res.tag] = res.value
    return [scores[i] for i in range(len(pairs))]


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
        if not 0.0 <= s <= 1.0:
            raise ConfigError(
                f"matcher returned {s} for {video}, expected a score in [0, 1]", where="--matcher"
            )
        key = (source, source_id)
        per_item[key] = min(per_item.get(key, 1.0), s)
        if s < threshold:
            flags.append(AssociationFlag(source, source_id, str(video), str(shop), round(s, 4)))
    return per_item, flags


def _under(root: Path, rel: str) -> Path:
    return resolve_under(root, rel, what="asset path", root_label="the collection root")


def check_associations(
    catalog: Catalog,
    root: str | os.PathLike[str],
    scorer: PairScorer,
    threshold: float,
    executor: Executor | None = None,
) -> list[AssociationFlag]:
    """Score every accepted item's (video, shop) pairs; items with a pair below ``threshold``
    become needs_review with the score in the reason. Returns the flagged pairs."""
    root = Path(root)
    pairs = []
    for row in catalog.items(status=Status.ACCEPTED):
        src, sid = str(row.item.source), row.item.source_id
        assets = catalog.assets(source=src, source_id=sid)
        shops = [a for a in assets if a.kind == AssetKind.SHOP and a.path and a.status != Status.REJECTED]
        if not shops or (shops[0].url or "").startswith("splitscreen:"):
            continue  # a shop recovered from the video itself is associated by construction
        shops.sort(key=lambda a: (a.url or "").startswith("candidate:"))
        for v in assets:
            if v.kind == AssetKind.VIDEO and v.path and v.status == Status.ACCEPTED:
                pairs.append((src, sid, _under(root, v.path), _under(root, shops[0].path)))
    _, flags = score_pairs(pairs, scorer, threshold, executor)
    seen = set()
    for f in flags:
        if (f.source, f.source_id) in seen:
            continue
        seen.add((f.source, f.source_id))
        catalog.set_item_state(
            f.source,
            f.source_id,
            status=Status.NEEDS_REVIEW,
            reason=f"association: low match score {f.score} < {threshold} "
            f"between {Path(f.video).name} and {Path(f.shop).name}",
        )
        catalog.log_event("clean", f"association flagged: score {f.score}", f.source, f.source_id)
    return flags
