"""The synthetic MovingFashion world: products, videos, ground truth and loopback source sites.

``generate_world(out_dir, products, seed)`` renders a world folder (see docs/contracts.md);
``WorldServer`` serves it in the shapes of Net-A-Porter, TikTok (yt-dlp) and Instagram
(instaloader). Heavy modules are imported lazily.
"""

from __future__ import annotations

from typing import Any

__all__ = ["generate_world", "WorldConfig", "WorldServer", "Faults", "export_gt_dataset"]

_LAZY = {
    "generate_world": "movingfashion.world.generate",
    "WorldConfig": "movingfashion.world.config",
    "WorldServer": "movingfashion.world.server",
    "Faults": "movingfashion.world.faults",
    "export_gt_dataset": "movingfashion.world.gt_dataset",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)
