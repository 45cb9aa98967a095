"""DeepFashion2: the one reader of its per-image annotations, COCO and YOLO export.

- :mod:`~movingfashion.deepfashion2.reader`: ``annos/*.json`` + images -> :class:`DF2Image` /
  :class:`DF2Item` (:func:`read_annotation`, :func:`iter_split`, :func:`resolve_root`,
  :func:`df2_folder`).
- :mod:`~movingfashion.deepfashion2.coco`: one split -> COCO JSON (official conventions).
- :mod:`~movingfashion.deepfashion2.yolo`: splits (or any labelled frames) -> an ultralytics
  YOLO dataset, for detector training.

Used by ``mf df2``, detector training, Multi-DeepFashion2 (:mod:`movingfashion.multidf2`) and the
matcher pretraining of SEAM phase 1 (:mod:`movingfashion.models.pretrain`).
"""

from movingfashion.deepfashion2.coco import (
    LANDMARK_SLOTS,
    NUM_LANDMARK_SLOTS,
    coco_categories,
    coco_keypoints,
    to_coco,
    write_coco,
)
from movingfashion.deepfashion2.reader import (
    LANDMARK_COUNTS,
    DF2Image,
    DF2Item,
    df2_folder,
    has_split,
    image_id_of,
    iter_split,
    read_annotation,
    resolve_root,
    split_dir,
)
from movingfashion.deepfashion2.yolo import (
    YOLO_SPLIT,
    check_df2_splits,
    df2_to_yolo,
    write_yolo_dataset,
    yolo_line,
)

__all__ = [
    "LANDMARK_COUNTS",
    "LANDMARK_SLOTS",
    "NUM_LANDMARK_SLOTS",
    "YOLO_SPLIT",
    "check_df2_splits",
    "DF2Image",
    "DF2Item",
    "coco_categories",
    "coco_keypoints",
    "df2_folder",
    "df2_to_yolo",
    "has_split",
    "image_id_of",
    "iter_split",
    "read_annotation",
    "resolve_root",
    "split_dir",
    "to_coco",
    "write_coco",
    "write_yolo_dataset",
    "yolo_line",
]
