"""Per-file results of the cleaning steps, keyed by SHA-256, so a rerun decodes nothing new.

Stored as ``<catalog stem>.cleaning-cache.json`` beside the catalog. Each kind of result is
tagged with the settings it depends on (:func:`result_kind`): probe results with the probe
settings, fingerprints and pair evidence with the dedup settings, split-screen results with the
split-screen settings, image signatures with the perceptual hash's version and crop, shop picks
with the default pick settings (other settings are in their keys), association scores with
nothing (their keys and values carry their scorer and version). A changed setting drops only the
results of its kind, with one warning naming the file, the kinds and how many results are
computed again: a new probe limit re-probes, it does not fingerprint every video again. A file
of an older toolkit (one tag for everything) is read the same way, kind by kind. Steps put each
result in as it arrives and :meth:`ResultCache.checkpoint` saves now and then, so a run killed
half-way resumes from what it recorded.

The cache is only an optimisation: a damaged file (not UTF-8, not JSON, not the expected shape)
is dropped with a warning naming it, a damaged entry is dropped alone, and the steps treat a
cached value of the wrong shape as a miss (the work is done again and the entry rewritten).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from cleaning.config import CleaningConfig, ShopPickConfig
from cleaning.phash import HASH_VERSION
from schemas.atomic import atomic_write_json
from schemas.catalog import Catalog
from schemas.redact import redacted_logger

log = redacted_logger("cleaning.cache")


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
        #: every setting at once, as older toolkits tag the file (they read a file this one writes)
        self.tag = json.dumps(
            [
                cfg.probe.model_dump(),
                cfg.dedup.model_dump(),
                cfg.splitscreen.model_dump(),
                {"phash": HASH_VERSION},
            ],
            sort_keys=True,
        )
        #: the settings each kind of result depends on (:func:`result_kind`)
        self.tags = _kind_tags(
            cfg.probe.model_dump(), cfg.dedup.model_dump(), cfg.splitscreen.model_dump(), HASH_VERSION
        )
        self.tags["pick"] = _dump(ShopPickConfig().model_dump(mode="json"))
        self.data: dict[str, Any] = {}
        self.dirty = False
        if path.exists():
            self.data = self._load(path)

    def _load(self, path: Path) -> dict[str, Any]:
        """The entries of a cache file made with this tag (of one made with another, only the
        files' records); {} (with a warning) when it is damaged."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            log.warning("%s: damaged cleaning result cache (%s); starting a fresh one", path, exc)
            return {}
        if not isinstance(raw, dict):
            log.warning("%s: damaged cleaning result cache (not a JSON object); starting a fresh one", path)
            return {}
        entries = raw.get("entries", {})
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
        return self._current(path, raw, good)

    def _current(self, path: Path, raw: dict[str, Any], entries: dict[str, dict]) -> dict[str, dict]:
        """``entries`` less the results of every kind made with other settings than this run's
        (the files' records always hold); one warning says which kinds and how many."""
        tags = raw.get("tags")
        if not isinstance(tags, dict):
            tags = _legacy_tags(raw.get("tag"))
        stale = {k for k, t in self.tags.items() if tags.get(k) != t}
        if not stale:
            return entries
        kept: dict[str, dict] = {}
        dropped: dict[str, int] = {}
        for key, entry in entries.items():
            if key.startswith(FILE_PREFIX):
                kept[key] = entry
                continue
            mine = {}
            for what, value in entry.items():
                kind = result_kind(what)
                if kind in stale:
                    dropped[kind] = dropped.get(kind, 0) + 1
                else:
                    mine[what] = value
            if mine:
                kept[key] = mine
        if dropped:
            self.dirty = True
            log.warning(
                "%s: made with other settings or an older toolkit for %s: %d cached results are computed again",
                path,
                ", ".join(f"{k} ({n})" for k, n in sorted(dropped.items())),
                sum(dropped.values()),
            )
        elif raw.get("tags") != self.tags:
            self.dirty = True  # written again with this run's tags
        return kept

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
            atomic_write_json(
                self.path,
                {"tag": self.tag, "tags": self.tags, "entries": self.data},
                indent=None,
                sort_keys=True,
            )
            self.dirty = False
            self._saved_at = time.monotonic()
            self._save_cost = self._saved_at - t

    def checkpoint(self) -> None:
        """Save when the last save is ``checkpoint_s`` old (and at least 20 save durations, so a
        large cache is not rewritten all the time)."""
        if self.dirty and time.monotonic() - self._saved_at >= max(self.checkpoint_s, 20 * self._save_cost):
            self.save()


def result_kind(what: str) -> str:
    """The kind of a cached result, by its name: what its settings tag is (:class:`ResultCache`)."""
    if what == "probe":
        return "probe"
    if what in ("stat", "stream"):  # a file's record; a video stream's digest, its bytes' alone
        return "file"
    if what == "fingerprint" or what.startswith("pair:"):
        return "dedup"
    if what in ("splitscreen", "recovered_shop"):
        return "splitscreen"
    if what in ("phash", "colour", "object"):
        return "phash"
    if what.startswith("pick2:"):
        return "pick"
    if what.startswith("assoc:"):
        return "assoc"
    return "other"


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _kind_tags(probe: Any, dedup: Any, splitscreen: Any, phash: Any) -> dict[str, str]:
    crop = dedup.get("crop_fraction") if isinstance(dedup, dict) else None
    return {
        "probe": _dump(probe),
        "dedup": _dump(dedup),
        "splitscreen": _dump(splitscreen),
        "phash": _dump({"phash": phash, "crop_fraction": crop}),
        "assoc": "keyed",  # the scorer's tag is in the key, the comparison's version in the value
        "other": _dump([probe, dedup, splitscreen, phash]),
    }


def _legacy_tags(tag: Any) -> dict[str, str]:
    """The kinds' tags of a file an older toolkit wrote with one tag for everything (a JSON list:
    probe, dedup and split-screen settings, the hash version); {} when it is not one. Its shop
    picks hold under no tag: the default pick settings were not recorded."""
    try:
        probe, dedup, splitscreen, phash = json.loads(tag)
        return _kind_tags(probe, dedup, splitscreen, phash["phash"])
    except (TypeError, ValueError, KeyError):
        return {}
