"""What the demo's steps hand on to each other (:class:`DemoContext`) and what each reports
(a :class:`Section`)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from movingfashion.app.progress import StageProgress
from schemas.cli_support import plain

if TYPE_CHECKING:
    from movingfashion.dataset import MovingFashionDataset
    from movingfashion.world.server import WorldServer
    from movingfashion.world.truth import WorldTruth

#: Products of the world in ``mf demo`` and ``mf demo --quick``.
FULL_PRODUCTS, QUICK_PRODUCTS = 150, 24


class StepSkipped(Exception):
    """A step cannot run because what it needs is missing (an earlier step did not run)."""


@dataclass
class Fixtures:
    """Where the loopback site's sources start (written by ``WorldServer.write_fixtures``)."""

    sitemap: str
    tiktok_info: list[str] = field(default_factory=list)
    tiktok_shops: str | None = None
    instagram: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Fixtures:
        return cls(
            sitemap=str(d.get("sitemap") or f"{d['base_url']}/sitemap.xml"),
            tiktok_info=[str(p) for p in d.get("tiktok_info") or []],
            tiktok_shops=str(d["tiktok_shops"]) if d.get("tiktok_shops") else None,
            instagram=[str(p) for p in d.get("instagram") or []],
        )


@dataclass
class DemoContext:
    """State handed from step to step; a step reads what earlier steps set and sets its own."""

    work: Path
    products: int = FULL_PRODUCTS
    seed: int = 0
    quick: bool = False
    progress: StageProgress = field(default_factory=StageProgress)
    # world
    world: Path | None = None  # synthetic world folder
    truth: WorldTruth | None = None
    server: WorldServer | None = None  # the running loopback server (stopped at the end)
    base_url: str | None = None
    fixtures: Fixtures | None = None
    # collect / clean
    catalog: Path | None = None
    collect_root: Path | None = None
    dataset: Path | None = None  # published dataset folder (official format)
    # tracklets: (flag recall, flag rate) of the tracklet flags against the world (None without)
    tracklet_flags: tuple[float | None, float] | None = None
    # loader / seam
    train_set: MovingFashionDataset | None = None
    seam_results: Path | None = None

    def __post_init__(self) -> None:
        self.work = Path(self.work)


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_short(v)}" for k, v in value.items()) or "-"
    if isinstance(value, list | tuple):
        return json.dumps(plain(value))
    if value is None:
        return "-"
    return str(value)


@dataclass
class Section:
    """A step's figures. Subclasses are dataclasses; ``blocks`` are multi-line texts (tables)
    printed once, after the key/value rows."""

    def as_dict(self) -> dict[str, Any]:
        return plain(self)

    def rows(self) -> list[tuple[str, str]]:
        """Key/value lines of the text report (block fields left out)."""
        blocks = {name for name, _ in self.blocks()}
        out: list[tuple[str, str]] = []
        for f in dataclasses.fields(self):
            if f.name in blocks:
                continue
            value = plain(getattr(self, f.name))
            if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
                out += [(str(k), _short(v)) for k, v in value.items()]  # one row per source / split
            else:
                out.append((f.name, _short(value)))
        return out

    def blocks(self) -> list[tuple[str, str]]:
        """(field name, multi-line text) shown as a block; none by default."""
        return []

    def summary(self) -> str:
        """One line printed when the step ends."""
        return ""

    def incomplete(self) -> str | None:
        """Why some of the step's items did not get done (the demo then exits 1), or None."""
        return None
