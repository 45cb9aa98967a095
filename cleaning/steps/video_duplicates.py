"""Step ``video_duplicates``: fingerprint every accepted video, then cluster duplicates.

A video that probed fine but does not decode at its fingerprint frames is rejected as corrupt
(an item left without a video is rejected). In each cluster of exact, re-encoded (re-posted)
or sub-clip duplicates one video is kept (:mod:`cleaning.dedup`, which verifies candidates on the
files' pixels); the others become ``duplicate`` assets,
and an item all of whose videos are duplicates becomes a ``duplicate`` item pointing at the
item that owns the kept video. The kept video is one whose item can be accepted when the cluster
has one (:func:`usability`: not rejected, not non-clothing by the taxonomy rules, with a shop image
or carousel candidates to pick one from), so a usable item is never lost as the duplicate of an
unusable one; among those, one a split already holds (:func:`keep_rank`), so a re-post or
re-listing collected later never takes a published product's place (or its id). Fingerprints and the verified evidence of candidate pairs are cached by SHA-256.

The videos of items a reviewer rejected (``review: ...``) take part too, ranked after every other
video and never re-decided: the item that keeps a video of such a cluster becomes needs_review
(``dedup: <kind> duplicate of <item>, which review rejected``), so a re-post of a rejected video
is not published unseen; a reviewer's accept lifts it, and an undo of the reject makes it the
rejected item's duplicate again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cleaning.associations import reviewer_accepted
from cleaning.config import DedupConfig
from cleaning.dedup import VideoRecord, find_video_duplicates
from cleaning.fingerprint import VideoFingerprint, fingerprint_video
from cleaning.steps.base import Step, StepContext, StepReport
from cleaning.steps.cache import ResultCache
from cleaning.steps.state import CleaningState, ItemState, VideoState
from cleaning.taxonomy import Rules, classify_item, load_rules
from movingfashion.executors import Outcome
from movingfashion.media.probe import video_stream_digest
from schemas.errors import MediaError
from schemas.items import AssetKind, Status
from schemas.review import review_classes


@dataclass(frozen=True)
class FingerprintTask:
    path: Path
    frames: int
    fps: float
    width: int
    height: int
    cfg: DedupConfig


@dataclass(frozen=True)
class Fingerprint:
    """A fingerprint, or why the video does not decode at the fingerprint frames."""

    fingerprint: VideoFingerprint | None = None
    corrupt: str | None = None


def fingerprint_file(task: FingerprintTask) -> Fingerprint:
    try:
        return Fingerprint(
            fingerprint_video(task.path, task.frames, task.fps, task.width, task.height, task.cfg)
        )
    except MediaError as exc:  # decodes at the probe points but not everywhere
        return Fingerprint(corrupt=exc.message)


class VideoDuplicatesStep(Step):
    name = "video_duplicates"
    requires = ("probe",)

    def run(self, state: CleaningState, ctx: StepContext) -> StepReport:
        self._fingerprint(state, ctx)
        frozen = state.review_rejected  # videos of items review rejected: never re-decided here
        self._streams(
            [*state.videos.values(), *(v for v in frozen.values() if v.fingerprint is not None)], ctx
        )
        records = [_record(path, v, state, ctx) for path, v in state.videos.items()]
        records += [  # pairs are verified on pixels: only videos whose file is there
            _record(path, v, state, ctx)
            for path, v in frozen.items()
            if v.fingerprint is not None and ctx.path(path).is_file()
        ]
        rules = load_rules(ctx.cfg.taxonomy_rules) if "taxonomy" in ctx.cfg.steps else None
        rank: dict[str, int] = {}  # item key -> usability, asked for the members of clusters only
        classes: dict[tuple[str, str], int] | None = None  # classes review set (read once, if asked)

        def prefer(r: VideoRecord) -> int:
            nonlocal classes
            if r.key in frozen:
                return REVIEW_REJECTED  # kept only in a cluster of rejected videos alone
            owner = state.videos[r.key].owner
            if owner not in rank:
                classes = review_classes(ctx.catalog) if classes is None else classes
                it = state.items[owner]
                rank[owner] = keep_rank(it, rules, (it.item.source, it.item.source_id) in classes)
            return rank[owner]

        dup = find_video_duplicates(records, ctx.cfg.dedup, prefer=prefer, known=PairEvidenceCache(ctx.cache))
        shadowed: dict[str, str] = {}  # kept video -> the rejected video it duplicates
        for path, kept in dup.duplicate_of.items():
            if path in frozen or kept in frozen:
                if path in frozen and kept in state.videos:
                    shadowed.setdefault(kept, path)
                continue
            v = state.videos[path]
            v.asset = v.asset.model_copy(
                update={
                    "status": Status.DUPLICATE,
                    "duplicate_of": kept,
                    "reason": f"dedup: {dup.kind[path]} duplicate of {kept}",
                }
            )
        accepted_in_review = reviewer_accepted(ctx.catalog) if shadowed else set()
        by_owner = state.videos_by_owner()
        flagged = 0
        for it in state.live():
            mine = by_owner.get(it.key, [])
            if it.status == Status.REJECTED:
                continue
            if not mine:
                it.decide(Status.REJECTED, "probe: no valid video (none decodes fully)")
            elif all(p in dup.duplicate_of for p in mine):
                owner = state.videos[dup.duplicate_of[mine[0]]].owner
                it.decide(
                    Status.DUPLICATE, f"dedup: {dup.kind[mine[0]]} duplicate of {owner}", duplicate_of=owner
                )
            elif (seen := next((p for p in mine if p in shadowed), None)) is not None and (
                it.item.source,
                it.item.source_id,
            ) not in accepted_in_review:
                gone = shadowed[seen]
                it.decide(Status.NEEDS_REVIEW, review_rejected_twin(dup.kind[gone], frozen[gone]))
                flagged += 1
        return StepReport(
            {
                "duplicate_videos": dict(Counter(dup.kind.values())),
                "duplicate_clusters": len(dup.clusters),
                "pairs_recomputed": dup.pairs_recomputed,
                "duplicates_of_review_rejected": flagged,
            }
        )

    def _fingerprint(self, state: CleaningState, ctx: StepContext) -> None:
        """Set ``fingerprint`` of every video (cache, else decoded once per SHA-256); drop corrupt
        ones. The videos of items review rejected are fingerprinted only from a file that is
        there, and a failure of theirs is never cached (the asset's SHA-256 is the bytes it had
        when probed, not a missing or changed file's: a "corrupt" probe under it would reject an
        intact copy): such a video just takes no part."""
        todo: dict[str, VideoState] = {}
        for v in state.videos.values():
            v.fingerprint = _cached_fingerprint(ctx.cache.get(v.asset.sha256, "fingerprint"))
            if v.fingerprint is None:  # not cached, or a damaged entry: fingerprinted again
                todo.setdefault(v.asset.sha256 or v.asset.path, v)
        frozen: dict[str, VideoState] = {}  # review-rejected videos to fingerprint, by SHA-256
        for path, v in list(state.review_rejected.items()):
            v.fingerprint = _cached_fingerprint(ctx.cache.get(v.asset.sha256, "fingerprint"))
            if v.fingerprint is not None or v.asset.sha256 in todo:
                continue
            if ctx.path(path).is_file():
                frozen.setdefault(v.asset.sha256, v)
            else:  # its file is gone since review: it can shadow nothing
                del state.review_rejected[path]
        results = self._run(ctx, todo, cache_corrupt=True) | self._run(ctx, frozen, cache_corrupt=False)
        for path, v in list(state.videos.items()):
            if v.fingerprint is not None or state.items[v.owner].failure is not None:
                continue
            out = results[v.asset.sha256 or path]
            if not out.ok:
                state.fail(v.owner, self.name, f"{path}: {out.error}")
            elif out.value.corrupt is not None:
                self._reject_corrupt(state, ctx, v, out.value.corrupt)
            else:
                v.fingerprint = out.value.fingerprint
        for path, v in list(state.review_rejected.items()):
            if v.fingerprint is None:
                out = results.get(v.asset.sha256)
                if out is not None and out.ok and out.value.fingerprint is not None:
                    v.fingerprint = out.value.fingerprint
                else:  # damaged since review: it can shadow nothing
                    del state.review_rejected[path]

    @staticmethod
    def _streams(videos: list[VideoState], ctx: StepContext) -> None:
        """Set ``stream`` of every video: its stream digest, cached by SHA-256 (one remux of another
        video, or the same file with another rotation tag, is then an exact duplicate of it)."""
        todo: dict[str, list[VideoState]] = {}
        for v in videos:
            v.stream = ctx.cache.get(v.asset.sha256, "stream")
            if not isinstance(v.stream, str) and v.asset.sha256:
                v.stream = None
                todo.setdefault(v.asset.sha256, []).append(v)
        paths = [ctx.path(vs[0].asset.path) for vs in todo.values()]
        outcomes = ctx.map(video_stream_digest, paths, desc="stream digests", unit="video")
        for (sha, vs), out in zip(todo.items(), outcomes, strict=True):
            if out.ok and out.value is not None:
                ctx.cache.put(sha, "stream", out.value)
                for v in vs:
                    v.stream = out.value

    @staticmethod
    def _run(ctx: StepContext, todo: dict[str, VideoState], *, cache_corrupt: bool) -> dict[str, Outcome]:
        """Fingerprint ``todo`` (key -> a video of that SHA-256) through the executor; each
        fingerprint is cached as it comes in, and a video that does not decode as a corrupt probe
        when ``cache_corrupt``."""
        if not todo:
            return {}
        tasks = [
            FingerprintTask(
                ctx.path(v.asset.path),
                v.probe.frames,
                v.probe.fps,
                v.probe.width,
                v.probe.height,
                ctx.cfg.dedup,
            )
            for v in todo.values()
        ]
        shas = [v.asset.sha256 for v in todo.values()]

        def record(i: int, out: Outcome[Fingerprint]) -> None:
            if not out.ok:
                return
            if out.value.corrupt is None:
                ctx.cache.put(shas[i], "fingerprint", out.value.fingerprint.to_json())
            elif cache_corrupt:
                ctx.cache.put(shas[i], "probe", _corrupt_probe(out.value.corrupt))

        outcomes = ctx.map(fingerprint_file, tasks, desc="fingerprint", record=record)
        return dict(zip(todo, outcomes, strict=True))

    @staticmethod
    def _reject_corrupt(state: CleaningState, ctx: StepContext, v: VideoState, message: str) -> None:
        """The video's probe becomes a rejection (cached by ``record`` as the result came in)."""
        bad = v.asset.model_copy(update={"status": Status.REJECTED, "reason": f"probe: corrupt: {message}"})
        it = state.items[v.owner]
        it.assets = [bad if a.kind == AssetKind.VIDEO and a.path == bad.path else a for a in it.assets]
        del state.videos[v.asset.path]


