"""Demo step ``clean``: clean, split and publish what the collectors gathered, scored against the
world's truth."""

from __future__ import annotations

from dataclasses import dataclass, field

from movingfashion.app.context import DemoContext, Section, StepSkipped


def ratio_text(value: float | None) -> str:
    """A precision, recall or F1 for the report line: "n/a" when there was nothing to measure it
    on (None: no prediction, or no true case)."""
    return "n/a" if value is None else f"{value:.2f}"


@dataclass
class CleanSection(Section):
    items: int
    items_by_status: dict[str, int]
    duplicate_videos: dict[str, int]
    split_screen_videos: int
    taxonomy_mapped: float
    train: int
    test: int
    leakage: int
    published_products: int
    published_files: int
    dataset: str
    failed: int = 0  # items cleaning could not process + products publish left out
    verify_breaks: int = 0  # archive invariants the published folder breaks (mf verify)
    multi_video_products: int = 0
    # against the world's truth (None without a world, or with nothing to measure: truth says which)
    duplicate_precision: float | None = None
    duplicate_recall: float | None = None
    split_screen_f1: float | None = None
    taxonomy_accuracy: float | None = None
    #: products whose items show other garments (wrong video/shop pairs if published)
    mixed_products: int | None = None
    truth: dict[str, object] = field(default_factory=dict, repr=False)

    def rows(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in super().rows() if k != "truth"]

    def summary(self) -> str:
        figures = ""
        if self.truth:
            figures = (
                f"; duplicates P/R {ratio_text(self.duplicate_precision)}/{ratio_text(self.duplicate_recall)}, "
                f"split-screen F1 {ratio_text(self.split_screen_f1)}"
            )
        return f"{self.published_products} products published ({self.train} train, {self.test} test){figures}"

    def incomplete(self) -> str | None:
        problems = []
        if self.failed:
            problems.append(f"{self.failed} items failed (see mf clean / mf publish)")
        if self.verify_breaks:
            problems.append(f"the dataset breaks {self.verify_breaks} archive invariants (see mf verify)")
        return "; ".join(problems) or None


def expected_seconds(ctx: DemoContext) -> float:
    """Probe, fingerprints, the association check's matcher, publish and verify: 150 products in
    2 min 10 s on 2 cores, 24 with --quick in 12 s (measured 2026-12-07)."""
    return 5.0 + ctx.products * (0.3 if ctx.quick else 0.8)


def run(ctx: DemoContext) -> CleanSection:
    """``mf clean`` -> ``mf splits rebuild`` -> ``mf publish`` (which ends with ``mf verify``) on
    ``ctx.catalog`` / ``ctx.collect_root``.

    Publishes into ``ctx.work / "dataset"`` and sets ``ctx.dataset``. When no collector ran but a
    world exists, the catalog is seeded straight from the world (:mod:`movingfashion.world.seed`).
    With ``ctx.world`` set, the section adds the world's scores (duplicate precision/recall,
    split-screen F1, taxonomy accuracy; all of them under ``truth`` in the JSON report).
    """
    from cleaning.config import CleaningConfig
    from cleaning.pipeline import clean
    from cleaning.publish import publish
    from cleaning.splits import check_leakage, rebuild_splits
    from schemas.catalog import Catalog

    if ctx.catalog is None or ctx.collect_root is None:
        if ctx.world is None:
            raise StepSkipped("no catalog and no world")
        from movingfashion.world.seed import seed_catalog_from_world

        ctx.catalog, ctx.collect_root = ctx.work / "catalog.sqlite", ctx.work / "collected"
        with Catalog(ctx.catalog) as cat:
            seed_catalog_from_world(ctx.world, cat, ctx.collect_root)
    cfg = CleaningConfig(split_seed=ctx.seed)
    out = ctx.work / "dataset"
    with Catalog(ctx.catalog, must_exist=True) as cat:
        ctx.progress.info(f"{len(cat.items())} catalog items: probe, duplicates, split screens, taxonomy")
        report = clean(cat, ctx.collect_root, cfg, show_progress=ctx.progress.bars)
        sp = rebuild_splits(cat, seed=cfg.split_seed, test_fraction=cfg.test_fraction)
        ctx.progress.info(f"publishing {sp['train'] + sp['test']} products to {out}")
        pub = publish(
            cat, ctx.collect_root, out, seed=cfg.split_seed, test_fraction=cfg.test_fraction, keep_going=True
        )
        ctx.dataset = out
        section = CleanSection(
            items=report["items"],
            items_by_status=report["status"],
            duplicate_videos=report["duplicate_videos"],
            split_screen_videos=report["split_screen_videos"],
            taxonomy_mapped=report["taxonomy"]["mapped_fraction"],
            train=sp["train"],
            test=sp["test"],
            leakage=len(check_leakage(cat)),
            published_products=pub["products"],
            published_files=pub["files"],
            dataset=str(out),
            failed=len(report.get("failed", [])) + len(pub.get("failed", [])),
            verify_breaks=len(pub["verify"]["breaks"]),
            multi_video_products=pub["multi_video_products"],
        )
        if ctx.world is not None:
            from movingfashion.world.scoring.cleaning import score_cleaning
            from movingfashion.world.truth import load_world

            truth = ctx.truth or load_world(ctx.world)
            t = score_cleaning(cat, ctx.collect_root, truth, ctx.world)
            section.truth = t
            section.duplicate_precision = t["duplicates"]["precision"]
            section.duplicate_recall = t["duplicates"]["recall"]
            section.split_screen_f1 = t["split_screen"]["f1"]
            section.taxonomy_accuracy = t["taxonomy_accuracy"]
            section.mixed_products = t["product_groups"]["mixed"]
    return section
