"""``mf demo``: every stage on the embedded default (the synthetic world served from loopback).

The steps (``movingfashion/app/steps/``) run in pipeline order on one typed
:class:`~movingfashion.app.context.DemoContext`; each returns a typed
:class:`~movingfashion.app.context.Section`. Progress (stage headers, counters, ETA) goes to
stderr while it runs; the report is printed once at the end, on stdout: as text, or as one JSON
document with ``--json``. A step that fails with a toolkit error is reported, the steps after it
that need its output are skipped, and the command exits 1. A local fault (disk full, no
permission, ...) stops the demo there (the later steps are skipped, exit 1; a rerun resumes); a
damaged catalog in the working folder is named in one line with the way to recover it (exit 2).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from movingfashion.app.context import FULL_PRODUCTS, QUICK_PRODUCTS, DemoContext, Section, StepSkipped
from movingfashion.app.progress import StageProgress, human_seconds
from movingfashion.app.steps import clean, collect, loader, publish, seam, tracklets, world
from schemas.cli_support import EXIT_STATUS, HELP, emit, exit_if_failed, json_option, merge_legacy, out_option
from schemas.errors import CatalogCorrupt, ConfigError, LocalFault, MFError


@dataclass(frozen=True)
class Step:
    """One stage of the demo: what it runs and how long it is expected to take."""

    name: str
    run: Callable[[DemoContext], Section]
    expected_seconds: Callable[[DemoContext], float]


#: The demo's stages in pipeline order.
STEPS: tuple[Step, ...] = (
    Step("world", world.run, world.expected_seconds),
    Step("collect", collect.run, collect.expected_seconds),
    Step("clean", clean.run, clean.expected_seconds),
    Step("tracklets", tracklets.run, tracklets.expected_seconds),
    Step("publish", publish.run, publish.expected_seconds),
    Step("loader", loader.run, loader.expected_seconds),
    Step("seam", seam.run, seam.expected_seconds),
)


@dataclass
class StageResult:
    """How one stage ended: ``ok`` or ``partial`` (some items failed) with its section, or
    ``skipped`` / ``failed`` with why."""

    name: str
    status: str
    seconds: float
    section: Section | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = self.section.as_dict() if self.section is not None else {}
        d.update(status=self.status, seconds=self.seconds)
        if self.reason:
            d["reason"] = self.reason
        return d


@dataclass
class DemoReport:
    products: int
    seed: int
    quick: bool
    work: str
    stages: list[StageResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(s.status == "ok" for s in self.stages)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "products": self.products,
            "seed": self.seed,
            "quick": self.quick,
            "work": self.work,
            "seconds": self.seconds,
            "stages": {s.name: s.as_dict() for s in self.stages},
        }


def run_demo(ctx: DemoContext, steps: tuple[Step, ...] = STEPS) -> DemoReport:
    """Run ``steps`` in order on ``ctx``; stops the loopback server at the end."""
    progress = ctx.progress
    report = DemoReport(ctx.products, ctx.seed, ctx.quick, str(ctx.work))
    t_all = time.perf_counter()
    progress.begin([(s.name, s.expected_seconds(ctx)) for s in steps])
    stopped: LocalFault | None = None
    try:
        for step in steps:
            progress.start(step.name)
            t0 = time.perf_counter()
            try:
                if stopped is not None:
                    raise StepSkipped(f"stopped by {stopped.reason} at {stopped.path}")
                section = step.run(ctx)
            except StepSkipped as exc:
                result = StageResult(step.name, "skipped", 0.0, reason=str(exc))
            except CatalogCorrupt:
                raise  # input error: one line naming the file and the way back, exit 2
            except LocalFault as exc:  # every later step would fail alike: stop here
                stopped = exc
                result = StageResult(step.name, "failed", 0.0, reason=str(exc))
            except MFError as exc:
                result = StageResult(step.name, "failed", 0.0, reason=str(exc))
            else:
                why = section.incomplete()
                result = StageResult(step.name, "partial" if why else "ok", 0.0, section=section, reason=why)
            result.seconds = round(time.perf_counter() - t0, 1)
            report.stages.append(result)
            note = result.section.summary() if result.section else f"{result.status}: {result.reason}"
            progress.finish(step.name, result.seconds, note)
    finally:
        progress.end()
        if ctx.server is not None:
            ctx.server.stop()
            ctx.server = None
    report.seconds = round(time.perf_counter() - t_all, 1)
    return report


def format_report(report: DemoReport) -> str:
    """The text report: one block per stage, then the multi-line blocks (the SEAM table) once."""
    mode = ", quick" if report.quick else ""
    title = (
        f"MovingFashion demo report ({report.products} products, seed {report.seed}{mode}; "
        f"{human_seconds(report.seconds)})"
    )
    lines = ["", title, "=" * len(title)]
    blocks: list[tuple[str, str]] = []
    for st in report.stages:
        lines.append(f"[{st.name}] {st.status}, {human_seconds(st.seconds)}")
        if st.reason:
            lines.append(f"  reason: {st.reason}")
        if st.section is not None:
            lines += [f"  {k}: {v}" for k, v in st.section.rows()]
            blocks += [(f"{st.name} {name}", text) for name, text in st.section.blocks()]
    for title, text in blocks:
        lines += ["", f"[{title}]", text.rstrip()]
    if not report.ok:
        lines += ["", "some stages did not finish: see the reasons above; rerun `mf demo` to resume"]
    return "\n".join(lines)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to stdout (Python and subprocesses) to stderr meanwhile, so stdout
    holds the report alone."""
    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
        saved = os.dup(fd)
        os.dup2(sys.stderr.fileno(), fd)
    except (AttributeError, OSError, ValueError):  # no real file behind stdout (e.g. captured)
        fd = saved = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        if saved is not None and fd is not None:
            os.dup2(saved, fd)
            os.close(saved)


