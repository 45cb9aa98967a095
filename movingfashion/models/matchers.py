"""Matcher kinds by name: how detections are turned into descriptors for tracking.

- ``crops``: each detection cut out of the frame and embedded by the single-frame matcher
  (:mod:`movingfashion.models.matchrcnn`; any detector);
- ``roi``: descriptors pooled with RoIAlign from the detector's own feature maps and a small head
  (:mod:`movingfashion.models.roi`; a detector with a feature capture, weights trained on it).

Each loader imports its module on first use; ``load_matcher_kind(kind, path, device)`` loads a
checkpoint of that kind (``None`` = the embedded one); :func:`matcher_for` also resolves
``auto``: the RoI path when an RoI matcher fits the detector (the embedded one was trained on
the embedded detector's features), else crops.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from schemas.registry import lookup

if TYPE_CHECKING:
    import torch

    from movingfashion.models.detectors import Detector


def _crops() -> Callable[..., Any]:
    from movingfashion.models.matchrcnn import load_matcher

    return load_matcher


def _roi() -> Callable[..., Any]:
    from movingfashion.models.roi import load_roi_matcher

    return load_roi_matcher


#: matcher kind -> a function returning its loader ``(path, device) -> model``
MATCHERS: dict[str, Callable[[], Callable[..., Any]]] = {"crops": _crops, "roi": _roi}


def load_matcher_kind(
    kind: str = "crops",
    path: str | os.PathLike[str] | None = None,
    device: str | torch.device | None = None,
) -> Any:
    """Load a matcher of ``kind`` (see :data:`MATCHERS`) from ``path`` (``None`` = embedded)."""
    return lookup(MATCHERS, kind, what="matcher kind", where="embed_source")()(path, device=device)


def roi_fits(matcher: Any, detector: Detector) -> bool:
    """Whether an RoI matcher can run on ``detector``: its levels are the detector's, and it was
    trained on these detector weights (or says nothing about them): the same content hash, whatever
    the weights file is called."""
    from movingfashion.models.checkpoints import same_weights
    from schemas.errors import ModelError

    try:
        cap = detector.feature_capture()
    except ModelError:
        return False
    try:
        same = tuple(cap.channels) == matcher.head.channels and tuple(cap.strides) == matcher.strides
    finally:
        cap.close()
    return same and (matcher.detector is None or same_weights(matcher.detector, detector.version))


def matcher_for(
    detector: Detector,
    kind: str = "auto",
    path: str | os.PathLike[str] | None = None,
    device: str | torch.device | None = None,
) -> Any:
    """The matcher the tracklet builder runs with ``detector``: of ``kind`` (``crops``/``roi``), or
    for ``auto`` the kind of the checkpoint at ``path``, and without one the embedded RoI matcher
    when it fits the detector (:func:`roi_fits`: the embedded detector), else the crop matcher."""
    if kind != "auto":
        return load_matcher_kind(kind, path, device)
    from movingfashion.models.roi import ROI_MATCHER_KIND, default_roi_matcher_path, load_roi_matcher

    if path is not None:
        import torch

        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
            found = ckpt.get("kind") if isinstance(ckpt, dict) else None
        except Exception:  # noqa: BLE001 - unreadable: the crop loader below names the problem
            found = None
        if found == ROI_MATCHER_KIND:
            return load_roi_matcher(path, device)
        return load_matcher_kind("crops", path, device)
    if default_roi_matcher_path().is_file():
        roi = load_roi_matcher(None, device)
        if roi_fits(roi, detector):
            return roi
    return load_matcher_kind("crops", None, device)
