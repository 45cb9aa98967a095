"""`mf clean`: run the configured cleaning steps over the catalog and report once.

Default order (``steps`` in :class:`cleaning.config.CleaningConfig`): probe -> video_duplicates
-> split_screen -> taxonomy -> shop_images -> record -> associations (taxonomy before the carousel
pick, which ranks candidates on the item's class). A step left out is skipped, but ``record``
needs ``probe`` and ``taxonomy`` earlier (it writes every item's class; checked when the config is
read). Each step is one class of :mod:`cleaning.steps` working on one typed
:class:`~cleaning.steps.state.CleaningState`; the per-file work goes through one executor;
``record`` writes the decisions into the catalog.

Shop images: a collected ``shop`` asset is used as is; else the still half of a split-screen
video is saved as one; else one of the carousel ``candidate-shop`` images is picked
(:mod:`cleaning.shop_pick`; too-close scores -> needs_review); else needs_review. Duplicate shop
images only get ``duplicate_of`` (the items keep their videos) and group items for the splits.

Every eligible item ends ``accepted``, ``rejected`` (reason), ``duplicate`` (``duplicate_of``)
or ``needs_review`` (reason). Precedence when several apply: bad media > non-clothing >
duplicate > needs_review > accepted (a non-clothing duplicate is rejected and still records
``duplicate_of``). Reasons start with the step that set them (``probe:``, ``dedup:``,
``splitscreen:``, ``taxonomy:``, ``association:``, ``shop:``) so reruns recognise their own
decisions; items rejected or failed by the collectors are left alone, and a needs_review set by
another stage (``tracklets: ...``) stays unless cleaning now rejects the item or finds it a
duplicate. An association flag stays in the catalog until the ``associations`` step has checked
the item again (an interrupted rerun leaves it flagged; a run without the check keeps it,
``association_kept`` in the report). An item a step cannot
process (an unexpected error on one of its files) is listed in the report's ``failed`` and
keeps its catalog state; a rerun tries it again.

Ids: items are ``<source>/<source_id>``; assets are their path relative to the collection root.
Probes, frame hashes, split-screen results and picks are cached by SHA-256 in
``<catalog stem>.cleaning-cache.json`` beside the catalog, so a rerun decodes nothing new; a
damaged cache is dropped with a warning and rebuilt. A rerun stats every collected file and
hashes again only those whose size or modification time changed, so a deleted or overwritten file
is probed (rejected ``missing`` / ``corrupt``) rather than trusted.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cleaning.associations import PairScorer
from cleaning.clean_lock import cleaning
from cleaning.config import CleaningConfig
from cleaning.steps.base import StepContext, StepReport
from cleaning.steps.cache import ResultCache, cache_path
from cleaning.steps.registry import STEPS, check_steps
from cleaning.steps.state import IMAGE_KINDS, CleaningState
from movingfashion.executors import Executor, make_executor
from schemas.atomic import sweep_partials
from schemas.catalog import Catalog
from schemas.errors import MFError
from schemas.items import AssetKind
from schemas.paths import check_collection_root
from schemas.redact import redacted_logger

log = redacted_logger(__name__)


def clean(
    catalog: Catalog,
    root: str | os.PathLike[str],
    cfg: CleaningConfig | None = None,
    scorer: PairScorer | None = None,
    *,
    show_progress: bool = False,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """Run the configured cleaning steps over the catalog; returns the report.

    ``executor`` spreads the per-file work (default: one made from ``cfg.executor``, closed at
    the end); only this process writes the catalog, the cache and recovered shop images.
    """
    with cleaning(catalog.path):  # publish and splits rebuild never read a catalog half cleaned
        return _clean(catalog, root, cfg, scorer, show_progress=show_progress, executor=executor)


def _clean(
    catalog: Catalog,
    root: str | os.PathLike[str],
    cfg: CleaningConfig | None,
    scorer: PairScorer | None,
    *,
    show_progress: bool,
    executor: Executor | None,
) -> dict[str, Any]:
    cfg = cfg or CleaningConfig()
    steps = [cls() for cls in check_steps(cfg)]
    sweep_partials(cache_path(catalog).parent)  # a result cache a killed run left half-written
    own = executor is None
    ex = executor or make_executor(cfg.executor, show_progress=show_progress)
    try:
        ctx = StepContext(
            catalog,
            Path(root).absolute(),
            cfg,
            ResultCache(cache_path(catalog), cfg, checkpoint_s=cfg.checkpoint_s),
            ex,
            scorer,
        )
        for step in steps:
            step.check(ctx)
        state = CleaningState.from_catalog(catalog)
        check_collection_root(
            ctx.root,
            {
                it.key: [
                    a.path
                    for a in it.collected
                    if a.path and (a.kind == AssetKind.VIDEO or a.kind in IMAGE_KINDS)
                ]
                for it in state.live()
            },
            items="items to clean",
            nothing="no item was changed",
        )
        reports: dict[str, StepReport] = {}
        try:
            for step in steps:
                reports[step.name] = step.run(state, ctx)
        except BaseException:
            # the cache keeps what the steps computed; a save the same fault stops (a full
            # disk) is a warning: the error raised names the file that failed first
            try:
                ctx.cache.save()
            except (MFError, OSError) as exc:
                log.warning("the result cache was not saved: %s", exc)
            raise
        ctx.cache.save()
    finally:
        if own:
            ex.close()
    report = build_report(state, reports)
    catalog.log_event("clean", json.dumps({k: report[k] for k in ("items", "status")}, sort_keys=True))
    return report


def build_report(state: CleaningState, reports: dict[str, StepReport]) -> dict[str, Any]:
    """The run's report: item count (the items cleaning decides), each step's counts (in step
    order), the catalog's other items by why they are left as they are, final statuses, what
    each registered step did, and the items that failed."""
    report: dict[str, Any] = {"items": len(state.items)}
    for r in reports.values():
        report.update(r.counts)
    report["left_as_is"] = dict(sorted(state.left_as_is.items()))
    report["status"] = dict(sorted(Counter(str(it.status) for it in state.live()).items()))
    done = {name: f"skipped: {r.skipped}" if r.skipped else "done" for name, r in reports.items()}
    report["steps"] = done | {name: "skipped: not in config" for name in STEPS if name not in reports}
    report["failed"] = [asdict(f) for f in state.failures()]
    return report