@click.command(context_settings=HELP, epilog=EXIT_STATUS)
@out_option(
    required=False,
    help="Working folder (world, collected media, catalog, dataset, seam runs and report); a rerun resumes in it "
    "[default: demo-out].",
)
@click.option("--work", type=click.Path(file_okay=False), hidden=True, deprecated="use --out instead")
@click.option(
    "--products",
    type=click.IntRange(min=20),
    default=None,
    help=f"Products in the synthetic world [default: {FULL_PRODUCTS}, {QUICK_PRODUCTS} with --quick].",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--quick",
    is_flag=True,
    help=f"A {QUICK_PRODUCTS}-product world with short clips and a shorter training (smoke test).",
)
@click.option(
    "--threads",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help="torch CPU threads for the whole demo (0: torch's default).",
)
@json_option
def demo(
    out: str | None,
    work: str | None,
    products: int | None,
    seed: int,
    quick: bool,
    threads: int,
    as_json: bool,
) -> None:
    """Run every stage on the synthetic world served from loopback and print a report.

    Stages: world -> collect -> clean -> tracklets -> publish -> loader -> seam (publish runs
    again after the tracklets and holds back what needs review, listed in the report). Progress and an ETA go to
    stderr; the report (the SEAM table once, at the end) to stdout.

    \b
    Examples:
      mf demo                      # 150 products, every stage (~6-22 min on 2 cores, by load)
      mf demo --quick              # 24 products, short training (~1-3 min on 2 cores)
      mf demo --quick --json       # the report as one JSON document on stdout
      mf demo --out /tmp/demo      # another working folder (--work before, still accepted)
    """
    folder = merge_legacy(out, work, "--out", required=False) or "demo-out"
    n = products if products is not None else (QUICK_PRODUCTS if quick else FULL_PRODUCTS)
    ctx = DemoContext(
        work=Path(folder), products=n, seed=seed, quick=quick, progress=StageProgress.to_stderr()
    )
    try:
        ctx.work.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the working folder: {exc.strerror or exc}",
            where=str(ctx.work),
            hint="pass another --out",
        ) from None
    if threads:  # after the folder check, which answers at once: torch takes seconds to load
        import torch

        torch.set_num_threads(threads)
    with stdout_to_stderr():
        report = run_demo(ctx)
    emit(report.as_dict(), as_json, lambda _: format_report(report), sort_keys=False)  # stages in order
    sys.stdout.flush()
    exit_if_failed([s.name for s in report.stages if s.status != "ok"])
