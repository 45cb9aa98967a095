"""The synthetic MovingFashion world: products, videos, ground truth, loopback source sites,
and the evaluators that score each stage against that truth.

``generate_world(out_dir, products, seed)`` renders a world folder (see docs/contracts.md);
``WorldServer`` serves it in the shapes of Net-A-Porter, TikTok (yt-dlp) and Instagram
(instaloader); ``export_gt_dataset`` writes the dataset a perfect pipeline would publish;
:mod:`movingfashion.world.scoring` holds the evaluators. The pipeline stages never import this
package: only tests, benchmarks, the demo and ``mf world`` do.

The names below are imported on first use, so ``import movingfashion.world.cli`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import WorldConfig
    from .faults import Faults
    from .generate import generate_world
    from .gt_dataset import export_gt_dataset
    from .server import WorldServer

__all__ = ["generate_world", "WorldConfig", "WorldServer", "Faults", "export_gt_dataset"]


def _generate_world() -> Any:
    from .generate import generate_world

    return generate_world


def _world_config() -> Any:
    from .config import WorldConfig

    return WorldConfig


def _world_server() -> Any:
    from .server import WorldServer

    return WorldServer


def _faults() -> Any:
    from .faults import Faults

    return Faults


def _export_gt_dataset() -> Any:
    from .gt_dataset import export_gt_dataset

    return export_gt_dataset


_LOADERS = {
    "generate_world": _generate_world,
    "WorldConfig": _world_config,
    "WorldServer": _world_server,
    "Faults": _faults,
    "export_gt_dataset": _export_gt_dataset,
}


def __getattr__(name: str) -> Any:
    if name in _LOADERS:
        return _LOADERS[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
