"""The checks that refuse a publish before anything is written: a catalog not cleaned, unsafe
ids or paths, an output folder holding what publish did not write, a wrong collection root,
one product id on two products."""

from __future__ import annotations

from pathlib import Path

from cleaning.publish.layout import DATASET_NAMES, MEDIA_DIRS, WRITTEN_DIRS
from cleaning.publish.products import _Group
from cleaning.publish.state import STATE_FILE
from schemas.catalog import Catalog, ItemRow
from schemas.errors import CatalogError, ConfigError
from schemas.items import AssetKind, Status
from schemas.naming import check_safe_name
from schemas.paths import PathEscapeError, check_collection_root, plain_folder, resolve_under
from schemas.render import counted
from schemas.review import LEGACY_REVIEW_LOG


def not_cleaned_message(n: int) -> str:
    """What ``mf publish`` and ``mf splits rebuild`` say of ``n`` collected items not cleaned yet."""
    return f"{n} collected {'item is' if n == 1 else 'items are'} not cleaned yet: run mf clean"


def check_cleaned(catalog: Catalog) -> int:
    """How many collected items (``downloaded``) ``mf clean`` has not seen yet. When nothing is
    publishable because of it (no item is accepted, and some are not cleaned) a
    :class:`CatalogError` says so before anything is written (exit 2); otherwise the caller warns
    with :func:`not_cleaned_message`."""
    n = catalog.count_items(status=str(Status.DOWNLOADED))
    if n and not catalog.count_items(status=str(Status.ACCEPTED)):
        raise CatalogError(
            not_cleaned_message(n) + "; nothing was written",
            where=str(catalog.path),
            hint=f"mf clean --catalog {catalog.path} --root ROOT, then run this again",
        )
    return n


def check_paths(catalog: Catalog, root: Path, out: Path) -> None:
    """Refuse (:class:`PathEscapeError`) a catalog whose accepted rows would make publish read or
    write outside its folders: a product id that is not a plain file name (it names
    ``videos/<pid>_<n>.mp4`` and ``imgs/<pid>.jpg``), or an asset path leaving the collection root."""
    for r in catalog.items(status=Status.ACCEPTED):
        item = f"{r.item.source}/{r.item.source_id}"
        if r.product_id:
            try:
                check_safe_name(r.product_id, what="product id")
            except ValueError as exc:
                raise PathEscapeError(
                    f"accepted item {item}: {exc}; its files would leave the output folder '{out}'",
                    value=r.product_id,
                    what="product_id",
                    root=out,
                    where=str(catalog.path),
                    hint="product ids are written by `mf clean`; rerun it or fix the row",
                ) from None
        for a in catalog.assets(source=r.item.source, source_id=r.item.source_id, status=Status.ACCEPTED):
            if a.path:
                resolve_under(
                    root,
                    a.path,
                    what=f"{a.kind} path of accepted item {item}",
                    where=str(catalog.path),
                    root_label="the collection root",
                )


def check_output(out: Path, ours: set[str]) -> None:
    """Refuse an output folder whose media folders leave it (symlinks) or are not folders, or
    hold files publish did not write (``ours``: what earlier publishes recorded): republishing
    removes what no longer belongs, and must never take or list someone else's file. Refused
    too: an output folder holding anything at its top level other than the dataset's own names
    (:data:`DATASET_NAMES`, and hidden ones), since the manifest, Croissant and archive list every
    file of the folder (a catalog, a collection or a session file in it would be published)."""
    if not out.exists():
        return
    if not out.is_dir():
        raise ConfigError("--out is not a folder", where=str(out), hint="pass a folder for the dataset")
    others = sorted(
        f.name + ("/" if f.is_dir() and not f.is_symlink() else "")
        for f in out.iterdir()
        if not f.name.startswith(".")
        and f.name not in DATASET_NAMES
        # the review log an older mf-tracklets review wrote: publish moves it to .review.jsonl
        and not (f.name == LEGACY_REVIEW_LOG and f.is_file() and not f.is_symlink())
    )
    if others:
        listed = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        raise ConfigError(
            f"the output folder holds {counted(len(others), 'entry', 'entries')} "
            f"that {'is' if len(others) == 1 else 'are'} not part of a published dataset: "
            f"{listed}; nothing was changed",
            where=str(out),
            hint="publish into a new or empty folder, or one mf publish wrote (the manifest, "
            "croissant.json and --archive list every file of the folder); or move those out of it",
        )
    for d in WRITTEN_DIRS:  # written and pruned by publish: never through a link out of the folder
        plain_folder(
            out, d, hint=f"replace {out / d} by a plain folder (or remove it), or choose another --out"
        )
    foreign: list[str] = []
    for d in MEDIA_DIRS:
        folder = out / d
        if not folder.is_dir():  # a plain folder, or none (plain_folder refused anything else)
            continue
        for f in sorted(folder.iterdir()):
            rel = f"{d}/{f.name}"
            if not f.name.startswith(".") and rel not in ours:
                foreign.append(rel + ("/" if f.is_dir() and not f.is_symlink() else ""))
    if foreign:
        foreign.sort()
        listed = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise ConfigError(
            f"the output folder holds {len(foreign)} files mf publish did not write: {listed}; "
            "nothing was changed",
            where=str(out),
            hint="move them out of its media folders (a dataset lists and archives every file), "
            f"or choose another --out; if mf publish wrote them and {STATE_FILE} was lost, rerun "
            "with --rebuild-state (it takes those OUT/manifest.json lists as its own)",
        )


def check_root(catalog: Catalog, root: Path, rows: list[ItemRow]) -> None:
    """Refuse a ``root`` that holds none of the accepted items' collected videos and shop images
    (a wrong --root would empty a published dataset; :func:`~schemas.paths.check_collection_root`).
    Some missing is allowed: a published copy of a file deleted from the root after publishing
    stands (see :meth:`_Publisher.place`)."""
    files: dict[str, list[str]] = {}
    for r in rows:
        assets = catalog.assets(source=r.item.source, source_id=r.item.source_id, status=Status.ACCEPTED)
        files[f"{r.item.source}/{r.item.source_id}"] = [
            a.path for a in assets if a.path and a.kind in (AssetKind.VIDEO, AssetKind.SHOP)
        ]
    check_collection_root(root, files, items="accepted items", nothing="nothing was changed")


def check_unique_ids(catalog: Catalog, groups: list[_Group]) -> None:
    """Refuse two products with one id (their files and entries would overwrite each other)."""
    by_id: dict[str, list[_Group]] = {}
    for g in groups:
        by_id.setdefault(g.product_id, []).append(g)
    for pid, gs in sorted(by_id.items()):
        if len(gs) > 1:
            items = " and ".join(f"{g.rep.item.source}/{g.rep.item.source_id}" for g in gs)
            raise CatalogError(
                f"product id {pid!r} names {len(gs)} products (accepted items {items}); nothing was written",
                where=str(catalog.path),
                hint="product ids are written by `mf clean`; rerun it or fix the rows so each id is one product",
            )
