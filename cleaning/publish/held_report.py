"""What a publish leaves out and says so: the items held back for review or rejected (with
their reasons and counts), those a review changed while it ran, and the products it withdrew."""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from typing import Any

from cleaning.steps.state import item_key
from schemas.catalog import Catalog
from schemas.items import Status
from schemas.official import OfficialSplit
from schemas.redact import redacted_logger

log = redacted_logger("cleaning.publish")  # the package's one logger: what users' logs name


def held_back(catalog: Catalog) -> dict[str, Any]:
    """What publish leaves out of train.json/test.json until it is accepted, and why: every item
    that is ``needs_review`` (association check, carousel pick, tracklet flags, ...) or
    ``rejected`` (bad media, non-clothing, a reviewer's reject), with its reason; the counts by
    the stage that decided (the reason's prefix)."""
    return _held_back_counts(held_back_rows(catalog))


#: reason listed for an accepted item publish leaves out because it has no class
ACCEPTED_WITHOUT_CLASS = (
    "review: accepted without a DeepFashion2 class: set one with c on the review page (mf review) or mf-tracklets review --class NAME=CLASS, "
    "then publish again"
)


def held_back_rows(catalog: Catalog) -> list[dict[str, str]]:
    """The catalog's ``needs_review`` and ``rejected`` items as :func:`held_back` lists them, and
    the accepted items publish leaves out for want of a class (:data:`ACCEPTED_WITHOUT_CLASS`)."""
    rows = []
    for status in (Status.NEEDS_REVIEW, Status.REJECTED, Status.ACCEPTED):
        for r in catalog.items(status=status):
            if status is Status.ACCEPTED and (not r.product_id or r.df2_class is not None):
                continue
            rows.append(
                {
                    "item": item_key(r.item.source, r.item.source_id),
                    "product_id": r.product_id,
                    "status": str(status),
                    "reason": ACCEPTED_WITHOUT_CLASS if status is Status.ACCEPTED else r.reason or "",
                }
            )
    return rows


def withdrawn_products(
    old: Mapping[str, OfficialSplit],
    entries: Sequence[Any],
    held: Sequence[Mapping[str, str]],
    merged: Sequence[Mapping[str, str]],
    failed: Sequence[Mapping[str, str]] = (),
) -> list[dict[str, str]]:
    """The products the split files listed before this publish and list no more: product id, the
    split it left, and why (its item's catalog state and reason among ``held``, the catalog's
    :func:`held_back_rows`; the product it was merged into; its failure in this publish; or that
    no accepted item has that product id now), in product order."""
    now = {str(e.product_id) for e in entries}
    why = {h["product_id"]: f"{h['status']}: {h['reason']}" for h in held if h["product_id"]}
    why.update({m["product_id"]: f"merged into {m['published_as']}" for m in merged})
    why.update({f["product"]: f"failed in this publish: {f['error']}" for f in failed})
    return sorted(
        (
            {"product": pid, "split": split, "why": why.get(pid, "no accepted item has this product id now")}
            for split, rows in old.items()
            for pid in rows
            if pid not in now
        ),
        key=lambda w: w["product"],
    )


def _held_back_report(
    held_now: list[dict[str, str]], planned: list[dict[str, str]], published: Container[str]
) -> dict[str, Any]:
    """:func:`held_back` of this run's output: the items held back when it planned (``planned``)
    that it did not publish after all (``published``: item keys), whatever a review decided
    while it ran; ``changed_during_run`` names the items whose state changed since (``held_now``:
    the catalog's :func:`held_back_rows` at the end; a review accept or reject while it ran: the
    next publish applies it), said once on stderr too."""
    rows = [h for h in planned if h["item"] not in published]
    then = {(h["item"], h["status"], h["reason"]) for h in planned}
    now = {(h["item"], h["status"], h["reason"]) for h in held_now}
    changed = sorted({item for item, _, _ in then ^ now})
    if changed:
        log.warning(
            "%d %s changed state while this publish ran (first: %s), which it does not include: "
            "run mf publish again",
            len(changed),
            "item" if len(changed) == 1 else "items",
            changed[0],
        )
    return {**_held_back_counts(rows), "changed_during_run": changed}


def _held_back_counts(rows: list[dict[str, str]]) -> dict[str, Any]:
    """``held_back`` (``rows``) and ``held_back_by_reason``: the counts by status and the stage
    that decided (the reason's prefix)."""
    by: dict[str, int] = {}
    for h in rows:
        stage = h["reason"].split(":", 1)[0] if ":" in h["reason"] else "other"
        key = f"{h['status']}/{stage}"
        by[key] = by.get(key, 0) + 1
    return {"held_back": rows, "held_back_by_reason": dict(sorted(by.items()))}
