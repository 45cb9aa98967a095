"""Where a feature bank is cached, and whether the cached one still matches its dataset.

A bank file is named by its content key (:func:`bank_key`: the settings and every input's
stamp, :func:`bank_inputs`), so a rerun on an unchanged dataset loads it. Its summary beside it
(``<split>-<key>.json``) also records its *slot* (:func:`bank_slot`: the dataset folder, split
and settings, without the inputs) and the inputs' stamps. When the dataset changes under the
same slot (``mf world export-gt`` rewrote it, a tracklet file was rebuilt, a video re-encoded)
the new key misses; the bank of the same slot left in the cache is then stale: one line says
which inputs changed (:func:`stale_banks`, :func:`input_changes`), the bank is built again and
the stale files are removed once the new one is saved (:func:`remove_stale`), instead of
staying in ``features/`` for ever; so are the training trunk caches made from it
(``trunk-<bank key>-<weights>.pt``, :func:`trunk_cache_name`). A bank of the same slot cached by
an older toolkit (a lower :data:`BANK_VERSION`, recorded in the summary since version 8) is
stale the same way. Banks cached before version 8 record no slot: which dataset they were built
from is unknown, so they are never removed, only named with the command that removes them
(:func:`unowned_files`): this toolkit never loads them.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shlex
from dataclasses import dataclass
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


def _media_keys(root: Path, split_path: Path) -> list[tuple[str, str]]:
    """``(rel, "<size>:<mtime_ns>")`` of every video and shop image ``split_path`` lists (``"-"``
    when missing or outside ``root``), sorted by ``rel``."""
    try:
        products = split_listing(split_path).products  # a bad product is the dataset's to name
    except (MFError, OSError):
        return []  # the dataset names the unreadable split
    rels = {rel for _, videos, img in products for rel in (*videos, img)}
    keys = []
    for rel in sorted(rels):
        try:
            _, size, mtime_ns = file_key(resolve_under(root, rel))
            keys.append((rel, f"{size}:{mtime_ns}"))
        except (MFError, OSError):
            keys.append((rel, "-"))
    return keys


def media_stamps(root: Path, split_path: Path) -> list[str]:
    """``<rel>:<size>:<mtime_ns>`` of every video and shop image ``split_path`` lists (``<rel>:-``
    when missing or outside ``root``), sorted: a republished or re-encoded file under the same
    name changes a bank's key without reading its bytes (the file key the decoders remember
    files by, :func:`movingfashion.media.readers.file_key`)."""
    return [f"{rel}:{value}" for rel, value in _media_keys(root, split_path)]


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
    inputs.update(_media_keys(root, split_path))  # (rel, stamp): a rel may hold ':' itself
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


#: the bank version whose summaries hold a slot made with the version in it (:func:`bank_slot`)
SLOT_WITH_VERSION = 8


def bank_slot(root: Path, split: str, encoder_tag: str, pool: int, crop_size: int, cache_dir: Path) -> str:
    """The bank's place in a cache: the dataset folder (as seen from ``cache_dir``, so a project
    moved or copied whole keeps its slots, and its summaries their bytes), split and settings;
    not the inputs nor the toolkit's :data:`BANK_VERSION` (the banks of one slot are the same
    bank at different states of the dataset, or cached by different toolkits)."""
    where = os.path.relpath(Path(root).resolve(), Path(cache_dir).resolve())
    text = f"{where}|{split}|{encoder_tag}|{pool}|{crop_size}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _slots(root: Path, split: str, encoder_tag: str, pool: int, crop_size: int, cache_dir: Path) -> set[str]:
    """:func:`bank_slot` and the slot a version-8 summary records for the same bank."""
    text = f"v{SLOT_WITH_VERSION}|{Path(root).resolve()}|{split}|{encoder_tag}|{pool}|{crop_size}"
    return {
        bank_slot(root, split, encoder_tag, pool, crop_size, cache_dir),
        hashlib.sha256(text.encode()).hexdigest()[:16],
    }


@dataclass(frozen=True)
class StaleBank:
    """A cached bank of the slot being built, left by another state of the dataset or an older
    toolkit: its ``.pt`` path, the inputs its summary records, the :data:`BANK_VERSION` it was
    cached by."""

    path: Path
    inputs: dict[str, str]
    version: int

    def why(self, inputs: dict[str, str]) -> str:
        """Why it is not the bank built from ``inputs``, in words."""
        if self.version < BANK_VERSION:
            return f"cached by an older toolkit (bank version {self.version}, now {BANK_VERSION})"
        return input_changes(self.inputs, inputs)


def stale_banks(
    cache_dir: Path, split: str, key: str, root: Path, encoder_tag: str, pool: int, crop_size: int
) -> list[StaleBank]:
    """The cached banks of the slot of ``(root, split, encoder_tag, pool, crop_size)`` other than
    ``key``; summaries that do not read or record no slot (:func:`unowned_files`) are left alone."""
    slots = _slots(root, split, encoder_tag, pool, crop_size, cache_dir)
    out = []
    for summary in sorted(Path(cache_dir).glob(f"{split}-*.json")):
        if summary.stem == f"{split}-{key}":
            continue
        try:
            record = json.loads(summary.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if (
            isinstance(record, dict)
            and record.get("slot") in slots
            and isinstance(record.get("inputs"), dict)
        ):
            version = record.get("version", SLOT_WITH_VERSION)
            version = version if isinstance(version, int) else SLOT_WITH_VERSION
            out.append(StaleBank(summary.with_suffix(".pt"), record["inputs"], version))
    return out


def unowned_files(cache_dir: Path, split: str) -> list[Path]:
    """Bank files of ``split`` in ``cache_dir`` cached before :data:`BANK_VERSION` 8 (a summary
    that records no slot, and its ``.pt``), and training trunk caches of those toolkits
    (``trunk-<16 hex>.pt``, no bank key in the name): this toolkit never loads them, and which
    dataset they came from is unknown, so they are named, never removed."""
    out = []
    for summary in sorted(Path(cache_dir).glob(f"{split}-*.json")):
        try:
            record = json.loads(summary.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and "slot" not in record:
            out += [p for p in (summary.with_suffix(".pt"), summary) if p.is_file()]
    out += [p for p in sorted(Path(cache_dir).glob("trunk-*.pt")) if _OLD_TRUNK.fullmatch(p.name)]
    return out


def unowned_line(files: list[Path]) -> str:
    """One line naming :func:`unowned_files` and how to remove them."""
    size = sum(p.stat().st_size for p in files if p.is_file())
    shown = " ".join(shlex.quote(str(p)) for p in files[:4]) + (" ..." if len(files) > 4 else "")
    return (
        f"{len(files)} cache files ({size / 1e6:.1f} MB) in {files[0].parent} were written by an older "
        "toolkit: they record no dataset, so they are not removed, and this toolkit never loads them "
        f"(remove them if no older toolkit shares this folder: rm {shown})"
    )


#: a training trunk cache named before the bank key was part of the name
_OLD_TRUNK = re.compile(r"trunk-[0-9a-f]{16}\.pt")


def trunk_cache_name(bank_key: str, weights: str) -> str:
    """File name of the training trunk cache made from the bank ``bank_key`` with conv-stack
    weights hashed to ``weights``: the bank key leads, so :func:`remove_stale` finds it."""
    return f"trunk-{bank_key}-{weights}.pt"


def input_changes(old: dict[str, str], new: dict[str, str], shown: int = 3) -> str:
    """What differs between two :func:`bank_inputs`, in words: how many files changed, were added
    or removed, and the first ``shown`` of them."""
    changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    first = ", ".join(changed[:shown]) + (", ..." if len(changed) > shown else "")
    return f"{len(changed)} of the files it was built from changed, appeared or went since ({first})"


def remove_stale(stale: list[StaleBank]) -> None:
    """Remove the stale banks' files and the trunk caches made from them (the new bank of their
    slot is saved)."""
    for bank in stale:
        key = bank.path.stem.rsplit("-", 1)[1]
        for trunk in bank.path.parent.glob(f"trunk-{glob.escape(key)}-*.pt"):
            trunk.unlink(missing_ok=True)
        bank.path.unlink(missing_ok=True)
        bank.path.with_suffix(".json").unlink(missing_ok=True)


@dataclass(frozen=True)
class BankUse:
    """What :func:`movingfashion.seam.features.build_bank` did with its cache: ``reused`` the
    cached bank ``path`` (its key matches the settings and every input's stamp) or ``built`` it
    (saved to ``path``; None without a cache), ``videos`` queries and ``gallery`` shop images,
    ``inputs`` files stamped in its key, ``why`` in words."""

    action: str
    path: Path | None
    videos: int
    gallery: int
    inputs: int
    why: str

    def record(self) -> dict[str, object]:
        """The JSON record (``test_bank`` of ``mf evaluate``'s results)."""
        return {
            "action": self.action,
            "path": None if self.path is None else str(self.path),
            "videos": self.videos,
            "gallery": self.gallery,
            "inputs": self.inputs,
            "why": self.why,
        }


def why_reused(inputs: int) -> str:
    """Why a cached bank still holds: its key is the one of these settings and inputs."""
    return (
        f"still valid: its key matches this frozen encoder, these settings and the {inputs} files it "
        "was built from (split files, entries.jsonl and tracklets by SHA-256, videos and shop images "
        "by size and modification time)"
    )


def why_built(cached: str | None, stale: list[StaleBank], inputs: dict[str, str]) -> str:
    """Why a bank was built: ``cached`` says what was wrong with a cached file of the same key
    (None: there was none), else the first stale bank of the slot says what changed, else no bank
    of this dataset, split, encoder and settings was cached."""
    if cached is not None:
        return cached
    if stale:
        return f"the cached {stale[0].path.name} is stale: {stale[0].why(inputs)}"
    return (
        "no cached bank of this dataset folder, split, frozen encoder and settings "
        "(a first run, another --cache, or a checkpoint on another encoder)"
    )
