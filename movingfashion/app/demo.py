"""``mf demo``: every stage on the embedded default (the synthetic world served from loopback).

Each stage contributes one step, ``step(ctx: DemoContext) -> dict``, in its own package; the
demo runs them in pipeline order and prints a report. Steps are imported lazily by name so the
demo never couples stages to each other.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from schemas.cli_support import json_option

#: (step name, "module:function") in pipeline order.
DEMO_STEPS: list[tuple[str, str]] = [
    ("world", "movingfashion.app.steps.world:step"),
    ("collect", "movingfashion.app.steps.collect:step"),
    ("clean", "movingfashion.app.steps.clean:step"),
    ("tracklets", "movingfashion.app.steps.tracklets:step"),
    ("loader", "movingfashion.app.steps.loader:step"),
    ("seam", "movingfashion.app.steps.seam:step"),
]


@dataclass
class DemoContext:
    """State handed from step to step. Steps read what earlier steps set and add their own."""

    work: Path
    products: int = 150
    seed: int = 0
    quick: bool = False
    world: Path | None = None  # synthetic world folder
    base_url: str | None = None  # loopback site serving the world
    server: Any = None  # the running loopback server (stopped at the end)
    catalog: Path | None = None
    collect_root: Path | None = None
    dataset: Path | None = None  # published dataset folder (official format)
    extras: dict[str, Any] = field(default_factory=dict)


def _load(target: str):
    module, attr = target.split(":")
    if importlib.util.find_spec(module) is None:
        return None
    return getattr(importlib.import_module(module), attr)


def run_demo(ctx: DemoContext, *, echo=print) -> dict[str, Any]:
    """Run every available step; returns the report (one section per step)."""
    report: dict[str, Any] = {}
    try:
        for name, target in DEMO_STEPS:
            fn = _load(target)
            if fn is None:
                report[name] = {"status": "not built yet"}
                continue
            echo(f"== {name}")
            t0 = time.perf_counter()
            section = fn(ctx) or {}
            section["seconds"] = round(time.perf_counter() - t0, 1)
            report[name] = section
            echo(json.dumps(section, indent=1, default=str))
    finally:
        if ctx.server is not None:
            ctx.server.stop()
    return report


def format_report(report: dict[str, Any]) -> str:
    lines = ["", "MovingFashion demo report", "=" * 25]
    for name, section in report.items():
        lines.append(f"[{name}]")
        for key, value in section.items():
            lines.append(f"  {key}: {value}")
    return "\n".join(lines)


@click.command()
@click.option(
    "--work",
    type=click.Path(file_okay=False),
    default="demo-out",
    show_default=True,
    help="Working folder (world, collected media, catalog, dataset, runs).",
)
@click.option("--products", type=int, default=150, show_default=True, help="Products in the synthetic world.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--quick", is_flag=True, help="Smaller world and shorter training (for smoke tests).")
@json_option
def demo(work: str, products: int, seed: int, quick: bool, as_json: bool) -> None:
    """Run every stage on the synthetic world served from loopback and print a report.

    \b
    Examples:
      mf demo                      # 150 products, every stage (~3 min on 2 cores)
      mf demo --quick --json       # a small world, machine-readable report
    """
    ctx = DemoContext(work=Path(work), products=products, seed=seed, quick=quick)
    ctx.work.mkdir(parents=True, exist_ok=True)
    report = run_demo(ctx, echo=lambda s: click.echo(s, err=as_json))
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        click.echo(format_report(report))
    sys.stdout.flush()