#: the keep rule's rank of a video whose item review rejected: after every item cleaning decides
REVIEW_REJECTED = 10


def review_rejected_twin(kind: str, rejected: VideoState) -> str:
    """The needs_review reason of the item kept in a cluster with a video review rejected."""
    return f"dedup: {kind} duplicate of {rejected.owner}, which review rejected: accept it in review to publish it"


def keep_rank(it: ItemState, rules: Rules | None, class_reviewed: bool = False) -> int:
    """The keep rule's first criterion for the videos of ``it`` (lower kept first): its
    :func:`usability`, then a published item (accepted and placed in a split before this run)
    before any other, so a copy collected later neither takes a published product out of its
    split nor renames it."""
    return 2 * usability(it, rules, class_reviewed) + (it.placed is None)


def usability(it: ItemState, rules: Rules | None, class_reviewed: bool = False) -> int:
    """How far an item can get, the keep rule's first criterion (lower kept first): 0 it can be
    accepted, 1 its class is ambiguous (a reviewer sets it; ``class_reviewed``: one did), 2 it has
    neither a shop image nor carousel candidates to pick one from, 3 both, 4 it is rejected
    (already, or non-clothing by ``rules``; None: the class is not asked)."""
    verdict = classify_item(it.item, rules).status if rules is not None else "accepted"
    if verdict == "needs_review" and class_reviewed:
        verdict = "accepted"
    if it.status == Status.REJECTED or verdict == "rejected":
        return 4
    shop = any(
        a.kind in (AssetKind.SHOP, AssetKind.CANDIDATE_SHOP) and a.status == Status.ACCEPTED
        for a in it.assets
    )
    return 2 * (not shop) + (verdict != "accepted")


