"""What a publish reads and checks before it writes (:func:`_plan`): the previous publish's
records and split files, the accepted rows, the products, and the split rule new products are
placed by (:func:`publish_rule`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cleaning.publish.checks import check_output, check_root, check_unique_ids
from cleaning.publish.held_report import held_back_rows
from cleaning.publish.products import _Group, product_groups
from cleaning.publish.publisher import _Publisher
from cleaning.splits import describe_rule, rebuild_splits, recorded_rule, split_rule
from movingfashion.archive.verify import read_held_videos
from schemas.catalog import Catalog, ItemRow
from schemas.dataset import Split
from schemas.errors import CatalogError, DataFormatError
from schemas.items import Status
from schemas.official import OfficialSplit, read_official
from schemas.redact import redacted_logger
from schemas.review import apply_review

log = redacted_logger("cleaning.publish")  # the package's one logger: what users' logs name


@dataclass
class _Planned:
    """What publish read and checked before writing anything (:func:`_plan`)."""

    pub: _Publisher
    old_held: dict[str, dict[str, str]]
    accepted: list[ItemRow]
    published: dict[str, str]  #: product id -> the split an earlier publish put it in
    groups: list[_Group]
    test_video_before: dict[str, str]
    held: list[dict[str, str]]  #: the items held back as the catalog stood then (:func:`held_back_rows`)


def _plan(catalog: Catalog, root: Path, out: Path, *, rebuild_state: bool = False) -> _Planned:
    """The previous publish's records in ``out`` and the products to publish, every check that
    refuses a publish made (:func:`check_output`, :func:`check_root`, :func:`check_unique_ids`);
    writes nothing. ``rebuild_state``: see :class:`_Publisher`."""
    pub = _Publisher(root, out, rebuild_state=rebuild_state)  # the previous publish's records, validated
    old_held = read_held_videos(out)  # the held-back videos whose tracklet files it kept
    old_splits = _read_old_splits(out)
    check_output(out, pub.recorded)
    held = held_back_rows(catalog)  # read before the accepted rows: an accept meanwhile is in both
    accepted = _accepted_rows(catalog)
    check_root(catalog, root, accepted)
    # products keep the ids this folder published them under, and test products their video
    published = {pid: split for split, entries in old_splits.items() for pid in entries}
    test_video_before = {
        pid: rec["src"]
        for pid, e in old_splits.get(str(Split.TEST), {}).items()
        if len(e.video_paths) == 1 and (rec := pub.state.get(e.video_paths[0]))
    }
    groups = product_groups(catalog, apply_review(catalog, accepted), published)  # rejected in review: out
    check_unique_ids(catalog, groups)
    return _Planned(pub, old_held, accepted, published, groups, test_video_before, held)


def _accepted_rows(catalog: Catalog) -> list[ItemRow]:
    """The accepted rows with a class, sorted by product id; CatalogError if `mf clean` did not
    run (a row without product id). A row with a product id but no class (an item cleaning could
    not class, accepted in review) is left out with a warning: it stays unpublished, and the rest
    of the catalog is published."""
    rows = catalog.items(status=Status.ACCEPTED)
    for r in rows:
        if not r.product_id:
            raise CatalogError(
                f"accepted item {r.item.source}/{r.item.source_id} lacks a product id",
                where=str(catalog.path),
                hint="run `mf clean` first",
            )
    classless = [r for r in rows if r.df2_class is None]
    for r in classless:
        log.warning(
            "%s: accepted item %s/%s (product %s) held back: accepted in review without a class: "
            "set one with c on the review page (mf review) or mf-tracklets review --class NAME=CLASS, then publish again",
            catalog.path,
            r.item.source,
            r.item.source_id,
            r.product_id,
        )
    return sorted((r for r in rows if r.df2_class is not None), key=lambda r: r.product_id or "")


def publish_rule(
    catalog: Catalog, *, seed: int | None = None, test_fraction: float | None = None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The split rule a publish places new products by, and the rule asked for that it does not
    use (None when none). The rule the catalog recorded wins: publish never moves a split, so a
    ``seed``/``test_fraction`` that differs from it is ignored (returned, for a warning); they
    make the rule only of a catalog that recorded none (each one not given: its default)."""
    recorded = recorded_rule(catalog)
    if recorded is None:
        return split_rule(catalog, seed=seed, test_fraction=test_fraction), None
    asked = {k: v for k, v in (("seed", seed), ("test_fraction", test_fraction)) if v is not None}
    if all(recorded[k] == v for k, v in asked.items()):
        return recorded, None
    return recorded, asked


def publish_rule_warning(
    recorded: Mapping[str, Any], ignored: Mapping[str, Any], *, config: str, catalog: str
) -> str:
    """The one line ``mf publish`` prints when ``config`` asks for a split rule other than the
    one ``catalog`` recorded."""
    return (
        f"{config}: the catalog's recorded split rule ({describe_rule(recorded)}) is kept, not the "
        f"config's ({describe_rule(ignored)}): mf publish never moves a split; to change the rule "
        f"run `mf splits rebuild --catalog {catalog} --config {config}` (it may move products), then "
        "publish again"
    )


def _publishable(catalog: Catalog, rule: Mapping[str, Any]) -> list[ItemRow]:
    """The accepted rows (:func:`_accepted_rows`) with splits: products without one are placed
    by ``rule`` (:func:`publish_rule`: the catalog's recorded one when it has one), so every
    pinned split stays where it is."""
    rows = _accepted_rows(catalog)
    if any(r.split is None for r in rows):
        rebuild_splits(catalog, **rule)
        rows = _accepted_rows(catalog)
    return rows


def _read_old_splits(out: Path) -> dict[str, OfficialSplit]:
    """The split files of an earlier publish (their tracklets are kept); DataFormatError when
    one cannot be read, before anything is changed."""
    old: dict[str, OfficialSplit] = {}
    for split in (Split.TRAIN, Split.TEST):
        path = out / f"{split}.json"
        if not path.exists():
            old[str(split)] = {}
            continue
        try:
            old[str(split)] = read_official(path)
        except DataFormatError as exc:
            raise DataFormatError(
                exc.message,
                where=exc.where or str(path),
                hint="fix it or move it away (publish keeps the tracklets it holds); nothing was changed",
            ) from None
    return old
