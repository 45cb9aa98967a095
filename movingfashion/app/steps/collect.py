"""``mf demo`` step: collect the demo world from its three loopback sources into the catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from collectors.config import HttpConfig, load_collect_config

#: The demo talks to our own loopback site: no need to pace it like a real shop.
DEMO_HTTP = {
    "rate_per_host": 500.0,
    "burst_per_host": 50,
    "max_concurrency_per_host": 8,
    "backoff_base_s": 0.05,
    "retry_after_max_s": 2.0,
}


def step(ctx: Any) -> dict[str, Any]:
    """Collect Net-A-Porter (sitemap), TikTok (info JSON + shop map) and Instagram (structures)."""
    from collectors.api import collect

    if not ctx.base_url:
        return {"status": "skipped: no loopback site (the world step did not run)"}
    fixtures = ctx.extras.get("fixtures")
    if not fixtures and ctx.server is not None:
        fixtures = ctx.server.write_fixtures(Path(ctx.work) / "fixtures")
        ctx.extras["fixtures"] = fixtures
    if not fixtures:
        return {"status": "skipped: no fixtures from the world step"}
    root, catalog = Path(ctx.work) / "collected", Path(ctx.work) / "catalog.sqlite"
    cfg = load_collect_config(base_url=ctx.base_url)
    cfg = cfg.model_copy(update={"http": HttpConfig(**{**cfg.http.model_dump(), **DEMO_HTTP})})
    workers = 4
    runs = {
        "netaporter": dict(targets=[fixtures.get("sitemap") or f"{ctx.base_url}/sitemap.xml"]),
        "tiktok": dict(
            targets=list(fixtures.get("tiktok_info") or []), shop_map=fixtures.get("tiktok_shops")
        ),
        "instagram": dict(targets=list(fixtures.get("instagram") or [])),
    }
    report: dict[str, Any] = {}
    bad = 0
    for source, args in runs.items():
        targets = args.pop("targets")
        if not targets:
            report[source] = "no targets"
            continue
        s = collect(
            source, targets, out=root, catalog=catalog, cfg=cfg, workers=workers, show_progress=False, **args
        )
        report[source] = {
            "ok": s.ok,
            "failed": s.failed,
            "rejected": s.rejected,
            "skipped": s.skipped,
            "files": s.files,
            "MB": round(s.bytes / 1e6, 1),
        }
        bad += s.failed
    ctx.catalog, ctx.collect_root = catalog, root
    report["status"] = "ok" if bad == 0 else f"{bad} items failed (rerun `mf demo` to resume)"
    return report
