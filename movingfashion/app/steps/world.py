"""Demo step ``world``: generate (or reuse) the synthetic world and serve it from loopback."""

from __future__ import annotations

import time
from typing import Any


def step(ctx: Any) -> dict[str, Any]:
    """Generate ``ctx.work/world`` (ctx.products, ctx.seed, ctx.quick), start the server, write fixtures."""
    from movingfashion.world.cli import summarize
    from movingfashion.world.generate import generate_world, world_matches
    from movingfashion.world.server import WorldServer

    out = ctx.work / "world"
    reused = world_matches(out, ctx.products, ctx.seed, ctx.quick)
    if not reused and (out / "world.json").exists() and (out / "world_params.json").exists():
        import shutil

        shutil.rmtree(out)  # a world this step generated earlier with other settings
    t0 = time.perf_counter()
    truth = generate_world(out, ctx.products, ctx.seed, quick=ctx.quick)
    seconds = time.perf_counter() - t0
    server = WorldServer(out).start()
    ctx.world = out
    ctx.server = server
    ctx.base_url = server.base_url
    ctx.extras["fixtures"] = server.write_fixtures(ctx.work / "fixtures")
    ctx.extras["world_truth"] = truth
    report = summarize(truth, out, seconds)
    report.update(reused=reused, base_url=server.base_url)
    report.pop("classes", None)
    return report
