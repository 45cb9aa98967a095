"""Per-file results of the cleaning steps, keyed by SHA-256, so a rerun decodes nothing new.

Stored as ``<catalog stem>.cleaning-cache.json`` beside the catalog. The file is tagged with the
probe, dedup and split-screen thresholds and the perceptual hash's version: changing one of them
starts a fresh cache. Steps put each result in as it arrives and :meth:`ResultCache.checkpoint`
saves now and then, so a run killed half-way resumes from what it recorded.

The cache is only an optimisation: a damaged file (not UTF-8, not JSON, not the expected shape)
is dropped with a warning naming it, a damaged entry is dropped alone, and the steps treat a
cached value of the wrong shape as a miss (the work is done again and the entry rewritten).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from cleaning.config import CleaningConfig
from cleaning.phash import HASH_VERSION
from schemas.atomic import atomic_write_json
from schemas.catalog import Catalog

log = logging.getLogger("cleaning.cache")


def cache_path(catalog: Catalog) -> Path:
    return catalog.path.with_name(f"{catalog.path.stem}.cleaning-cache.json")


#: Keys of the records of files (size, mtime, SHA-256 at the last stat), not of results: they
#: stay valid when the thresholds change (the tag), so a new threshold does not rehash everything.
FILE_PREFIX = "file:"


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
            self.data = self._load(path)

    def _load(self, path: Path) -> dict[str, Any]:
        """The entries of a cache file made with this tag (of one made with another, only the
        files' records); {} (with a warning) when it is damaged."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            log.warning("%s: damaged cleaning result cache (%s); starting a fresh one", path, exc)
            return {}
        if not isinstance(raw, dict):
            log.warning("%s: damaged cleaning result cache (not a JSON object); starting a fresh one", path)
            return {}
        entries = raw.get("entries", {})
        if raw.get("tag") != self.tag:  # made with other thresholds: only the files' records hold
            entries = (
                {k: v for k, v in entries.items() if k.startswith(FILE_PREFIX)}
                if isinstance(entries, dict)
                else {}
            )
            self.dirty = bool(entries)
        if not isinstance(entries, dict):
            log.warning(
                "%s: damaged cleaning result cache (entries is not an object); starting a fresh one", path
            )
            return {}
        good = {k: v for k, v in entries.items() if isinstance(v, dict)}
        if len(good) < len(entries):
            log.warning(
                "%s: dropped %d damaged cleaning cache entries (they are computed again)",
                path,
                len(entries) - len(good),
            )
            self.dirty = True
        return good

    def get(self, sha: str | None, what: str) -> Any:
        entry = self.data.get(sha) if sha else None
        return entry.get(what) if isinstance(entry, dict) else None

    def put(self, sha: str | None, what: str, value: Any) -> None:
        if sha:
            entry = self.data.get(sha)
            if not isinstance(entry, dict):
                entry = self.data[sha] = {}
            entry[what] = value
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
