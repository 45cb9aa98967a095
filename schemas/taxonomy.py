"""The 13 DeepFashion2 categories (ids start at 1, names as in the official COCO conversion)."""

from __future__ import annotations

from enum import StrEnum

DF2_CLASSES: dict[int, str] = {
    1: "short_sleeved_shirt",
    2: "long_sleeved_shirt",
    3: "short_sleeved_outwear",
    4: "long_sleeved_outwear",
    5: "vest",
    6: "sling",
    7: "shorts",
    8: "trousers",
    9: "skirt",
    10: "short_sleeved_dress",
    11: "long_sleeved_dress",
    12: "vest_dress",
    13: "sling_dress",
}
DF2_IDS: dict[str, int] = {name: cid for cid, name in DF2_CLASSES.items()}
NUM_CLASSES = len(DF2_CLASSES)
#: ``category_name`` as DeepFashion2's annotation files write it (``short sleeve top`` for the COCO
#: ``short_sleeved_shirt``)
DF2_FILE_NAMES: dict[int, str] = {
    1: "short sleeve top",
    2: "long sleeve top",
    3: "short sleeve outwear",
    4: "long sleeve outwear",
    5: "vest",
    6: "sling",
    7: "shorts",
    8: "trousers",
    9: "skirt",
    10: "short sleeve dress",
    11: "long sleeve dress",
    12: "vest dress",
    13: "sling dress",
}


def class_from_text(value: str) -> int | None:
    """The DeepFashion2 class ``value`` names: its number (``8``), its COCO name
    (``short_sleeved_shirt``) or its annotation files' name (``short sleeve top``), in any case,
    with spaces, dashes or underscores alike; None for anything else."""
    text = value.strip()
    if text.isascii() and text.isdigit():  # ("²".isdigit() is true too)
        cid = int(text)
        return cid if cid in DF2_CLASSES else None
    key = "_".join(text.lower().replace("-", " ").replace("_", " ").split())
    for cid in DF2_CLASSES:
        if key in (DF2_CLASSES[cid], DF2_FILE_NAMES[cid].replace(" ", "_")):
            return cid
    return None


class Partition(StrEnum):
    """MovingFashion partitions: Regular (Net-A-Porter) and Hard (social media)."""

    REGULAR = "regular"
    HARD = "hard"


#: Integer written in the official JSON ``source`` field: the real archive's codes, 0 = Hard and
#: 1 = Regular.
PARTITION_SOURCE_CODE: dict[Partition, int] = {Partition.REGULAR: 1, Partition.HARD: 0}
#: ``source`` codes the archive uses; anything else is read (see below) but never written.
ARCHIVE_SOURCE_CODES = frozenset(PARTITION_SOURCE_CODE.values())
#: What this project's first published datasets wrote for Hard (read as Hard, never written).
LEGACY_HARD_SOURCE_CODE = 2


def partition_from_source_code(code: int) -> Partition:
    """The partition of an official ``source`` integer, in both conventions.

    1 is Regular and anything else Hard, as the authors' evaluation code counts: the archive's
    0 and the 2 of this project's older datasets both read as Hard.
    """
    return Partition.REGULAR if code == 1 else Partition.HARD
