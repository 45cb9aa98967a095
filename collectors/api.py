"""One importable entry point per run: look the source up, check its targets, collect."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collectors.base import Source
from collectors.config import CollectConfig
from collectors.core import CollectContext, Summary
from collectors.registry import source_class
from collectors.runner import run_collection
from movingfashion.executors import check_executor, make_executor
from schemas.errors import ConfigError

if TYPE_CHECKING:
    from schemas.catalog import Catalog


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
    retry_given_up: bool = False,
    force_refetch: bool = False,
    dry_run: bool = False,
    recheck: bool = False,
    **options: Any,
) -> Iterator[Source]:
    """The source ``source`` ready to collect ``targets`` into ``root`` and the catalog.

    Targets and options are checked before anything is created (bad ones raise an
    :class:`~schemas.errors.MFError`, exit 2 in the CLI); the client and the catalog are
    closed on exit. ``dry_run``: nothing is created (no root, no catalog); an existing catalog
    is opened read-only, a missing one stands in empty, in memory.
    """
    from collectors.http import PoliteClient

    cfg = cfg or CollectConfig()
    cls = source_class(source)
    options = {k: v for k, v in options.items() if v is not None}
    cls.check_options(options)
    if not recheck:  # a recheck reads the catalog's items, not targets
        cls.check_targets(targets)
    policy = cls.policy(cfg, targets, **options)
    if not dry_run:
        Path(root).mkdir(parents=True, exist_ok=True)
    client = PoliteClient(cfg.http, policy=policy, pool_size=max(8, workers * 2))
    try:
        with _open_catalog(catalog, dry_run=dry_run, root=Path(root)) as cat:
            ctx = CollectContext(
                root,
                cat,
                cfg,
                client,
                retry_rejected=retry_rejected,
                retry_given_up=retry_given_up,
                force_refetch=force_refetch,
            )
            yield cls(ctx, **options)
    finally:
        client.close()


def _open_catalog(catalog: str | os.PathLike[str], *, dry_run: bool, root: Path) -> Catalog:
    """The run's catalog; for a dry run read-only, or an empty one in memory when there is none
    yet (a dry run creates no file). An emptied catalog beside collected items is refused
    (:func:`refuse_emptied_catalog`)."""
    from schemas.catalog import Catalog

    path = Path(catalog)
    if not dry_run:
        refuse_emptied_catalog(path, root)
        return Catalog(catalog)
    if path.is_file() and path.stat().st_size > 0:
        return Catalog(path, read_only=True)
    return Catalog(":memory:")  # SQLite's private in-memory database: nothing on disk


#: the names a new catalog may take over an empty file (a touched or mktemp'd ``catalog.sqlite``)
CATALOG_SUFFIXES = (".sqlite", ".sqlite3", ".db", ".db3")


def refuse_emptied_catalog(catalog: Path, root: Path) -> None:
    """:class:`~schemas.errors.CatalogError` when ``catalog`` is a file of 0 bytes (no catalog
    SQLite wrote: one cut short by a crash, a full disk or a truncating copy) while ``root``
    holds a collected item's folder (``ROOT/<source>/<id>/``): SQLite would take it for a new
    catalog, and the run would fetch every item again and drop, for good and unsaid, what cleaning
    and review decided. An empty file beside no collected item is a new catalog when its name is
    a catalog's (:data:`CATALOG_SUFFIXES`); any other (``--catalog notes.json``, ``empty.txt``) is
    refused: a file of the user's, turned into a SQLite catalog without a word."""
    from collectors.registry import SOURCES
    from schemas.errors import CatalogError

    try:
        if not catalog.is_file() or catalog.stat().st_size > 0:
            return
        if catalog.suffix.lower() not in CATALOG_SUFFIXES:
            raise CatalogError(
                f"'{catalog.name}' is an empty file (0 bytes), not a catalog: mf-collect would turn it into one",
                where=str(catalog),
                hint="remove it (a new catalog is made there), or give another path, e.g. "
                f"--catalog {catalog.with_name('catalog.sqlite')}",
            )
        found = next(
            (
                f"{name}/{d.name}"
                for name in SOURCES
                if (root / name).is_dir()
                for d in (root / name).iterdir()
                if d.is_dir()
            ),
            None,
        )
    except OSError:  # an unreadable root: the run names it
        return
    if found is not None:
        raise CatalogError(
            f"the catalog is empty (0 bytes) while the root holds collected items ({found}, ...): "
            "it was cut short (a crash, a full disk, a copy); nothing was written",
            where=str(catalog),
            hint="restore it from a copy; or move it away to collect every item again into a new catalog "
            "(cleaning and review decisions are not in the collected files)",
        )


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
    retry_given_up: bool = False,
    force_refetch: bool = False,
    show_progress: bool | None = None,
    out: str | os.PathLike[str] | None = None,
    ray_address: str | None = None,
    recheck: bool = False,
    **options: Any,
) -> Summary:
    """Collect ``targets`` of ``source`` into ``root`` and the catalog; returns the run summary.

    ``catalog`` defaults to ``ROOT/catalog.sqlite``; ``options`` are the source's own
    (``shop_map=`` for TikTok, ``session_file=``/``login=`` for Instagram). ``out`` is the old
    name of ``root`` (deprecated). ``cfg.executor`` spreads the items (``ray``: over the cluster
    at ``ray_address``, else ``$RAY_ADDRESS``, else a local Ray; ``root`` must then be a folder
    every node sees); the catalog is written by this process only. ``dry_run``: discover only,
    and tell the items a run would fetch from those it would skip (:class:`~collectors.runner.DryRunSummary`);
    nothing is fetched or created, an existing catalog is only read. ``recheck``: no targets;
    ask the site about every item of ``source`` collected before and reject those it no longer
    has (:func:`collectors.recheck.recheck_items`: takedowns). ``retry_given_up``: also try the
    items given up after failing in ``cfg.max_failed_runs`` runs, each with a fresh count (given
    up again only after ``cfg.max_failed_runs`` more runs failing like that). ``force_refetch``
    (with ``retry_rejected``): download a damaged file again even when its source says it still
    serves the same one (:mod:`collectors.refetch`).
    """
    if out is not None:
        if root is not None:
            raise ConfigError("give root or out (its old name), not both", where="root")
        warnings.warn("collect(out=...) is deprecated; use root=", DeprecationWarning, stacklevel=2)
        root = out
    if root is None:
        raise ConfigError("no collection folder given", where="root")
    check_collection_folder(root)
    cfg = cfg or CollectConfig()
    check_executor(cfg.executor)
    workers = workers or cfg.workers
    catalog = catalog if catalog is not None else Path(root) / "catalog.sqlite"
    cls = source_class(source)  # bad options or targets fail before an executor is started
    cls.check_options({k for k, v in options.items() if v is not None})
    if force_refetch and not retry_rejected:
        raise ConfigError(
            "it works with --retry-rejected only (it downloads again the damaged files of the items "
            "that collects again); nothing was collected",
            where="--force-refetch",
            hint="add --retry-rejected",
        )
    if recheck:
        retrying = {"--retry-rejected": retry_rejected, "--retry-given-up": retry_given_up}
        return _recheck(
            cls, targets, root, catalog, cfg, workers, limit, dry_run, retrying, show_progress, options
        )
    cls.check_targets(targets)
    # the executor first: a cluster that cannot be joined stops the run before anything is created
    name = "local" if dry_run else cfg.executor
    with (
        make_executor(name, workers=workers, address=None if dry_run else ray_address) as ex,
        open_source(
            source,
            targets,
            root=root,
            catalog=catalog,
            cfg=cfg,
            workers=workers,
            retry_rejected=retry_rejected,
            retry_given_up=retry_given_up,
            force_refetch=force_refetch,
            dry_run=dry_run,
            **options,
        ) as src,
    ):
        return run_collection(
            src,
            list(targets),
            limit=limit,
            dry_run=dry_run,
            executor=ex,
            workers=workers,
            show_progress=show_progress,
            options={k: v for k, v in options.items() if v is not None},
        )


