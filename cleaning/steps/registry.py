"""The registry of cleaning steps (name -> class), the check of a configured order, and the
loader of a cleaning config checked against it.

The registry checks the config (not the config the registry): :mod:`cleaning.config` holds
plain models that every step imports, so it never imports the steps.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cleaning.config import CleaningConfig
from cleaning.steps.associations import AssociationsStep
from cleaning.steps.base import Step
from cleaning.steps.probe import ProbeStep
from cleaning.steps.record import RecordStep
from cleaning.steps.shop_images import ShopImagesStep
from cleaning.steps.split_screen import SplitScreenStep
from cleaning.steps.taxonomy import TaxonomyStep
from cleaning.steps.video_duplicates import VideoDuplicatesStep
from schemas.config import load_config
from schemas.errors import ConfigError

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


def check_steps(cfg: CleaningConfig, where: str = "CleaningConfig") -> list[type[Step]]:
    """The step classes of ``cfg.steps``; a :class:`ConfigError` naming ``where`` and the field."""
    try:
        return resolve_steps(cfg.steps)
    except ValueError as exc:
        raise ConfigError(
            f"field 'steps': {exc}", where=where, hint="`mf config show clean` prints the default steps"
        ) from None


def load_cleaning_config(path: str | os.PathLike[str] | None = None) -> CleaningConfig:
    """Defaults, overridden by a YAML/JSON file when given; the steps list checked."""
    cfg = load_config(CleaningConfig, path, stage="clean")
    check_steps(cfg, str(path) if path else "CleaningConfig")
    return cfg
