"""Demo step ``publish``: publish again after the tracklets, so what the tracklet builder flagged
(and what cleaning flagged) is held back from train.json/test.json until a reviewer accepts it.

The order of a trustworthy dataset is collect -> clean -> tracklets -> review -> publish: the
``clean`` step's first publish is the draft the tracklet builder and the review page work on;
this step refreshes it from the catalog (where ``mf-tracklets build --catalog`` marked videos
needs_review) and prints what it held back and why, the ``mf review`` command whose page queues
those items (with the collection folder, where their media are), with the association check's
precision and recall against the world, the wrong video-shop pairs it would publish whatever
made them (planted or a wrong carousel pick) and the tracklet flags' recall from the
``tracklets`` step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from movingfashion.app.context import DemoContext, Section, StepSkipped
from movingfashion.app.steps.clean import ratio_text


@dataclass
class PublishSection(Section):
    published_products: int
    train: int
    test: int
    held_back: int
    held_back_by_reason: dict[str, int]
    dataset: str
    failed: int = 0
    verify_breaks: int = 0
    # against the world's truth (None without a world, or when the check was switched off;
    # precision / recall also with nothing to measure them on: no flag, or no planted wrong pair)
    association_status: str | None = None
    association_precision: float | None = None
    association_recall: float | None = None
    association_recall_by_kind: dict[str, float] | None = None
    # the association check's own flags alone (the figures above also count the items the
    # carousel picker held for their pick, caught or not)
    association_check_precision: float | None = None
    association_check_recall: float | None = None
    # every wrong video-shop pair left to publish, planted or a wrong carousel pick (the
    # association figures count the planted ones only), and the share of published pairs that
    # are right (None without a world)
    published_wrong_pairs: int | None = None
    pair_precision: float | None = None
    # the tracklet flags (from the tracklets step): share of the videos failing the >=50% check
    # that were flagged needs_review, and share of all videos flagged
    flag_recall: float | None = None
    flag_rate: float | None = None
    #: the command whose page queues the held-back items (None: nothing waits for review)
    review_command: str | None = None
    held_back_items: list[dict[str, str]] = field(default_factory=list, repr=False)

    def rows(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in super().rows() if k != "held_back_items"]

    def blocks(self) -> list[tuple[str, str]]:
        if not self.held_back_items:
            return []
        lines = [f"{h['item']} [{h['status']}]: {h['reason']}" for h in self.held_back_items]
        return [("held back (until accepted in mf review)", "\n".join(lines))]

    def summary(self) -> str:
        figures = ""
        if self.association_status == "run":
            p, r = ratio_text(self.association_precision), ratio_text(self.association_recall)
            figures = f"; association P/R {p}/{r}"
            if self.association_check_precision is not None or self.association_check_recall is not None:
                cp = ratio_text(self.association_check_precision)
                cr = ratio_text(self.association_check_recall)
                figures += f" (the check alone {cp}/{cr})"
        elif self.association_status:
            figures = f"; association check {self.association_status}"
        if self.published_wrong_pairs is not None:
            figures += (
                f", {self.published_wrong_pairs} wrong pairs published"
                f" (pair precision {ratio_text(self.pair_precision)})"
            )
        if self.flag_recall is not None:
            figures += f", tracklet flag recall {self.flag_recall:.2f}"
        return (
            f"{self.published_products} products published ({self.train} train, {self.test} test), "
            f"{self.held_back} held back{figures}"
        )

    def incomplete(self) -> str | None:
        problems = []
        if self.failed:
            problems.append(f"{self.failed} products could not be published (see mf publish)")
        if self.verify_breaks:
            problems.append(f"the dataset breaks {self.verify_breaks} archive invariants (see mf verify)")
        return "; ".join(problems) or None


def expected_seconds(ctx: DemoContext) -> float:
    """Copying what review let through and verifying it: 1 s for 150 products (2026-12-07)."""
    return 1.0 + ctx.products * 0.01


def run(ctx: DemoContext) -> PublishSection:
    """``mf publish`` on ``ctx.catalog`` into ``ctx.dataset`` once more (nothing unchanged is
    copied again), then the held-back items, the ``mf review`` command that queues them, and the
    association figures."""
    import shlex

    from cleaning.config import CleaningConfig
    from cleaning.publish import publish
    from schemas.catalog import Catalog

    if ctx.catalog is None or ctx.collect_root is None or ctx.dataset is None:
        raise StepSkipped("no catalog or dataset (the clean step did not run)")
    cfg = CleaningConfig(split_seed=ctx.seed)
    with Catalog(ctx.catalog, must_exist=True) as cat:
        pub = publish(
            cat,
            ctx.collect_root,
            ctx.dataset,
            seed=cfg.split_seed,
            test_fraction=cfg.test_fraction,
            keep_going=True,
        )
        held = [h for h in pub["held_back"] if h["status"] == "needs_review" or "review:" in h["reason"]]
        section = PublishSection(
            published_products=pub["products"],
            train=pub["train"],
            test=pub["test"],
            held_back=len(pub["held_back"]),
            held_back_by_reason=pub["held_back_by_reason"],
            dataset=str(ctx.dataset),
            failed=len(pub["failed"]),
            verify_breaks=len(pub["verify"]["breaks"]),
            held_back_items=held,
            review_command=(
                "mf review "
                + " ".join(
                    f"--{k} {shlex.quote(str(v))}"
                    for k, v in (
                        ("dataset", ctx.dataset),
                        ("catalog", ctx.catalog),
                        ("root", ctx.collect_root),
                    )
                )
                if held
                else None
            ),
        )
        if ctx.world is not None:
            from movingfashion.world.scoring.cleaning import score_cleaning
            from movingfashion.world.truth import load_world

            truth = ctx.truth or load_world(ctx.world)
            scores = score_cleaning(cat, ctx.collect_root, truth, ctx.world)
            assoc, pairs = scores["wrong_association"], scores["published_pairs"]
            section.published_wrong_pairs = pairs["published_wrong"]
            section.pair_precision = pairs["precision"]
            section.association_status = assoc["status"]
            if assoc["status"] == "run":
                section.association_precision = assoc["precision"]
                section.association_recall = assoc["recall"]
                section.association_recall_by_kind = assoc["recall_by_kind"]
                section.association_check_precision = assoc["association_check"]["precision"]
                section.association_check_recall = assoc["association_check"]["recall"]
    section.flag_recall, section.flag_rate = ctx.tracklet_flags or (None, None)
    return section
