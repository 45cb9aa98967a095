"""Stage 4: MovingFashionDataset, samplers, Multi-DeepFashion2 and SEAM Match-RCNN."""

from importlib.metadata import PackageNotFoundError, version

try:
    #: the installed toolkit's version (``mf --version``); "0+unknown" for a tree not installed
    __version__ = version("movingfashion-toolkit")
except PackageNotFoundError:  # pragma: no cover - a source tree on PYTHONPATH only
    __version__ = "0+unknown"
