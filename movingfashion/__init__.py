"""Stage 4: MovingFashionDataset, samplers, Multi-DeepFashion2 and SEAM Match-RCNN."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from movingfashion.dataset import MovingFashionDataset

try:
    #: the installed toolkit's version (``mf --version``); "0+unknown" for a tree not installed
    __version__ = version("movingfashion-toolkit")
except PackageNotFoundError:  # pragma: no cover - a source tree on PYTHONPATH only
    __version__ = "0+unknown"

__all__ = ["MovingFashionDataset", "__version__"]


def __getattr__(name: str) -> Any:
    """``from movingfashion import MovingFashionDataset``: the class of :mod:`movingfashion.dataset`,
    imported when first asked for (``import movingfashion`` alone loads neither torch nor numpy)."""
    if name == "MovingFashionDataset":
        from movingfashion.dataset import MovingFashionDataset

        return MovingFashionDataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
