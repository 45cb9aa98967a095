"""What a pair scorer (:class:`cleaning.associations.PairScorer`) can do, read from its
``score`` signature, and the tag its scores are cached under."""

from __future__ import annotations

import inspect
from typing import Any


def takes_crop(scorer: Any) -> bool:
    """Whether ``scorer.score`` accepts ``crop=`` (scores a region of the frames)."""
    return _takes(scorer, "crop")


def takes_category(scorer: Any) -> bool:
    """Whether ``scorer.score`` accepts ``category=`` (scores the item's DeepFashion2 class only)."""
    return _takes(scorer, "category")


def _takes(scorer: Any, name: str) -> bool:
    try:
        return name in inspect.signature(scorer.score).parameters
    except (TypeError, ValueError):
        return False


def scorer_tag(scorer: Any) -> str | None:
    """The scorer's ``tag`` (its weights and settings) when it has one: scores are cached under it."""
    tag = getattr(scorer, "tag", None)
    return str(tag) if tag else None