class PairEvidenceCache:
    """:class:`cleaning.dedup.PairCache` in the result cache: the evidence of a pair verified on
    pixels, under the first video's SHA-256 as ``pair:<the second's SHA-256>``, stamped with the
    comparison's version and the dedup config (:func:`cleaning.dedup.pair_stamp`: evidence of
    another stamp is verified again), saved now and then as verification goes on."""

    def __init__(self, cache: ResultCache) -> None:
        self.cache = cache

    def get(self, sha_a: str, sha_b: str) -> Any:
        return self.cache.get(sha_a, f"pair:{sha_b}")

    def put(self, sha_a: str, sha_b: str, value: dict[str, Any]) -> None:
        self.cache.put(sha_a, f"pair:{sha_b}", value)
        self.cache.checkpoint()


def _cached_fingerprint(cached: Any) -> VideoFingerprint | None:
    """A cached fingerprint, or None when there is none or it is damaged (not the stored shape)."""
    if not isinstance(cached, dict):
        return None
    try:
        return VideoFingerprint.from_json(cached)
    except (KeyError, TypeError, ValueError):  # binascii.Error is a ValueError
        return None


def _corrupt_probe(message: str) -> dict[str, Any]:
    """The cached probe of a video that does not decode at its fingerprint frames."""
    return {"ok": False, "reason": f"corrupt: {message}", "probe": None}


def _record(path: str, v: VideoState, state: CleaningState, ctx: StepContext) -> VideoRecord:
    """The dedup record of a video, with its file (candidates are verified on pixels)."""
    p = v.probe
    return VideoRecord(
        path,
        v.asset.sha256,
        v.fingerprint,  # type: ignore[arg-type]
        p.frames,
        p.fps,
        p.width,
        p.height,
        state.partition(v.asset),
        ctx.path(path),
        v.stream,
    )
