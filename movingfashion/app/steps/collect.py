"""Demo step ``collect``: collect the demo world from its three loopback sources into the catalog."""

from __future__ import annotations

from dataclasses import dataclass, field

from movingfashion.app.context import DemoContext, Section, StepSkipped

#: The demo talks to our own loopback site: no need to pace it like a real shop.
DEMO_HTTP = {
    "rate_per_host": 500.0,
    "burst_per_host": 50,
    "max_concurrency_per_host": 8,
    "backoff_base_s": 0.05,
    "retry_after_max_s": 2.0,
}
WORKERS = 4


@dataclass
class SourceCounts:
    ok: int
    failed: int
    rejected: int
    skipped: int
    files: int
    MB: float


@dataclass
class CollectSection(Section):
    sources: dict[str, SourceCounts] = field(default_factory=dict)
    failed: int = 0
    catalog: str = ""

    def summary(self) -> str:
        ok = sum(s.ok for s in self.sources.values())
        return f"{ok} items collected from {len(self.sources)} sources, {self.failed} failed"

    def incomplete(self) -> str | None:
        return f"{self.failed} items failed (rerun `mf demo` to resume)" if self.failed else None


def expected_seconds(ctx: DemoContext) -> float:
    """Loopback downloads: 150 products in 7 s on 2 cores (measured 2026-12-07)."""
    return 3.0 + 0.03 * ctx.products


def run(ctx: DemoContext) -> CollectSection:
    """Collect Net-A-Porter (sitemap), TikTok (info JSON + shop map) and Instagram (structures)
    into ``ctx.work/collected`` and ``ctx.work/catalog.sqlite``; sets ``ctx.catalog``, ``ctx.collect_root``."""
    from collectors.api import collect
    from collectors.config import HttpConfig, load_collect_config

    if not ctx.base_url or ctx.fixtures is None:
        raise StepSkipped("no loopback site (the world step did not run)")
    fx = ctx.fixtures
    root, catalog = ctx.work / "collected", ctx.work / "catalog.sqlite"
    cfg = load_collect_config(base_url=ctx.base_url)
    cfg = cfg.model_copy(update={"http": HttpConfig(**{**cfg.http.model_dump(), **DEMO_HTTP})})
    runs: dict[str, tuple[list[str], dict[str, str | None]]] = {
        "netaporter": ([fx.sitemap], {}),
        "tiktok": (fx.tiktok_info, {"shop_map": fx.tiktok_shops}),
        "instagram": (fx.instagram, {}),
    }
    section = CollectSection(catalog=str(catalog))
    for source, (targets, extra) in runs.items():
        if not targets:
            continue
        s = collect(
            source,
            targets,
            root=root,
            catalog=catalog,
            cfg=cfg,
            workers=WORKERS,
            show_progress=False,
            **extra,
        )
        section.sources[source] = SourceCounts(
            ok=s.ok,
            failed=s.failed,
            rejected=s.rejected,
            skipped=s.skipped,
            files=s.files,
            MB=round(s.bytes / 1e6, 1),
        )
        ctx.progress.info(f"{source}: {s.ok} ok, {s.failed} failed, {s.rejected} rejected, {s.files} files")
        section.failed += s.failed
        if s.stopped:  # a local fault (disk full, ...) would fail every later step alike
            from schemas.errors import LocalFault

            raise LocalFault(s.stopped["reason"], s.stopped["path"], s.stopped["message"])
    ctx.catalog, ctx.collect_root = catalog, root
    return section
