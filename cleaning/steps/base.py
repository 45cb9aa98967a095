"""The contract of a cleaning step: ``run(state, ctx) -> StepReport``.

A step reads and updates the :class:`~cleaning.steps.state.CleaningState`; the
:class:`StepContext` gives it the catalog, the collection root, the config, the result cache,
the executor for per-file work and the pair scorer (:meth:`StepContext.pair_scorer`). What it counted goes into its
:class:`StepReport`; the pipeline assembles the run's report from them once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from cleaning.associations import PairScorer
from cleaning.config import CleaningConfig
from cleaning.steps.cache import ResultCache
from cleaning.steps.state import CleaningState
from movingfashion.executors import Executor, Outcome
from schemas.catalog import Catalog
from schemas.paths import resolve_under

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class StepReport:
    """What a step tells the run's report: counts (merged in step order), or why it did nothing."""

    counts: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None


@dataclass
class StepContext:
    """What every step may use besides the state."""

    catalog: Catalog
    root: Path
    cfg: CleaningConfig
    cache: ResultCache
    executor: Executor
    scorer: PairScorer | None = None

    def map(
        self,
        fn: Callable[[T], R],
        tasks: Sequence[T],
        *,
        desc: str,
        unit: str = "video",
        record: Callable[[int, Outcome[R]], None] | None = None,
    ) -> list[Outcome[R]]:
        """``fn`` over ``tasks`` through the executor (one outcome per task, in order).

        ``record(i, outcome)`` stores a result as soon as it arrives (in the result cache); the
        cache is saved now and then meanwhile, so a killed run resumes from what was recorded.
        """

        def on_outcome(i: int, outcome: Outcome[R]) -> None:
            if record is not None:
                record(i, outcome)
            self.cache.checkpoint()

        return self.executor.map(fn, tasks, desc=desc, unit=unit, on_outcome=on_outcome)

    def pair_scorer(self) -> PairScorer | None:
        """The matcher of the association check and the carousel pick: the one given, else the
        embedded Match-RCNN one (its models load on a first score only); None when the config switches the check off."""
        if not self.cfg.association_check:
            return None
        if self.scorer is None:
            from cleaning.associations import LazyMatchRCNNScorer

            self.scorer = LazyMatchRCNNScorer(cache=self.cache)  # loads its models on a first score
        return self.scorer

    def path(self, rel: str) -> Path:
        """``root / rel`` normalised; a path pointing outside the collection root is refused
        (:class:`~schemas.paths.PathEscapeError`)."""
        return resolve_under(self.root, rel, what="asset path", where=rel, root_label="the collection root")


class Step(ABC):
    """One cleaning step. ``name`` is its registry and config name; ``requires`` the steps that
    must run before it (checked when the config is read)."""

    name: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ()

    def check(self, ctx: StepContext) -> None:  # noqa: B027 - optional hook
        """Check the step's own inputs before any step runs, so bad input fails fast."""

    @abstractmethod
    def run(self, state: CleaningState, ctx: StepContext) -> StepReport:
        """Do the step's work on ``state``."""
