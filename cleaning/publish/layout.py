"""The dataset folder's names as publish writes them: its media folders, every folder it
writes in, the top-level names a published folder may hold, and who takes its lock."""

from __future__ import annotations

from movingfashion.archive.describe import CARD, CROISSANT, DATASHEET
from movingfashion.archive.tables import BOXES_DIR, PAIRS_DIR
from movingfashion.archive.verify import (
    ENTRIES,
    MANIFEST,
    TRACKLET_BUILD_DIR,
    TRACKLET_FILES,
    TRACKLET_SHEET_DIR,
)
from schemas.items import AssetKind
from schemas.official import LEGACY_SHOP_DIR, SHOP_DIR, VIDEO_DIR

VIEW_KINDS = (AssetKind.FRONT, AssetKind.REAR, AssetKind.FABRIC)

#: Folders of published media; a file in them that an earlier publish wrote and that no longer
#: belongs is removed on republish (never a file publish did not write: it refuses those).
MEDIA_DIRS = (VIDEO_DIR, SHOP_DIR, *(str(k) for k in VIEW_KINDS), LEGACY_SHOP_DIR)

#: every folder publish writes or removes files in (a link there would take them outside --out)
WRITTEN_DIRS = (
    *MEDIA_DIRS,
    BOXES_DIR,
    PAIRS_DIR,
    "plots",
    TRACKLET_FILES,
    f"{TRACKLET_FILES}/{TRACKLET_SHEET_DIR}",
    f"{TRACKLET_FILES}/{TRACKLET_BUILD_DIR}",
)

#: What a published dataset folder holds at its top level (publish, describe, mf-tracklets);
#: publish refuses an output folder holding anything else (hidden entries aside).
DATASET_NAMES = frozenset(
    {
        "train.json",
        "test.json",
        ENTRIES,
        MANIFEST,
        CROISSANT,
        CARD,
        DATASHEET,
        "plots",
        PAIRS_DIR,
        BOXES_DIR,
        TRACKLET_FILES,
        *MEDIA_DIRS,
    }
)

# DATASET_LOCK (the dataset's write lock, held by every read-modify-write of its split files;
# ``annotations.tracklet_files.dataset_lock`` takes the same file) and PUBLISH_LOCK (held by a
# whole publish, :func:`publish_lock`) come from :mod:`movingfashion.archive.at_rest`, where
# ``mf verify`` looks at them too.
#: who takes the dataset's lock, as a wait for it says
DATASET_WRITERS = "another mf publish / mf-tracklets build / mf review writes this dataset"
