"""Concurrent vs sequential collection of the same Net-A-Porter items, 100 ms latency per response.

Serves a synthetic world from loopback with ``Faults(latency_s=...)``, then collects the same
product pages (page, video HEAD + GET, four image views each) once with 1 worker (the
baseline) and once with N workers, each into a fresh folder and catalog, and prints the
ratio of wall times. Expectation: ratio >= 0.7 x workers (network-bound work overlaps).

    python benchmarks/bench_collect.py [--workers 8] [--latency 0.1] [--products 40] [--world DIR]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--latency", type=float, default=0.1, help="seconds added to every response")
    ap.add_argument("--products", type=int, default=40, help="world size when one is generated")
    ap.add_argument("--world", help="an existing world folder (else one is generated in a temp folder)")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from collectors.api import collect
    from collectors.config import HttpConfig, load_collect_config
    from movingfashion.world.faults import Faults
    from movingfashion.world.generate import generate_world
    from movingfashion.world.server import WorldServer

    tmp = Path(tempfile.mkdtemp(prefix="bench-collect-"))
    world = Path(args.world) if args.world else tmp / "world"
    if not (world / "world.json").exists():
        t0 = time.perf_counter()
        generate_world(world, args.products, 0, quick=True, workers=1)
        print(f"generated a {args.products}-product world in {time.perf_counter() - t0:.1f}s")
    http = HttpConfig(
        rate_per_host=1000,
        burst_per_host=100,
        max_concurrency_per_host=max(8, args.workers),
        backoff_base_s=0.01,
    )
    with WorldServer(world, faults=Faults(latency_s=args.latency)) as srv:
        fx = srv.write_fixtures(tmp / "fixtures")
        cfg = load_collect_config(base_url=srv.base_url).model_copy(update={"http": http})
        targets = [f"@{fx['netaporter_urls']}"]  # the same items, no discovery requests

        def timed(workers: int) -> tuple[float, int, int]:
            out = tmp / f"out-{workers}"
            before = len(srv.log)
            t0 = time.perf_counter()
            s = collect(
                "netaporter",
                targets,
                root=out,
                catalog=out / "catalog.sqlite",
                cfg=cfg,
                workers=workers,
                show_progress=False,
            )
            dt = time.perf_counter() - t0
            if s.failed or s.rejected:
                raise SystemExit(f"collection had failures: {s.human()}")
            return dt, s.ok, len(srv.log) - before

        seq, n_items, n_req = timed(1)
        conc, n2, n_req2 = timed(args.workers)
    assert n_items == n2 and n_req == n_req2, "both runs must do the same work"
    ratio = seq / conc
    waves = math.ceil(n_items / args.workers)
    print(
        f"items: {n_items} Net-A-Porter products, {n_req} requests per run, latency {args.latency * 1000:.0f} ms"
    )
    print(f"sequential (1 worker):      {seq:6.2f} s")
    print(f"concurrent ({args.workers} workers):    {conc:6.2f} s")
    print(
        f"ratio: {ratio:.2f}x  (expect >= {0.7 * args.workers:.1f}x = 0.7 x workers; "
        f"ideal with {waves} waves of items: {n_items / waves:.1f}x)"
    )
    print("verdict:", "OK" if ratio >= 0.7 * args.workers else "BELOW EXPECTATION")
    if os.environ.get("MF_BENCH_KEEP") is None:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
