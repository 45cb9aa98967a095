"""One importable entry point per run: look the source up, check its targets, collect."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from collectors.base import Source
from collectors.config import CollectConfig
from collectors.core import CollectContext, Summary
from collectors.executor import check_executor
from collectors.registry import source_class
from collectors.runner import run_collection
from schemas.errors import ConfigError


@contextmanager
def open_source(
    source: str,
    targets: Sequence[str],
    *,
    root: str | os.PathLike[str],
    catalog: str | os.PathLike[str],
    cfg: CollectConfig | None = None,
    workers: int = 4,
    retry_rejected: bool = False,
    **options: Any,
) -> Iterator[Source]:
    """The source ``source`` ready to collect ``targets`` into ``root`` and the catalog.

    Targets and options are checked before anything is created (bad ones raise an
    :class:`~schemas.errors.MFError`, exit 2 in the CLI); the client and the catalog are
    closed on exit.
    """
    from collectors.http import PoliteClient
    from schemas.catalog import Catalog

    cfg = cfg or CollectConfig()
    cls = source_class(source)
    options = {k: v for k, v in options.items() if v is not None}
    cls.check_options(options)
    cls.check_targets(targets)
    policy = cls.policy(cfg, targets, **options)
    Path(root).mkdir(parents=True, exist_ok=True)
    client = PoliteClient(cfg.http, policy=policy, pool_size=max(8, workers * 2))
    try:
        with Catalog(catalog) as cat:
            ctx = CollectContext(root, cat, cfg, client, retry_rejected=retry_rejected)
            yield cls(ctx, **options)
    finally:
        client.close()


def collect(
    source: str,
    targets: Sequence[str],
    *,
    root: str | os.PathLike[str] | None = None,
    catalog: str | os.PathLike[str] | None = None,
    cfg: CollectConfig | None = None,
    workers: int | None = None,
    limit: int | None = None,
    dry_run: bool = False,
    retry_rejected: bool = False,
    show_progress: bool | None = None,
    out: str | os.PathLike[str] | None = None,
    **options: Any,
) -> Summary:
    """Collect ``targets`` of ``source`` into ``root`` and the catalog; returns the run summary.

    ``catalog`` defaults to ``ROOT/catalog.sqlite``; ``options`` are the source's own
    (``shop_map=`` for TikTok, ``session_file=``/``login=`` for Instagram). ``out`` is the old
    name of ``root`` (deprecated).
    """
    if out is not None:
        if root is not None:
            raise ConfigError("give root or out (its old name), not both", where="root")
        warnings.warn("collect(out=...) is deprecated; use root=", DeprecationWarning, stacklevel=2)
        root = out
    if root is None:
        raise ConfigError("no collection folder given", where="root")
    cfg = cfg or CollectConfig()
    check_executor(cfg.executor)
    workers = workers or cfg.workers
    catalog = catalog if catalog is not None else Path(root) / "catalog.sqlite"
    with open_source(
        source,
        targets,
        root=root,
        catalog=catalog,
        cfg=cfg,
        workers=workers,
        retry_rejected=retry_rejected,
        **options,
    ) as src:
        return run_collection(
            src,
            list(targets),
            limit=limit,
            dry_run=dry_run,
            executor=cfg.executor,
            workers=workers,
            show_progress=show_progress,
        )
