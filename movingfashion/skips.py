"""What the skips of :class:`~movingfashion.dataset.MovingFashionDataset` (``dataset.skipped``,
``on_bad="skip"``) left out, counted and worded for warnings and commands."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from movingfashion.dataset import MovingFashionDataset


def count_skips(dataset: MovingFashionDataset) -> dict[str, int]:
    """What the entries of ``dataset.skipped`` left out, counted (keys with a count only):
    ``products`` (products that do not load at all), ``videos`` (videos dropped from a product
    that still loads by its other videos), ``frames`` (frames whose boxes were dropped, of a
    product that still loads), ``lines`` (malformed ``entries.jsonl`` lines) and ``filtered``
    (skips of products the ``classes``/``partition`` filter leaves out anyway)."""
    loaded = {rec.product_id: rec for rec in dataset.products}
    filtered = dataset.filtered_ids
    counts: dict[str, int] = {}
    products: set[str] = set()
    of_loaded: dict[str, int] = {}
    for pid, reason in dataset.skipped:
        if (pid, reason) in dataset._line_skips:
            counts["lines"] = counts.get("lines", 0) + 1
        elif pid in loaded:
            of_loaded[pid] = of_loaded.get(pid, 0) + 1
        elif pid in filtered:
            counts["filtered"] = counts.get("filtered", 0) + 1
        else:
            products.add(pid)
    for pid, n in of_loaded.items():
        videos = min(max(dataset._listed.get(pid, 0) - len(loaded[pid].videos), 0), n)
        counts["videos"] = counts.get("videos", 0) + videos
        counts["frames"] = counts.get("frames", 0) + n - videos
    counts["products"] = len(products)
    order = ("products", "videos", "frames", "lines", "filtered")
    return {k: counts[k] for k in order if counts.get(k)}


def describe_skips(counts: Mapping[str, int]) -> str:
    """``counts`` of :meth:`MovingFashionDataset.skip_counts` in words: ``1 product, 2 videos of
    products that still load``."""
    words = {
        "products": ("product", "products"),
        "videos": ("video of a product that still loads", "videos of products that still load"),
        "frames": ("frame's boxes", "frames' boxes"),
        "lines": ("entries.jsonl line", "entries.jsonl lines"),
        "filtered": ("row of a product the filter leaves out", "rows of products the filter leaves out"),
    }
    parts = [f"{n} {words[k][n != 1]}" for k, n in counts.items() if n and k in words]
    return ", ".join(parts) or "nothing"


def skipped_lines(skipped: list[dict[str, str]]) -> str:
    """The ``skipped`` of :meth:`MovingFashionDataset.skipped_report`, one indented line each."""
    return "".join(f"\n  skipped {s['left_out']}: {s['reason']}" for s in skipped)
