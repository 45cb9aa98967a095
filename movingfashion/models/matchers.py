"""Matcher kinds by name: how detections are turned into descriptors for tracking.

- ``crops``: each detection cut out of the frame and embedded by the single-frame matcher
  (:mod:`movingfashion.models.matchrcnn`; any detector);
- ``roi``: descriptors pooled with RoIAlign from the detector's own feature maps and a small head
  (:mod:`movingfashion.models.roi`; a detector with a feature capture, weights trained on it).

Each loader imports its module on first use; ``load_matcher_kind(kind, path, device)`` loads a
checkpoint of that kind (``None`` = the embedded one).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from schemas.registry import lookup

if TYPE_CHECKING:
    import torch


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
