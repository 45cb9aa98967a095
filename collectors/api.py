"""One importable entry point per run: build the client, the source and the context, collect."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from collectors.config import CollectConfig
from collectors.core import CollectContext, Source, Summary, run_collection
from collectors.http import HostPolicy, PoliteClient
from schemas.catalog import Catalog
from schemas.errors import ConfigError
from schemas.items import SourceName

SOURCES = tuple(str(s) for s in SourceName)


def build_source(
    name: str,
    targets: list[str],
    root: Path,
    cfg: CollectConfig,
    *,
    shop_map: str | None = None,
    session_file: str | None = None,
    login: str | None = None,
) -> tuple[Source, HostPolicy]:
    """The source object for ``name`` and the hosts its client may reach."""
    if name == SourceName.NETAPORTER:
        from collectors.netaporter import NetAPorter

        return NetAPorter(cfg.netaporter, None), NetAPorter.policy(cfg.netaporter)  # type: ignore[arg-type]
    if name == SourceName.TIKTOK:
        from collectors.tiktok import TikTok

        src = TikTok.build(root, cfg.tiktok, cfg.http, shop_map)
        return src, src.fetcher.policy
    if name == SourceName.INSTAGRAM:
        from collectors.instagram import Instagram

        return (
            Instagram(cfg.instagram, session_file=session_file, login=login, user_agent=cfg.http.user_agent),
            Instagram.policy(cfg.instagram),
        )
    if name == SourceName.URLS:
        from collectors.urls import UrlList

        src = UrlList.build(root, targets, cfg.urls, cfg.http)
        return src, src.fetcher.policy
    raise ConfigError(f"unknown source {name!r}", hint=f"choose one of {SOURCES}")


def collect(
    source: str,
    targets: list[str],
    *,
    out: str | os.PathLike[str],
    catalog: str | os.PathLike[str],
    cfg: CollectConfig | None = None,
    workers: int | None = None,
    limit: int | None = None,
    dry_run: bool = False,
    shop_map: str | None = None,
    session_file: str | None = None,
    login: str | None = None,
    retry_rejected: bool = False,
    show_progress: bool | None = None,
    stop: threading.Event | None = None,
    client_hook: Any = None,
) -> Summary:
    """Collect ``targets`` of ``source`` into ``out`` and the catalog; returns the run summary."""
    cfg = cfg or CollectConfig()
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    workers = workers or cfg.workers
    src, policy = build_source(
        source, list(targets), root, cfg, shop_map=shop_map, session_file=session_file, login=login
    )
    client = PoliteClient(cfg.http, policy=policy, pool_size=max(8, workers * 2), stop=stop)
    if client_hook is not None:
        client_hook(client)
    if hasattr(src, "client") and getattr(src, "client", None) is None:
        src.client = client  # type: ignore[attr-defined]
    fetcher = getattr(src, "fetcher", None)
    if fetcher is not None:  # yt-dlp sources: pre-flight checks and waits through the polite client
        fetcher.client, fetcher.sleep = client, client.sleep
    with Catalog(catalog) as cat:
        ctx = CollectContext(root, cat, cfg, client, retry_rejected=retry_rejected)
        try:
            return run_collection(
                src,
                list(targets),
                ctx,
                limit=limit,
                dry_run=dry_run,
                executor=cfg.executor,
                workers=workers,
                show_progress=show_progress,
            )
        finally:
            client.close()
