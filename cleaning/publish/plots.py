"""The dataset's plots (``plots/*.png``): drawn only when what they show changed, with no
date or software metadata."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from schemas.atomic import write_if_changed
from schemas.dataset import DatasetEntry
from schemas.taxonomy import DF2_CLASSES, Partition

#: the plots publish writes under ``plots/``
PLOTS = ("class_histogram.png", "frames_per_video.png")

#: the version of the plots' drawing: a change to how they are drawn bumps it, so every plot is
#: drawn again by the next publish
PLOTS_VERSION = 1

#: the PNG text key holding what a plot was drawn from (:func:`write_plots`)
PLOT_KEY = "Source"


def _plot_key(name: str, data: Any) -> str:
    """What the plot ``name`` is drawn from, as a digest (with :data:`PLOTS_VERSION`)."""
    blob = json.dumps([PLOTS_VERSION, name, data], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def _drawn_from(path: Path) -> str | None:
    """The key a plot file was drawn from (its PNG text :data:`PLOT_KEY`); None when the file is
    not there, does not read as a PNG, or has no key (drawn by an older version, or edited)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            key = im.info.get(PLOT_KEY) if im.format == "PNG" else None
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    return key if isinstance(key, str) else None


def write_plots(folder: Path, entries: list[DatasetEntry], frames: list[int]) -> set[str]:
    """Draw the dataset's plots (:data:`PLOTS`) into ``folder`` where what they show changed; a
    plot whose file says it was drawn from the same data (its :data:`PLOT_KEY`) is left as it is,
    and matplotlib is not imported at all when none is drawn. Returns the dataset paths
    (``plots/<name>``) written."""
    data = {
        PLOTS[0]: sorted([e.df2_class, str(e.partition)] for e in entries),
        PLOTS[1]: sorted(frames),
    }
    draw = {
        PLOTS[0]: lambda k: class_histogram_png(entries, k),
        PLOTS[1]: lambda k: frames_histogram_png(frames, k),
    }
    written = set()
    for name in PLOTS:
        key = _plot_key(name, data[name])
        if _drawn_from(folder / name) == key:
            continue
        if write_if_changed(folder / name, draw[name](key)):
            written.add(f"plots/{name}")
    return written


def _png(fig, key: str | None = None) -> bytes:
    buf = io.BytesIO()
    meta = {"Software": None} | ({PLOT_KEY: key} if key is not None else {})
    fig.savefig(buf, format="png", dpi=100, metadata=meta)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _plt():
    from schemas.library_state import pyplot

    return pyplot()


def class_histogram_png(entries: list[DatasetEntry], key: str | None = None) -> bytes:
    """Bar chart of the products per class, Regular and Hard stacked (``key``: see :func:`write_plots`)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4))
    ids = list(DF2_CLASSES)
    reg = [sum(e.df2_class == i and e.partition == Partition.REGULAR for e in entries) for i in ids]
    hard = [sum(e.df2_class == i and e.partition == Partition.HARD for e in entries) for i in ids]
    ax.bar(ids, reg, label="Regular")
    ax.bar(ids, hard, bottom=reg, label="Hard")
    ax.set_xticks(ids, [DF2_CLASSES[i] for i in ids], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("products")
    ax.set_title("Products per class")
    ax.legend()
    fig.tight_layout()
    return _png(fig, key)


def frames_histogram_png(frames: list[int], key: str | None = None) -> bytes:
    """Histogram of the published videos' frame counts (``key``: see :func:`write_plots`)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(np.array(sorted(frames) or [0]), bins=20)
    ax.set_xlabel("frames per video")
    ax.set_ylabel("videos")
    ax.set_title("Frames per video")
    fig.tight_layout()
    return _png(fig, key)
