"""Where a feature bank is cached, and whether the cached one still matches its dataset.

A bank file is named by its content key (:func:`bank_key`: the settings and every input's
stamp, :func:`bank_inputs`), so a rerun on an unchanged dataset loads it. Its summary beside it
(``<split>-<key>.json``) also records its *slot* (:func:`bank_slot`: the dataset folder, split
and settings, without the inputs) and the inputs' stamps. When the dataset changes under the
same slot (``mf world export-gt`` rewrote it, a tracklet file was rebuilt, a video re-encoded)
the new key misses; the bank of the same slot left in the cache is then stale: one line says
which inputs changed (:func:`stale_banks`, :func:`input_changes`), the bank is built again and
the stale files are removed once the new one is saved (:func:`remove_stale`), instead of
staying in ``features/`` for ever.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from movingfashion.media.readers import file_key
from schemas.atomic import sha256_file
from schemas.errors import MFError
from schemas.official import split_json, split_listing
from schemas.paths import resolve_under

#: part of every bank's cache key: bump it whenever what a bank holds for the same inputs changes
#: (4: a shared video's query comes from its product's ``<video>@<product>.json``; 5: a test bank
#: keeps each evaluated T's own RRS and salient frames, :attr:`FeatureBank.slots`; banks an older
#: toolkit cached are rebuilt, never reused; 6: it also keeps the query tracklet's most confident
#: detection, ``slots["maxconf"]``; 7: a video's tracklet file is the one the dataset reads for
#: its product, never a ``<video>@<product>.json`` left from when the video was shared; 8: its
#: summary records its slot and inputs, so a bank the dataset changed under is replaced)
BANK_VERSION = 8


def media_stamps(root: Path, split_path: Path) -> list[str]:
    """``<rel>:<size>:<mtime_ns>`` of every video and shop image ``split_path`` lists (``<rel>:-``
    when missing or outside ``root``), sorted: a republished or re-encoded file under the same
    name changes a bank's key without reading its bytes (the file key the decoders remember
    files by, :func:`movingfashion.media.readers.file_key`)."""
    try:
        products = split_listing(split_path).products  # a bad product is the dataset's to name
    except (MFError, OSError):
        return []  # the dataset names the unreadable split
    rels = {rel for _, videos, img in products for rel in (*videos, img)}
    stamps = []
    for rel in sorted(rels):
        try:
            _, size, mtime_ns = file_key(resolve_under(root, rel))
            stamps.append(f"{rel}:{size}:{mtime_ns}")
        except (MFError, OSError):
            stamps.append(f"{rel}:-")
    return stamps


def bank_inputs(root: Path, split: str) -> dict[str, str]:
    """What a bank of ``split`` is built from, name (relative to ``root``) -> stamp: the split
    file, the other split files (they decide which videos are shared, so which tracklet file is a
    product's: :func:`movingfashion.richer_files.other_split_files`), ``entries.jsonl`` and every
    tracklet file (SHA-256), and every video and shop image the split lists (size and
    modification time, :func:`media_stamps`)."""
    from movingfashion.richer_files import other_split_files

    split_path = split_json(root, split)
    files = [split_path, *other_split_files(root, split_path), root / "entries.jsonl"]
    inputs: dict[str, str] = {}
    for p in [*files, *sorted((root / "tracklets").glob("*.json"))]:
        if p.is_file():
            inputs[p.relative_to(root).as_posix() if p.is_relative_to(root) else p.name] = sha256_file(p)
    for stamp in media_stamps(root, split_path):
        rel, _, value = stamp.partition(":")
        inputs[rel] = value
    return inputs


def bank_key(
    root: Path, split: str, encoder_tag: str, pool: int, crop_size: int, inputs: dict[str, str] | None = None
) -> str:
    """Content key of a bank: its settings (split, encoder, pool, crop size) and every input's
    stamp (:func:`bank_inputs`, read here unless given)."""
    inputs = bank_inputs(root, split) if inputs is None else inputs
    h = hashlib.sha256(f"v{BANK_VERSION}|{split}|{encoder_tag}|{pool}|{crop_size}".encode())
    for name, stamp in sorted(inputs.items()):
        h.update(f"{name}\0{stamp}\n".encode())
    return h.hexdigest()[:16]


def bank_slot(root: Path, split: str, encoder_tag: str, pool: int, crop_size: int) -> str:
    """The bank's place in a cache: the dataset folder, split and settings, not the inputs (the
    banks of one slot are the same bank at different states of the dataset)."""
    text = f"v{BANK_VERSION}|{Path(root).resolve()}|{split}|{encoder_tag}|{pool}|{crop_size}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def stale_banks(cache_dir: Path, split: str, slot: str, key: str) -> list[tuple[Path, dict[str, str]]]:
    """The cached banks of ``slot`` other than ``key`` (built from another state of the dataset),
    each as (its ``.pt`` path, the inputs its summary records); summaries that do not read or
    record no slot (banks of an older toolkit) are left alone."""
    out = []
    for summary in sorted(Path(cache_dir).glob(f"{split}-*.json")):
        if summary.stem == f"{split}-{key}":
            continue
        try:
            record = json.loads(summary.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("slot") == slot and isinstance(record.get("inputs"), dict):
            out.append((summary.with_suffix(".pt"), record["inputs"]))
    return out


def input_changes(old: dict[str, str], new: dict[str, str], shown: int = 3) -> str:
    """What differs between two :func:`bank_inputs`, in words: how many files changed, were added
    or removed, and the first ``shown`` of them."""
    changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    first = ", ".join(changed[:shown]) + (", ..." if len(changed) > shown else "")
    return f"{len(changed)} of the files it was built from changed, appeared or went since ({first})"


def remove_stale(stale: list[tuple[Path, dict[str, str]]]) -> None:
    """Remove the stale banks' files (the new bank of their slot is saved)."""
    for pt, _ in stale:
        pt.unlink(missing_ok=True)
        pt.with_suffix(".json").unlink(missing_ok=True)
