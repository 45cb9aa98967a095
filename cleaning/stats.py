"""`mf stats`: counts of a cleaned catalog (status, class, partition, split, reasons, leakage,
taxonomy coverage). Quality figures against a synthetic world's truth are the world's own
evaluators (``movingfashion.world.scoring``), composed with these counts by ``mf stats --truth``.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from cleaning.splits import check_leakage
from schemas.catalog import Catalog
from schemas.items import Status


def catalog_stats(catalog: Catalog, rules_path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Item counts by status, class, partition and split, the most common reasons, and the
    taxonomy coverage of every item's metadata under the rules file (the packaged one by default).
    Accepted items with no class yet (a catalog edited by hand, an older run) are counted apart,
    in ``accepted_unclassified``."""
    from cleaning.taxonomy import classify_item, coverage, load_rules

    rows = catalog.items()
    rules = load_rules(rules_path)
    tax = coverage([classify_item(r.item, rules) for r in rows])
    acc = [r for r in rows if r.status == Status.ACCEPTED]
    classed = [r for r in acc if r.df2_class is not None]
    reasons = Counter((r.reason or "").split(" (")[0].split(" duplicate of")[0] for r in rows if r.reason)
    return {
        "items": len(rows),
        "status": dict(sorted(Counter(str(r.status) for r in rows).items())),
        "accepted_per_class": {int(k): v for k, v in sorted(Counter(r.df2_class for r in classed).items())},
        "accepted_unclassified": len(acc) - len(classed),
        "accepted_per_partition": dict(sorted(Counter(str(r.partition) for r in acc).items())),
        "accepted_per_split": dict(sorted(Counter(str(r.split) for r in acc).items())),
        "reasons": dict(reasons.most_common(15)),
        "leakage": check_leakage(catalog),
        "taxonomy_coverage": tax,
    }