# files at the top of a folder that another command wrote, which a collection folder never holds
_NOT_A_COLLECTION = (
    ("train.json", "a published dataset folder (it holds train.json)"),
    ("test.json", "a published dataset folder (it holds test.json)"),
    ("world.json", "a synthetic world folder (it holds world.json; mf world serve serves its sites)"),
)


def check_collection_folder(root: str | os.PathLike[str]) -> None:
    """Refuse a ``root`` that is a published dataset or a synthetic world folder: collected files
    and a catalog there would break the dataset's manifest (``mf verify``, the next ``mf publish``)
    or mix with the world's files. A :class:`ConfigError` naming the folder, before anything is
    created."""
    for name, what in _NOT_A_COLLECTION:
        if (Path(root) / name).is_file():
            raise ConfigError(
                f"{what}, not a collection folder; nothing was collected",
                where=str(root),
                hint="pass --root a folder of its own for the collected files (new, or one "
                "mf-collect wrote), e.g. --root data; mf publish writes the dataset from it",
            )


def _recheck(
    cls: type[Source],
    targets: Sequence[str],
    root: str | os.PathLike[str],
    catalog: str | os.PathLike[str],
    cfg: CollectConfig,
    workers: int,
    limit: int | None,
    dry_run: bool,
    retrying: dict[str, bool],
    show_progress: bool | None,
    options: dict[str, Any],
) -> Summary:
    """``collect(recheck=True)``: the catalog's items of ``cls`` asked again, on this machine."""
    from collectors.recheck import recheck_items

    clash = [n for n, on in (("targets", bool(targets)), ("--dry-run", dry_run), *retrying.items()) if on]
    if clash:
        raise ConfigError(
            f"--recheck asks about the items the catalog holds: it takes no {' or '.join(clash)}",
            where="--recheck",
            hint="run the recheck alone; --limit caps how many items it asks about",
        )
    if cls.recheck_note:  # refused before the catalog or a client is opened
        raise ConfigError(f"{cls.name} items cannot be rechecked: {cls.recheck_note}", where="--recheck")
    if not Path(catalog).is_file():
        raise ConfigError(f"no catalog at {catalog}: nothing was collected to recheck", where="--catalog")
    with open_source(
        str(cls.name), (), root=root, catalog=catalog, cfg=cfg, workers=workers, recheck=True, **options
    ) as src:
        return recheck_items(src, limit=limit, workers=workers, show_progress=show_progress)
