"""Single-frame Matching Head of Match-RCNN (paper section 4.1) and its crop encoder.

Public API (used by the tracklet builder in ``annotations``, cleaning's association check and SEAM):

- :class:`CropEncoder`: RGB crops ``[N,3,S,S]`` in [0, 1] -> feature maps ``[N,256,S/16,S/16]``
  (default ``S = 64`` -> 4x4 maps; ``S = 96`` -> 6x6, the official RoI size).
- :class:`EmbeddingHead` ``f``: official conv stack 256->256->256->256->1024 (3x3), average pool
  over the whole map (on 6x6 maps exactly the official 6x6 pool), Linear 1024->256 + BatchNorm1d.
- :class:`MatchHead` ``m``: Linear(256, 2) on ``(a - b)^2`` -> softmax -> score in [0, 1];
  :func:`score_matrix` / :func:`margin_matrix` are the vectorised all-pairs form (the only one:
  tracking, SEAM evaluation and the shop scorer rank with it).
- :func:`twin`: a separate copy of f or m by name (SEAM's f~, m~).
- :class:`SingleFrameMatcher`: encoder + f + m, ``embed(crops) -> [N,256]``.
- :func:`load_matcher` (``None`` = the embedded default weights), :func:`crops_from_frames`.
- :mod:`movingfashion.models.pretrain`: the one matcher pretraining path (crop sets, batches,
  pair loss, training loop, retrieval evaluation); :mod:`movingfashion.models.shop_scorer`: the
  video <-> shop image score of cleaning's association check.

Two matching paths (:mod:`movingfashion.models.matchers`, by name): ``crops`` embeds each
detection from a resized crop through :class:`CropEncoder` + f (any backend); ``roi``
(:mod:`movingfashion.models.roi`) pools each box with RoIAlign from the feature maps the
detector's own forward computed (YOLO's P3/P4/P5 and input image, Faster R-CNN's FPN) and
embeds it with a small head trained on that detector (``weights/roi_matcher.pt``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from movingfashion.models.crops import crops_from_frames, image_to_tensor
    from movingfashion.models.matchrcnn import (
        MATCHER_KIND,
        MATCHER_VERSION,
        CropEncoder,
        EmbeddingHead,
        MatchHead,
        SingleFrameMatcher,
        default_matcher_path,
        load_matcher,
        margin_matrix,
        score_matrix,
        twin,
    )

__all__ = [
    "MATCHER_KIND",
    "MATCHER_VERSION",
    "CropEncoder",
    "EmbeddingHead",
    "MatchHead",
    "SingleFrameMatcher",
    "crops_from_frames",
    "default_matcher_path",
    "image_to_tensor",
    "load_matcher",
    "margin_matrix",
    "score_matrix",
    "twin",
]
_CROPS = ("crops_from_frames", "image_to_tensor")
_MATCHRCNN = tuple(n for n in __all__ if n not in _CROPS)


def __getattr__(name: str) -> Any:
    """The public names load torch on first use, so ``movingfashion.models.detectors.registry``
    (detector names for a CLI's choices) imports without it."""
    if name in _CROPS:
        from movingfashion.models import crops

        return getattr(crops, name)
    if name in _MATCHRCNN:
        from movingfashion.models import matchrcnn

        return getattr(matchrcnn, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
