"""The registry of cleaning steps (name -> class) and the check of a configured order."""

from __future__ import annotations

from collections.abc import Sequence

from cleaning.steps.associations import AssociationsStep
from cleaning.steps.base import Step
from cleaning.steps.probe import ProbeStep
from cleaning.steps.record import RecordStep
from cleaning.steps.shop_images import ShopImagesStep
from cleaning.steps.split_screen import SplitScreenStep
from cleaning.steps.taxonomy import TaxonomyStep
from cleaning.steps.video_duplicates import VideoDuplicatesStep

#: step name -> step class, in the default order
STEPS: dict[str, type[Step]] = {
    cls.name: cls
    for cls in (
        ProbeStep,
        VideoDuplicatesStep,
        SplitScreenStep,
        ShopImagesStep,
        TaxonomyStep,
        RecordStep,
        AssociationsStep,
    )
}


def resolve_steps(names: Sequence[str]) -> list[type[Step]]:
    """The step classes of a configured list; ValueError on an unknown, repeated or misplaced name."""
    out: list[type[Step]] = []
    for i, name in enumerate(names):
        if name not in STEPS:
            raise ValueError(f"unknown cleaning step {name!r} (known: {', '.join(STEPS)})")
        if name in names[:i]:
            raise ValueError(f"cleaning step {name!r} is listed twice")
        missing = [r for r in STEPS[name].requires if r not in names[:i]]
        if missing:
            raise ValueError(f"cleaning step {name!r} needs {', '.join(missing)} earlier in the list")
        out.append(STEPS[name])
    return out
