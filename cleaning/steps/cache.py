"""Per-file results of the cleaning steps, keyed by SHA-256, so a rerun decodes nothing new.

Stored as ``<catalog stem>.cleaning-cache.json`` beside the catalog. The file is tagged with the
probe, dedup and split-screen thresholds and the perceptual hash's version: changing one of them
starts a fresh cache. Steps put each result in as it arrives and :meth:`ResultCache.checkpoint`
saves now and then, so a run killed half-way resumes from what it recorded.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from cleaning.config import CleaningConfig
from cleaning.phash import HASH_VERSION
from schemas.atomic import atomic_write_json
from schemas.catalog import Catalog


def cache_path(catalog: Catalog) -> Path:
    return catalog.path.with_name(f"{catalog.path.stem}.cleaning-cache.json")


class ResultCache:
    """``get(sha, what)`` / ``put(sha, what, value)`` of JSON values; ``save()`` writes atomically."""

    def __init__(self, path: Path, cfg: CleaningConfig, *, checkpoint_s: float = 30.0) -> None:
        self.path = path
        self.checkpoint_s = checkpoint_s
        self._saved_at = time.monotonic()
        self._save_cost = 0.0
        self.tag = json.dumps(
            [
                cfg.probe.model_dump(),
                cfg.dedup.model_dump(),
                cfg.splitscreen.model_dump(),
                {"phash": HASH_VERSION},
            ],
            sort_keys=True,
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
            t = time.monotonic()
            atomic_write_json(self.path, {"tag": self.tag, "entries": self.data}, indent=None, sort_keys=True)
            self.dirty = False
            self._saved_at = time.monotonic()
            self._save_cost = self._saved_at - t

    def checkpoint(self) -> None:
        """Save when the last save is ``checkpoint_s`` old (and at least 20 save durations, so a
        large cache is not rewritten all the time)."""
        if self.dirty and time.monotonic() - self._saved_at >= max(self.checkpoint_s, 20 * self._save_cost):
            self.save()
