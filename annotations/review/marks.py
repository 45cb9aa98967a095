"""Catalog marks of the tracklet builder (needs_review, failures) and the command-line review
log ``review.jsonl`` of ``mf-tracklets review --accept/--reject``."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas.catalog import Catalog
from schemas.errors import DataFormatError
from schemas.faults import local_faults
from schemas.items import Status

STAGE = "tracklets"
REVIEW_FILE = "review.jsonl"


def open_catalog(path: str | os.PathLike[str]) -> Catalog:
    return Catalog(path)


def _find_item(cat: Catalog, product_id: str) -> tuple[str, str] | None:
    """(source, source_id) of the catalog item of a dataset product (product_id column, else source id)."""
    rows = cat.items()
    for r in rows:
        if r.product_id == product_id:
            return str(r.item.source), r.item.source_id
    for r in rows:
        if r.item.source_id == product_id:
            return str(r.item.source), r.item.source_id
    return None


def mark_needs_review(cat: Catalog, product_id: str, reason: str) -> bool:
    """Mark the product's catalog item needs_review (+ an event); False when it is not in the catalog."""
    key = _find_item(cat, product_id)
    cat.log_event(STAGE, f"needs_review: {reason}", *(key or (None, None)))
    if key is None:
        return False
    cat.set_item_state(*key, status=Status.NEEDS_REVIEW, reason=f"tracklets: {reason}")
    return True


def withdraw_needs_review(cat: Catalog, product_id: str, reason: str) -> bool:
    """Undo :func:`mark_needs_review` when the tracklet builder no longer flags any video of the
    product (its flags were decided again): the item goes back to accepted (+ an event), but only
    while it is needs_review by this stage; a reviewer's decision or another stage's reason is
    kept. Returns whether the item changed."""
    key = _find_item(cat, product_id)
    row = cat.get_item(*key) if key is not None else None
    if row is None or row.status != Status.NEEDS_REVIEW or not (row.reason or "").startswith(f"{STAGE}: "):
        return False
    cat.set_item_state(*key, status=Status.ACCEPTED, reason=None)
    cat.log_event(STAGE, f"flag withdrawn: {reason}", *key)
    return True


def log_failure(cat: Catalog, product_id: str, message: str) -> None:
    key = _find_item(cat, product_id)
    cat.log_event(STAGE, f"failed: {message}", *(key or (None, None)))


def read_decisions(dataset: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Latest decision per video stem from ``review.jsonl``."""
    p = Path(dataset) / REVIEW_FILE
    out: dict[str, dict[str, Any]] = {}
    if not p.is_file():
        return out
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            out[rec["video"]] = rec
        except (json.JSONDecodeError, KeyError, TypeError):
            raise DataFormatError(
                f"line {n} is not a review record", where=str(p), hint="fix or delete that line"
            ) from None
    return out


def record_decision(
    dataset: str | os.PathLike[str],
    video: str,
    product_id: str,
    decision: str,
    catalog: str | os.PathLike[str] | None = None,
    note: str | None = None,
    video_path: str | None = None,
) -> dict[str, Any]:
    """Append an accept/reject decision to ``review.jsonl``; with a catalog, also store it there
    (``schemas.review``, keyed by ``video_path``, the dataset-relative video: the product's item
    is accepted or rejected, and ``mf publish`` follows)."""
    if decision not in ("accept", "reject"):
        raise ValueError(decision)
    rec = {
        "video": video,
        "product_id": product_id,
        "decision": decision,
        "note": note,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    cat = open_catalog(catalog) if catalog is not None else None  # a damaged one: refused before writing
    try:
        p = Path(dataset) / REVIEW_FILE
        with local_faults(p), open(p, "a", encoding="utf-8") as fh:  # append-only log, one line per decision
            fh.write(json.dumps(rec) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        if cat is not None:
            from schemas.review import record_decision as store

            key = video_path or video
            store(cat, video=key, product_id=product_id, kind=decision, reason=note)
            if note and decision == "accept":
                store(cat, video=key, product_id=product_id, kind="note", note=note)
    finally:
        if cat is not None:
            cat.close()
    return rec
