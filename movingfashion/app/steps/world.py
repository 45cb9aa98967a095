"""Demo step ``world``: generate (or reuse) the synthetic world and serve it from loopback.

The world is served on a port derived from the seed (:func:`demo_port`): the collectors store
the page URLs they read (``http://127.0.0.1:<port>/...``) and publish copies them into
``entries.jsonl`` (so into ``croissant.json`` and ``manifest.json``), so two demos of one seed
publish byte-identical files. When that port is taken the world is served on a free one, and one
line on stderr says that this run's published files will differ from another run's.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from movingfashion.app.context import DemoContext, Fixtures, Section
from schemas.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

    from movingfashion.world.server import WorldServer

#: the loopback ports the demo serves its world on, one per seed: below Linux's ephemeral range
#: (32768-60999, where outgoing connections take their local ports) and above Ray's worker ports
#: (10002-19999)
DEMO_PORTS = range(20000, 30000)


def demo_port(seed: int) -> int:
    """The loopback port the demo serves the world of ``seed`` on (see the module docstring)."""
    return DEMO_PORTS[seed % len(DEMO_PORTS)]


@dataclass
class WorldSection(Section):
    world: str
    products: int
    videos: int
    frames: int
    by_source: dict[str, int] = field(default_factory=dict)
    non_clothing: int = 0
    duplicates: int = 0
    split_screen: int = 0
    wrong_shop: int = 0
    df2_images: int = 0
    reused: bool = False
    generate_seconds: float = 0.0
    base_url: str = ""

    def summary(self) -> str:
        how = "reused" if self.reused else "generated"
        return f"{how} {self.products} products, {self.videos} videos, {self.frames} frames; serving {self.base_url}"


def expected_seconds(ctx: DemoContext) -> float:
    """Rendering on 2 cores: ~0.3 s per product (150 products: 55-56 s; 24 with --quick: 7 s;
    measured 2026-12-07); ~0 when reused."""
    from movingfashion.world.generate import world_matches

    if world_matches(ctx.work / "world", ctx.products, ctx.seed, ctx.quick):
        return 1.0
    return 3.0 + ctx.products * 0.2 if ctx.quick else 10.0 + ctx.products * 0.3


def _serve(ctx: DemoContext, world: Path) -> WorldServer:
    """Serve ``world`` on :func:`demo_port` of the seed, else (taken) on a free port, saying so
    once on stderr."""
    from movingfashion.world.server import WorldServer

    port = demo_port(ctx.seed)
    try:
        return WorldServer(world, port=port).start()
    except ConfigError as exc:
        server = WorldServer(world).start()
        line = (
            f"warning: port {port} (the demo's port for seed {ctx.seed}) is not free ({exc.message}): "
            f"serving the world on {server.base_url}; the URLs in this run's entries.jsonl, "
            "croissant.json and manifest.json differ from another run of this seed"
        )
        if ctx.progress.stream is not None:
            ctx.progress.write(line)
        else:
            print(line, file=sys.stderr, flush=True)
        return server


def run(ctx: DemoContext) -> WorldSection:
    """Generate ``ctx.work/world`` (ctx.products, ctx.seed, ctx.quick), start the server, write
    the fixtures; sets ``ctx.world``, ``ctx.truth``, ``ctx.server``, ``ctx.base_url``, ``ctx.fixtures``."""
    from movingfashion.world.cli import summarize
    from movingfashion.world.generate import generate_world, world_matches

    out = ctx.work / "world"
    reused = world_matches(out, ctx.products, ctx.seed, ctx.quick)
    if not reused and (out / "world.json").exists() and (out / "world_params.json").exists():
        shutil.rmtree(out)  # a world this step generated earlier with other settings
    ctx.progress.info(
        f"{'reusing' if reused else 'rendering'} {ctx.products} products (seed {ctx.seed}"
        f"{', quick' if ctx.quick else ''}) in {out}"
    )
    t0 = time.perf_counter()
    with ctx.progress.counter("rendering", unit="products") as bar:
        truth = generate_world(out, ctx.products, ctx.seed, quick=ctx.quick, progress=bar.set)
    seconds = time.perf_counter() - t0
    server = _serve(ctx, out)
    ctx.world, ctx.truth, ctx.server, ctx.base_url = out, truth, server, server.base_url
    ctx.fixtures = Fixtures.from_dict(server.write_fixtures(ctx.work / "fixtures"))
    s = summarize(truth, out, seconds)
    return WorldSection(
        world=str(out),
        products=s["products"],
        videos=s["videos"],
        frames=s["frames"],
        by_source=s["by_source"],
        non_clothing=s["non_clothing"],
        duplicates=s["duplicates"],
        split_screen=s["split_screen"],
        wrong_shop=s["wrong_shop"],
        df2_images=s.get("df2_images", 0),
        reused=reused,
        generate_seconds=round(seconds, 1),
        base_url=server.base_url,
    )
