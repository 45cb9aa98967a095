"""Step ``associations``: score each recorded (video, shop image) pair with the matcher.

Runs after ``record`` because :func:`cleaning.associations.run_association_check` reads and
updates the catalog: items with a pair below ``match_threshold``, or losing a product shot they
share with another item (``contest_margin``), or whose shop image's colour disagrees with their
own fabric close-up (``fabric_colour_distance``) or rear product shot (``rear_colour_distance``),
become needs_review with the score in the reason. A contest between a collected and a derived
image also weighs how much of the picture's colours each video shows (``contest_coverage_lead``).
The matcher is the one given (``mf clean --matcher``) or the embedded one; ``association_check:
false`` (``mf clean --no-association``) switches the step off. Whether it ran is recorded in
the catalog (meta ``associations``), so ``mf stats --truth`` can say "not run". Items ``record``
left flagged from an earlier run (``state.held``) are checked as accepted items and get this
run's decision only now, by compare-and-set on the row read then (a flag another stage set
meanwhile stays: :func:`cleaning.steps.record.write_decisions`). The contest's thresholds are
the ``contest_*`` config fields.
"""

from __future__ import annotations

from cleaning.associations import META_KEY, REASON, run_association_check
from cleaning.scorers import scorer_tag
from cleaning.steps.base import Step, StepContext, StepReport
from cleaning.steps.record import Decision, write_decisions
from cleaning.steps.state import CleaningState, item_key


class _PairProgress:
    """The check's ``progress(done, total)`` as a progress bar on stderr (a line every 10 s in a
    log): scoring every pair is the longest part of ``mf clean`` on a large catalog, and it
    showed nothing."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx, self.bar = ctx, None

    def __call__(self, done: int, total: int) -> None:
        from schemas.cli_support import move_to, progress_bar

        if self.bar is None:  # made at the first count: no empty bar when there is no pair
            quiet = None if getattr(self.ctx.executor, "show_progress", True) else True
            self.bar = progress_bar(desc="associations", unit="pair", disable=quiet)
        move_to(self.bar, done, total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class AssociationsStep(Step):
    name = "associations"
    requires = ("record",)

    def run(self, state: CleaningState, ctx: StepContext) -> StepReport:
        scorer = ctx.pair_scorer()
        if scorer is None:
            ctx.catalog.set_meta(META_KEY, {"ran": False, "why": "switched off (association_check: false)"})
            return StepReport(skipped="switched off (mf clean --no-association)")
        cfg = ctx.cfg
        shown = _PairProgress(ctx)
        try:
            res = run_association_check(
                ctx.catalog,
                ctx.root,
                scorer,
                cfg.match_threshold,
                margin=cfg.contest_margin,
                max_bits=cfg.contest_object_bits,
                colour_tol=cfg.contest_colour_tolerance,
                copy_tol=cfg.contest_copy_tolerance,
                still_tol=cfg.contest_still_tolerance,
                derived_lead=cfg.contest_derived_lead,
                coverage_lead=cfg.contest_coverage_lead,
                coverage_frames=cfg.shop_pick.sample_frames,
                fabric_distance=cfg.fabric_colour_distance,
                rear_distance=cfg.rear_colour_distance,
                cache=ctx.cache,
                skip=frozenset((f.item.split("/", 1)[0], f.item.split("/", 1)[1]) for f in state.failures()),
                executor=ctx.executor,
                by_class=cfg.match_by_class,
                class_claim=cfg.association_class_claim,
                held=frozenset(tuple(key.split("/", 1)) for key in state.held),
                progress=shown,
            )
        finally:
            shown.close()
        for failure in res.failed:  # a pair whose worker died: its item fails, the others go on
            key = item_key(failure.source, failure.source_id)
            if key in state.items:
                state.fail(key, self.name, failure.error)
        flagged = sorted({(f.source, f.source_id) for f in res.flags})
        for source, source_id in flagged:
            it = state.items.get(item_key(source, source_id))
            row = ctx.catalog.get_item(source, source_id)
            if it is not None and row is not None:
                it.decide(row.status, row.reason)
        flagged_keys = {item_key(source, source_id) for source, source_id in flagged}
        checked = [  # checked again and not flagged: this run's decision, unless another stage's
            Decision(state.items[key], status, reason)  # flag came meanwhile (read now, not before)
            for key, (status, reason) in sorted(state.held.items())
            if state.items[key].failure is None and key not in flagged_keys
        ]
        write_decisions(ctx.catalog, checked, {}, checks_later=False, held={})
        ctx.catalog.set_meta(
            META_KEY,
            {
                "ran": True,
                "scorer": scorer_tag(scorer) or type(scorer).__name__,
                "threshold": cfg.match_threshold,
                "match_by_class": cfg.match_by_class,
                "contest_margin": cfg.contest_margin,
                "contest_still_tolerance": cfg.contest_still_tolerance,
                "contest_copy_tolerance": cfg.contest_copy_tolerance,
                "contest_object_bits": cfg.contest_object_bits,
                "contest_colour_tolerance": cfg.contest_colour_tolerance,
                "contest_derived_lead": cfg.contest_derived_lead,
                "contest_coverage_lead": cfg.contest_coverage_lead,
                "fabric_colour_distance": cfg.fabric_colour_distance,
                "rear_colour_distance": cfg.rear_colour_distance,
                "association_class_claim": cfg.association_class_claim,
                "pairs": res.pairs,
                "flagged": len(flagged),  # by this step (carousel picks flag before it)
            },
        )
        # items the carousel pick already flagged (no candidate matches the video) count too
        n_flagged = sum(1 for it in state.live() if (it.reason or "").startswith(REASON))
        return StepReport(
            {
                "association_pairs": res.pairs,
                "association_cached": res.cached,
                "association_recomputed": res.recomputed,
                "association_flagged": n_flagged,
            }
        )
