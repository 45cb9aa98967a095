"""Demo step of the cleaning stage: clean, split and publish what the collectors gathered."""

from __future__ import annotations

from typing import Any


def step(ctx) -> dict[str, Any]:
    """Run ``mf clean`` -> ``mf splits rebuild`` -> ``mf publish`` on ``ctx.catalog`` / ``ctx.collect_root``.

    Publishes into ``ctx.work / "dataset"`` and sets ``ctx.dataset``. When no collector ran but a
    world exists, the catalog is seeded straight from the world (:mod:`movingfashion.world.seed`).
    With ``ctx.world`` set, the report adds duplicate precision/recall and split-screen F1.
    """

    from cleaning.config import CleaningConfig
    from cleaning.pipeline import clean
    from cleaning.publish import publish
    from cleaning.splits import check_leakage, rebuild_splits
    from cleaning.stats import truth_stats
    from schemas.catalog import Catalog

    if ctx.catalog is None or ctx.collect_root is None:
        if ctx.world is None:
            return {"status": "skipped: no catalog and no world"}
        from movingfashion.world.seed import seed_catalog_from_world

        ctx.catalog, ctx.collect_root = ctx.work / "catalog.sqlite", ctx.work / "collected"
        with Catalog(ctx.catalog) as cat:
            seed_catalog_from_world(ctx.world, cat, ctx.collect_root)
    cfg = CleaningConfig(split_seed=ctx.seed)
    with Catalog(ctx.catalog) as cat:
        report = clean(cat, ctx.collect_root, cfg)
        sp = rebuild_splits(cat, seed=cfg.split_seed, test_fraction=cfg.test_fraction)
        out = ctx.work / "dataset"
        pub = publish(cat, ctx.collect_root, out, seed=cfg.split_seed, test_fraction=cfg.test_fraction)
        ctx.dataset = out
        result: dict[str, Any] = {
            "items": report["items"],
            "status": report["status"],
            "duplicate_videos": report["duplicate_videos"],
            "split_screen_videos": report["split_screen_videos"],
            "taxonomy_mapped": report["taxonomy"]["mapped_fraction"],
            "train": sp["train"],
            "test": sp["test"],
            "leakage": len(check_leakage(cat)),
            "published_products": pub["products"],
            "published_files": pub["files"],
            "dataset": str(out),
        }
        if ctx.world is not None:
            from movingfashion.world.truth import load_world

            t = truth_stats(cat, ctx.collect_root, load_world(ctx.world), ctx.world)
            result.update(
                duplicate_precision=t["duplicates"]["precision"],
                duplicate_recall=t["duplicates"]["recall"],
                split_screen_f1=t["split_screen"]["f1"],
                taxonomy_accuracy=t["taxonomy_accuracy"],
            )
    return result
