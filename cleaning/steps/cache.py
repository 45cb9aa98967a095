"""Per-file results of the cleaning steps, keyed by SHA-256, so a rerun decodes nothing new.

Stored as ``<catalog stem>.cleaning-cache.json`` beside the catalog. The file is tagged with the
probe, dedup and split-screen thresholds: changing one of them starts a fresh cache.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cleaning.config import CleaningConfig
from schemas.atomic import atomic_write_json
from schemas.catalog import Catalog


def cache_path(catalog: Catalog) -> Path:
    return catalog.path.with_name(f"{catalog.path.stem}.cleaning-cache.json")


class ResultCache:
    """``get(sha, what)`` / ``put(sha, what, value)`` of JSON values; ``save()`` writes atomically."""

    def __init__(self, path: Path, cfg: CleaningConfig) -> None:
        self.path = path
        self.tag = json.dumps(
            [cfg.probe.model_dump(), cfg.dedup.model_dump(), cfg.splitscreen.model_dump()], sort_keys=True
        )
        self.data: dict[str, Any] = {}
        self.dirty = False
        if path.exists():
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
                if raw.get("tag") == self.tag:
                    self.data = raw.get("entries", {})
            except (json.JSONDecodeError, AttributeError):
                self.data = {}

    def get(self, sha: str | None, what: str) -> Any:
        return self.data.get(sha, {}).get(what) if sha else None

    def put(self, sha: str | None, what: str, value: Any) -> None:
        if sha:
            self.data.setdefault(sha, {})[what] = value
            self.dirty = True

    def save(self) -> None:
        if self.dirty:
            atomic_write_json(self.path, {"tag": self.tag, "entries": self.data}, indent=None, sort_keys=True)
