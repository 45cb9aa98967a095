"""`mf publish`: write the dataset folder in the real MovingFashion archive's layout, and prove it.

Layout (docs/contracts.md "Published dataset")::

    train.json, test.json       official format: source 0 = Hard, 1 = Regular; tracklets {} per video
    videos/<pid>_<n>.mp4        split-screen videos re-encoded (H.264), cropped to the moving half
    imgs/<pid>.jpg | .png       the shop image: JPEG for Regular, PNG for Hard (re-encoded when the
                                collected file is in the other format)
    front/, rear/, fabric/      <pid>.jpg where collected (non-JPEG sources re-encoded)
    entries.jsonl               one DatasetEntry per product, sorted by product id
    plots/*.png                 class histogram, frames per video
    pairs/, boxes/, datasheet.md, README.md (card), croissant.json, manifest.json
                                written by :func:`movingfashion.archive.describe.describe`

**Products.** Only accepted items are published (no duplicates, no rejected or needs_review
items: the result's ``held_back`` lists those two with their reasons, so a maintainer sees what
waits for review; rerun ``mf publish`` after ``mf-tracklets build --catalog`` and ``mf review``
to refresh the splits). Accepted items whose shop images are one picture (the same SHA-256, or found duplicate by
the ``shop_images`` cleaning step, directly or through other items' shop images) and that share
partition and class are *one product with several videos*, the way the archive holds the same
shop item seen in several posts. Two items of one source on different product pages that share
one shop image file but record different colours are not merged: publish first sets both
``needs_review`` with a ``merge:`` reason naming the others (:func:`hold_shop_conflicts`), so
they are held back like any item in review, and releases an item (with the reason it had before)
once its conflict is gone; these holds are written only once every check of the publish has
passed (a refused publish holds nothing: its plan is made before them, and when the plan made
again with them refuses after all, or fails on a local fault, they are undone, the items'
``updated_at`` too, :func:`undo_shop_holds`). A reviewer's accept lets an item through only when it was made under
that very conflict: the decision records the item's state when it was made (``prev``), and the
hold it shows must be one of this conflict: the hold's record keeps the conflict's key, every item
the item shares its shop image with (:data:`MERGE_HOLDS`), and the items of the conflict now must
all be among them, whatever product ids or colours the reason names now
(:func:`schemas.review.merge_holds_accepted`, :func:`shop_holds`). An accept from before the
conflict appeared, or under an earlier conflict that lacked an item of it, did not see it and does
not silence it (an item still held when another joins its conflict gets the hold naming it, so one
accept of the conflict as it stands suffices); any other
review action on a held item keeps the hold (:mod:`schemas.review`), so a publish with nothing
changed changes nothing in the catalog. A product's id, shop image and views are those of its naming member: the
member an earlier publish into the same folder published (an item joining the product later, a
re-listing whose key sorts first, never renames it), else the member with the smallest item key
(:func:`product_groups`; the whole group shares one split, see :mod:`cleaning.splits`); its videos
come member by member, the naming member's first, then by item key, each member's by path. A
member whose own product id is not the product's (a re-listing, or a held-back item accepted in
``mf review`` under its own id and joining a product with its shop image) is published under the
product's id, and said so: the result's ``merged`` lists each such item with its own id and the
id it is published as, and the entry's ``metadata.merged_product_ids`` gives the members' own ids
beside ``merged_items`` (:func:`merged_members`). A
**test** product keeps one video: the one it was published with while it still has it, else
:func:`schemas.official.pick_test_video` (the longest, then the largest frame, then the first by
item and path); its other videos are published in neither split.

None of the items a reviewer rejected in ``mf review`` is published
(``schemas.review.apply_review``, which also applies class changes made there), and a carousel
candidate chosen there replaces cleaning's pick as the product's shop image
(``schemas.review.with_review_shop``).
Determinism: everything is sorted, JSON is written with fixed formatting, plots carry no
date/software metadata and crops are encoded single-threaded with bit-exact flags, so a rerun
on unchanged input gives byte-identical files, and writes none of them again (each file is
written only when its bytes change; ``--archive`` keeps the zip that holds the folder as just
verified, :func:`movingfashion.archive.pack.packed_already`). Unchanged media is not copied again
(``.publish-state.json`` remembers source SHA-256 and size -> output SHA-256 and size; a rerun
hashes only files newer than that state file, see :class:`_Publisher`). Media an earlier
publish wrote that no longer belong are removed (the older layout's ``shop/`` too), and only
those: an output folder whose media folders hold files publish did not write, or are links,
is refused (``.publish-journal`` lists what a running publish writes, so a rerun after a
killed one knows its files, and keeps each file it finished whose collected file and bytes
still hash to its record: a killed first publish is not made again in full). A collected file whose size or SHA-256 differs from the
catalog's is not published: its product fails (``failed``) until the file is repaired.
Tracklets already written by ``mf-tracklets`` stay with each video still made from the same
collected file and recipe (:func:`_kept_tracklets`); the tracklet files of a video publish
removes (a product taken down) or now makes from another file are deleted, with their build
records and contact sheets (:func:`_remove_stale_tracklets`). The videos of a product publish
*holds back for review* (``needs_review``, or accepted and not published: :func:`held_videos`)
keep theirs, under their publish names, while they are made from the same collected file and
recipe: the review page shows their boxes, and once the product is accepted the next publish
puts its tracklets in the split files (:func:`_held_tracklets`), so the builder keeps the
reviewer's accept instead of building and flagging the video again. Those videos are recorded
in the hidden ``.publish-held.json`` (:data:`movingfashion.archive.verify.HELD_TRACKLETS`) (a
file an older toolkit kept without that record, about a video held back now and its product, is
adopted: recorded as made from the catalog's collected file and recipe), and
their files are not part of the published dataset: no manifest, Croissant list or archive holds
them, and ``mf verify`` passes over them. The split files are written under the
dataset's lock (``.lock``, held by every read-modify-write of them: ``mf-tracklets build`` and
``import``, review picks) and read again under it, so tracklets written while publish placed the
media are kept; the lock is held until the folder is described. Under it, publish also removes
every tracklet file about a video no split file lists and none held back (a build running
meanwhile may write one again for a video publish removed), with its build record and sheet, and
the media no product has any more, once the split files no longer list them (a loader or a build
starting meanwhile never meets a listed file that is gone).
A whole publish holds ``.publish.lock`` (:func:`publish_lock`): a second publish into the folder
stops at once naming the first (its pid, command and start), or waits for it (``--wait``).
Publishes of one catalog into two folders run at once (both hold the catalog's cleaning lock
shared): their merge holds go through the catalog's write lock, each item by compare-and-set and
the record of its hold in the same transaction (written only with the hold it is of), so neither
writes over nor undoes what the other decided, and every held item's record is of the hold it
shows (:func:`hold_shop_conflicts`, :func:`undo_shop_holds`).

An output folder holding anything at its top level but :data:`DATASET_NAMES` (hidden entries
aside) is refused before anything is written: the manifest, Croissant and archive list every file
of the folder, so a catalog, a collection or a session file there would be published. The one
exception is the review log an older ``mf-tracklets review --accept`` wrote there,
``review.jsonl``: publish moves it to the hidden ``.review.jsonl``, where it is written now.

A catalog whose collected items ``mf clean`` has not seen (``downloaded``) is refused when no
item is accepted ("N collected items are not cleaned yet: run mf clean", nothing written), and
counted in the result's ``not_cleaned`` otherwise (:func:`check_cleaned`).

The manifest hashes only what changed since the last one (the media this run wrote, the files
newer than it, the top-level files and tables: :func:`_changed`, ``describe(changed=...)``) and
keeps the recorded SHA-256 of the rest. Last, :func:`movingfashion.archive.verify.verify_dataset`
audits the folder, taking the manifest's SHA-256 of each file no newer than it (just described;
``mf verify`` hashes every file): the result's ``verify`` says whether every archive invariant
holds (``mf publish`` exits 1 when one breaks), and only then does ``archive=True`` zip the folder
(:mod:`movingfashion.archive.pack`). Both run outside the dataset's lock, so review picks are not
kept waiting; a pick (build, import) landing meanwhile could make the verify break on a file it
rewrote, or the zip mix the folder before and after it (which would not verify): when the verify
breaks or a zipped file is not what the zipped manifest lists, both are done once more under the
lock (:func:`_verify_and_pack`), so the report and the zip are of one state of the folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import stat
import time
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from cleaning.clean_lock import cleaned
from cleaning.mih import UnionFind
from cleaning.splits import (
    describe_rule,
    rebuild_splits,
    recorded_rule,
    split_rule,
    test_seats_short,
    warn_short,
)
from cleaning.steps.state import MERGE_PREFIX, REASON_PREFIXES, item_key
from movingfashion.archive.at_rest import DATASET_LOCK, PUBLISH_LOCK, PUBLISH_MARK
from movingfashion.archive.describe import (
    CARD,
    CROISSANT,
    DATASHEET,
    describe,
    read_manifest,
    recorded_info,
    source_date_epoch,
)
from movingfashion.archive.tables import BOXES_DIR, PAIRS_DIR
from movingfashion.archive.verify import (
    ENTRIES,
    HELD_TRACKLETS,
    MANIFEST,
    TRACKLET_BUILD_DIR,
    TRACKLET_FILES,
    TRACKLET_SHEET_DIR,
    VerifyReport,
    read_held_videos,
    verify_dataset,
)
from movingfashion.media.ffmpeg import transcode
from movingfashion.media.images import encode_image, image_file_format, read_image
from schemas.atomic import (
    atomic_copy,
    atomic_write_bytes,
    file_lock,
    json_bytes,
    sha256_file,
    sweep_partials,
    write_if_changed,
)
from schemas.catalog import Catalog, ItemRow, change_meta
from schemas.dataset import DatasetEntry, DatasetInfo, Split, VideoTracklets
from schemas.errors import CatalogError, ConfigError, DataFormatError, MediaError, MFError
from schemas.faults import local_faults, require_free_space, reraise_local_fault
from schemas.items import GONE_PREFIX, SPLITSCREEN_URL, AssetKind, MediaAsset, Status, VideoProbe
from schemas.naming import check_safe_name
from schemas.official import (
    LEGACY_SHOP_DIR,
    SHOP_DIR,
    VIDEO_DIR,
    OfficialEntry,
    OfficialSplit,
    VideoChoice,
    dump_official,
    pick_test_video,
    read_official,
    shop_relpath,
    video_relpath,
)
from schemas.paths import PathEscapeError, apart, check_collection_root, inside, plain_folder, resolve_under
from schemas.redact import redacted_logger
from schemas.review import (
    LEGACY_REVIEW_LOG,
    apply_review,
    held_for_review,
    merge_holds_accepted,
    move_legacy_review_log,
    review_shops,
    with_review_shop,
)
from schemas.taxonomy import DF2_CLASSES, PARTITION_SOURCE_CODE, Partition
from schemas.text_input import read_json_record
from schemas.tracklet_names import (
    is_tracklet_stem,
    shared_videos,
    split_stem,
    stem_heads,
    tracklet_stem,
    video_stem,
)

log = redacted_logger(__name__)

VIEW_KINDS = (AssetKind.FRONT, AssetKind.REAR, AssetKind.FABRIC)
#: Folders of published media; a file in them that an earlier publish wrote and that no longer
#: belongs is removed on republish (never a file publish did not write: it refuses those).
MEDIA_DIRS = (VIDEO_DIR, SHOP_DIR, *(str(k) for k in VIEW_KINDS), LEGACY_SHOP_DIR)
#: every folder publish writes or removes files in (a link there would take them outside --out)
WRITTEN_DIRS = (
    *MEDIA_DIRS,
    BOXES_DIR,
    PAIRS_DIR,
    "plots",
    TRACKLET_FILES,
    f"{TRACKLET_FILES}/{TRACKLET_SHEET_DIR}",
    f"{TRACKLET_FILES}/{TRACKLET_BUILD_DIR}",
)
#: What a published dataset folder holds at its top level (publish, describe, mf-tracklets);
#: publish refuses an output folder holding anything else (hidden entries aside).
DATASET_NAMES = frozenset(
    {
        "train.json",
        "test.json",
        ENTRIES,
        MANIFEST,
        CROISSANT,
        CARD,
        DATASHEET,
        "plots",
        PAIRS_DIR,
        BOXES_DIR,
        TRACKLET_FILES,
        *MEDIA_DIRS,
    }
)
STATE_FILE = ".publish-state.json"
#: the plots publish writes under ``plots/``
PLOTS = ("class_histogram.png", "frames_per_video.png")
# DATASET_LOCK (the dataset's write lock, held by every read-modify-write of its split files;
# ``annotations.tracklet_files.dataset_lock`` takes the same file) and PUBLISH_LOCK (held by a
# whole publish, :func:`publish_lock`) come from :mod:`movingfashion.archive.at_rest`, where
# ``mf verify`` looks at them too.
#: who takes the dataset's lock, as a wait for it says
DATASET_WRITERS = "another mf publish / mf-tracklets build / mf review writes this dataset"
#: Media files a running publish is about to write, one per line, and once one is written, its
#: record as a JSON line (``{"rel": ..., "src": ..., "recipe": ..., "out": ...}``); removed once
#: the state file records them. A rerun after a killed publish knows those files are its own, and
#: keeps each one it finished that still holds what its record says (:meth:`_Publisher.place`).
JOURNAL_FILE = ".publish-journal"
REPAIR_HINT = "restore the collected file (rerun mf-collect for the item, then mf clean) and publish again"


def _media_rel(rel: object) -> bool:
    """Whether ``rel`` names a file publish writes: ``<media folder>/<safe file name>``."""
    if not isinstance(rel, str) or rel.count("/") != 1:
        return False
    folder, name = rel.split("/")
    try:
        check_safe_name(name, what="file name")
    except ValueError:
        return False
    return folder in MEDIA_DIRS


#: what to do about a state file that cannot be trusted (:func:`_read_state`)
STATE_HINT = (
    "nothing was changed; rerun with --rebuild-state to rebuild it: every media file is made again "
    "from its collected file, the tracklet files stay"
)


def _read_state(path: Path) -> dict[str, Any]:
    """The previous publish's state (published file -> how it was made); DataFormatError when it
    cannot be trusted, since it decides which files publish may replace or remove (the hint
    names ``--rebuild-state``: :func:`_rebuilt_ownership`)."""
    if not path.exists():
        return {}
    hint = STATE_HINT
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataFormatError(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", where=str(path), hint=hint
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"cannot read: {exc}", where=str(path), hint=hint) from None
    if not isinstance(data, dict):
        raise DataFormatError("not an object of published file -> record", where=str(path), hint=hint)
    for rel, rec in data.items():
        if not _media_rel(rel) or not _state_record(rec):
            raise DataFormatError(
                f"entry {rel!r} is not a published media file with src, recipe and out",
                where=str(path),
                hint=hint,
            )
    return data


def _rebuilt_ownership(out: Path) -> set[str]:
    """The media files an earlier publish wrote, as the folder shows them without a state file
    (``--rebuild-state``): those its ``manifest.json`` lists (publish lists every file of the
    folder there once it refused foreign ones). A media file it does not list stays foreign."""
    doc = read_manifest(out)
    files = doc.get("files") if doc is not None else None
    return {rel for rel in files if _media_rel(rel)} if isinstance(files, dict) else set()


def _read_journal(path: Path) -> tuple[set[str], dict[str, dict[str, Any]]]:
    """Media files a publish that was stopped had started to write, and the records of those it
    finished (its last for each; complete lines only: a torn or unreadable record is skipped, and
    its file made again)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return set(), {}
    except OSError as exc:
        raise DataFormatError(f"cannot read: {exc}", where=str(path)) from None
    lines = text.split("\n")[:-1]  # a torn last line (no newline) names nothing
    done: dict[str, dict[str, Any]] = {}
    for line in lines:
        if not line.startswith("{"):
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and _media_rel(rel := rec.pop("rel", None)) and _state_record(rec):
            done[str(rel)] = rec
    return {line for line in lines if _media_rel(line)} | set(done), done


def _state_record(rec: object) -> bool:
    """Whether ``rec`` is a record of the state file: ``src``, ``recipe`` and ``out`` strings."""
    return isinstance(rec, dict) and all(isinstance(rec.get(k), str) for k in ("src", "recipe", "out"))


#: How long before its start a publish dates what it wrote (and its state file), so that a file
#: changed while it ran is newer than the state file even on a coarse file-system clock.
STAMP_MARGIN_NS = 2_000_000_000
#: Free space a re-encode needs before it starts, as a multiple of its source's size plus a margin:
#: the output is about its source's size, and ``+faststart`` rewrites the finished file once more.
#: A disk short of that fails the publish at once (``disk_full``), not after minutes of encoding.
REENCODE_SPACE_FACTOR = 2
REENCODE_SPACE_MARGIN = 2**20


class _Publisher:
    """Places media files and keeps the state file's records.

    Reruns stay cheap without putting times into the state file (it is byte-identical across
    reruns and folders): every file a run writes, and the state file at the end, are dated
    ``stamp`` (just before the run began). A file no newer than the state file and of the
    recorded size is taken to hold what was recorded; any other is hashed again.

    A run that is killed leaves the journal (:data:`JOURNAL_FILE`): the files it meant to write
    and the record of each it finished. The rerun keeps such a file when its collected file and
    the file itself still hash to the record (never trusted by date), so a killed first publish
    is not made again in full (:attr:`resumed`).
    """

    def __init__(self, root: Path, out: Path, *, rebuild_state: bool = False) -> None:
        """Reads (and validates) the previous publish's records; writes nothing. With
        ``rebuild_state`` the state file is not read (it may be damaged): no file is trusted, so
        every media file is made again, and the ones the folder's manifest lists are publish's
        own (:func:`_rebuilt_ownership`); the state file is written anew at the end."""
        self.root, self.out = root, out
        self.state_path = out / STATE_FILE
        self.journal_path = out / JOURNAL_FILE
        self.rebuild_state = rebuild_state
        self.state = {} if rebuild_state else _read_state(self.state_path)
        self.trusted_until = self.state_path.stat().st_mtime_ns if self.state else None
        self.stamp = time.time_ns() - STAMP_MARGIN_NS
        journaled, done = _read_journal(self.journal_path)
        #: every media file an earlier publish wrote (and recorded): the only ones it may remove
        self.recorded: set[str] = set(self.state) | journaled
        #: the files a killed publish finished (journal records), checked by hash before kept;
        #: with ``rebuild_state`` none is kept
        self.resumed: dict[str, dict[str, Any]] = {} if rebuild_state else done
        if rebuild_state:
            self.recorded |= _rebuilt_ownership(out)
        self.new_state: dict[str, Any] = {}
        self.written: set[str] = set()  # media files this run wrote (kept or not)
        self.copied = self.skipped = 0
        self.hashed = 0  # files hashed again: not trusted by the state file's date

    def source(self, asset: MediaAsset) -> Path:
        """The collected file of ``asset``, refused when its path leaves the collection root."""
        return resolve_under(self.root, asset.path or "", what="asset path", root_label="the collection root")

    def _unchanged(self, st: os.stat_result, size: object, trusted: bool = True) -> bool:
        """Whether a file of stat ``st`` is taken to be as recorded (``size``) without hashing
        (never for a record not ``trusted``: a killed run's, :attr:`resumed`)."""
        return (
            trusted
            and self.trusted_until is not None
            and st.st_size == size
            and st.st_mtime_ns <= self.trusted_until
        )

    def _journal(self, rel: str) -> None:
        """Note ``rel`` as publish's own before writing it (survives a killed run)."""
        if rel in self.recorded:
            return
        self._append(rel + "\n", durable=True)
        self.recorded.add(rel)

    def _append(self, line: str, *, durable: bool) -> None:
        """Append ``line`` to the journal whole (a short write on a nearly full disk is written
        on, not left torn before the next line); a full disk or a forbidden folder is the
        :class:`~schemas.errors.LocalFault` naming the journal (was: an ``OSError`` naming no file)."""
        with local_faults(self.journal_path), open(self.journal_path, "ab") as fh:
            fh.write(line.encode())
            fh.flush()
            if durable:
                os.fsync(fh.fileno())

    def _source_sha(
        self, src: Path, asset: MediaAsset, prev: dict[str, Any] | None, trusted: bool = True
    ) -> tuple[str, int] | None:
        """SHA-256 and size of the collected file, checked against the catalog's size and
        SHA-256 (MediaError when they differ); None when the file is missing. A file unchanged
        since the last publish (:meth:`_unchanged`) is not hashed again."""
        try:
            st = src.stat()
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        if asset.size is not None and st.st_size != asset.size:
            raise MediaError(
                f"collected file has {st.st_size} bytes, the catalog recorded {asset.size} "
                "(changed or damaged since collection)",
                where=str(src),
                hint=REPAIR_HINT,
            )
        if (
            prev
            and asset.sha256 in (None, prev["src"])
            and self._unchanged(st, prev.get("src_size"), trusted)
        ):
            return prev["src"], st.st_size
        sha = sha256_file(src)
        self.hashed += 1
        if asset.sha256 and sha != asset.sha256:
            raise MediaError(
                "collected file does not match the SHA-256 the catalog recorded (changed or damaged "
                "since collection)",
                where=str(src),
                hint=REPAIR_HINT,
            )
        return sha, st.st_size

    def _intact(self, dst: Path, prev: dict[str, Any], trusted: bool = True) -> int | None:
        """The size of ``dst`` when it still holds what ``prev`` recorded, else None (hashed
        unless :meth:`_unchanged`)."""
        try:
            st = dst.lstat()
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        if self._unchanged(st, prev.get("out_size"), trusted):
            return st.st_size
        self.hashed += 1
        return st.st_size if sha256_file(dst) == prev["out"] else None

    def place(self, rel: str, asset: MediaAsset, recipe: str) -> str:
        """Produce ``out/rel`` from ``asset``; returns its SHA-256.

        ``recipe``: 'copy', 'jpeg' / 'png' (re-encode), 'h264' (a video re-encoded to H.264
        MP4: :func:`_video_recipe`) or 'crop:x1,y1,x2,y2' (cropped H.264).
        The collected file must match the catalog's size and SHA-256 (MediaError otherwise);
        the output is made again unless it still holds what the last publish (or a killed one,
        :attr:`resumed`, checked by hash) made of the same source with the same recipe.
        """
        dst = inside(self.out, rel, what="published file", root_label="the output folder")
        src = self.source(asset)
        prev, trusted = self.state.get(rel), True
        if (done := self.resumed.get(rel)) is not None:  # a killed run wrote it after the state file
            prev, trusted = done, False
        if prev and prev["recipe"] != recipe:
            prev = None
        got = self._source_sha(src, asset, prev, trusted)
        if got is None:  # the collected file is gone: the copy made of the same bytes stands
            if (
                prev
                and asset.sha256 in (None, prev["src"])
                and (out_size := self._intact(dst, prev, trusted)) is not None
            ):
                self.new_state[rel] = {**prev, "out_size": out_size}
                self.skipped += 1
                return prev["out"]
            raise MediaError("collected file is missing", where=str(src), hint="rerun mf-collect / mf clean")
        src_sha, src_size = got
        if prev and prev["src"] == src_sha and (out_size := self._intact(dst, prev, trusted)) is not None:
            self.new_state[rel] = {**prev, "src_size": src_size, "out_size": out_size}
            self.skipped += 1
            return prev["out"]
        self._journal(rel)
        self.written.add(rel)
        if recipe == "copy":
            atomic_copy(src, dst)
        elif recipe in ("jpeg", "png"):
            suffix = ".jpg" if recipe == "jpeg" else ".png"
            atomic_write_bytes(dst, encode_image(read_image(src), suffix, quality=95))
        else:
            frames = (
                asset.probe.frames if isinstance(asset.probe, VideoProbe) and asset.probe.frames else None
            )
            require_free_space(
                dst.parent, REENCODE_SPACE_FACTOR * src_size + REENCODE_SPACE_MARGIN, f"re-encoding {rel}"
            )
            if recipe == "h264":
                transcode(src, dst, scale=_even_scale(asset), label=rel, total_frames=frames)
            else:
                crop = [float(v) for v in recipe.split(":", 1)[1].split(",")]
                transcode(src, dst, crop=crop, label=rel, total_frames=frames)
        out_sha = sha256_file(dst)
        if recipe == "copy" and out_sha != src_sha:
            raise MediaError(
                "collected file changed while it was copied", where=str(src), hint="publish again"
            )
        os.utime(dst, ns=(self.stamp, self.stamp))
        self.new_state[rel] = {
            "src": src_sha,
            "recipe": recipe,
            "out": out_sha,
            "src_size": src_size,
            "out_size": dst.stat().st_size,
        }
        self._journal_done(rel)
        self.copied += 1
        return out_sha

    def _journal_done(self, rel: str) -> None:
        """Append the record of ``rel``, just written, to the journal: a rerun after a kill keeps
        the file once it hashes to it. Not synced: a record lost to a crash only makes its file
        again, and one kept without its file's bytes does not hash to it."""
        self._append(json.dumps({"rel": rel, **self.new_state[rel]}, sort_keys=True) + "\n", durable=False)

    def save_state(self) -> None:
        """Write the state file, dated :attr:`stamp`, then drop the journal it supersedes. A
        state file that already holds these records stays as it is when this run wrote and
        hashed nothing (a rerun with nothing changed touches nothing); else it is dated
        :attr:`stamp`, so what this run wrote or checked is trusted by the next."""
        data = json.dumps(self.new_state, indent=1, sort_keys=True).encode() + b"\n"
        if not self.rebuild_state and self.state_path.is_file() and self.state_path.read_bytes() == data:
            if self.copied or self.hashed:
                os.utime(self.state_path, ns=(self.stamp, self.stamp))
        else:  # dated before the rename: a crash never leaves it trusting files newer than the run
            atomic_write_bytes(self.state_path, data, mtime_ns=self.stamp)
        self.journal_path.unlink(missing_ok=True)


def _image_format(path: Path) -> str | None:
    """'jpeg' or 'png' by the file's magic bytes, else None."""
    return {"jpg": "jpeg", "png": "png"}.get(image_file_format(path) or "")


@dataclass
class _Group:
    """Accepted items that are one product: the same shop image, partition and class."""

    rows: list[ItemRow]  #: the member naming the product first (see product_groups), then by item key
    assets: dict[str, list[MediaAsset]]  #: item key -> its assets
    #: the id of a published product taken down at its source that these items re-post (see
    #: product_groups): the product keeps it
    heir_of: str | None = None

    @property
    def rep(self) -> ItemRow:
        return self.rows[0]

    @property
    def product_id(self) -> str:
        return self.heir_of or str(self.rep.product_id)


def _key(r: ItemRow) -> str:
    return item_key(r.item.source, r.item.source_id)


def _accepted(assets: list[MediaAsset], kind: AssetKind) -> list[MediaAsset]:
    """Accepted assets of one kind; images collected before derived (split-screen) ones, then by path."""
    return sorted(
        (a for a in assets if a.kind == kind and a.status == Status.ACCEPTED and a.path),
        key=lambda a: ((a.url or "").startswith(SPLITSCREEN_URL), a.path),
    )


def _item_assets(catalog: Catalog, rows: list[ItemRow]) -> dict[str, list[MediaAsset]]:
    """Each row's assets by item key, a carousel candidate review chose replacing cleaning's pick."""
    chosen = review_shops(catalog)
    return {
        _key(r): with_review_shop(
            catalog.assets(source=r.item.source, source_id=r.item.source_id),
            chosen.get((str(r.item.source), r.item.source_id)),
        )
        for r in rows
    }


def _norm(text: str | None) -> str:
    """``text`` compared loosely: case, hyphens and runs of spaces aside ('' when absent)."""
    return " ".join((text or "").replace("-", " ").casefold().split())


@dataclass(frozen=True)
class ShopConflict:
    """One item's merge conflict (:func:`shop_conflicts`): the hold's reason, and the conflict's
    key, the items it shares its shop image with (``<source>/<source_id>``, all of them)."""

    reason: str
    others: frozenset[str]


def shop_conflicts(catalog: Catalog, rows: list[ItemRow]) -> dict[tuple[str, str], ShopConflict]:
    """The rows publish must not merge by their shared shop image, as ``(source, source_id)`` ->
    conflict: two items of one source, on different product pages, whose accepted shop image is
    the same file (same sha256) but whose catalogued colour differs. A shop does not show one
    product shot on two products' pages: one of them carries a wrong shop image, and merging
    would publish a video with another garment's image. Both are held back (which one is wrong
    is not known); the reason names every other item of the conflict (its key: the conflict's
    identity, :class:`ShopConflict`) with its product id and colour, and the item's own colour.

    Only the colour is compared, and only where both items record one (product pages do; TikTok
    and Instagram items record none, and are never held here): a retake or re-listing of one
    garment shares its colour, while its title and designer text may be written anew."""
    by_shop: dict[tuple[str, str], list[ItemRow]] = {}
    assets = _item_assets(catalog, rows)
    for r in rows:
        shops = _accepted(assets[_key(r)], AssetKind.SHOP)
        if shops and shops[0].sha256 and _norm(r.item.colour):
            by_shop.setdefault((str(r.item.source), shops[0].sha256), []).append(r)
    out: dict[tuple[str, str], ShopConflict] = {}
    for members in by_shop.values():
        for a in sorted(members, key=_key):
            others = [
                b
                for b in sorted(members, key=_key)
                if a.item.source_id != b.item.source_id
                and not (a.item.url and a.item.url == b.item.url)
                and _norm(a.item.colour) != _norm(b.item.colour)
            ]
            if not others:
                continue
            names = ", ".join(f"{_key(b)} (product {b.product_id}, colour {b.item.colour!r})" for b in others)
            pages = "another product page" if len(others) == 1 else f"{len(others)} other product pages"
            out[(str(a.item.source), a.item.source_id)] = ShopConflict(
                f"{MERGE_PREFIX} shares its shop image with {names}: {pages} whose colour differs "
                f"({a.item.colour!r} here): one of them has a wrong shop image; fix it or accept in "
                "review (mf review)",
                frozenset(_key(b) for b in others),
            )
    return out


#: catalog meta key of the merge holds (:func:`hold_shop_conflicts`): item key -> ``{"hold": the
#: merge reason, "reason": the reason the accepted row had before, "with": the conflict's key
#: (:attr:`ShopConflict.others`, sorted)}``, so a release restores the reason, and an accept made
#: under the hold is known by its conflict, not by the words of its reason (:func:`shop_holds`)
MERGE_HOLDS = "merge_holds"


@dataclass
class ShopHolds:
    """What :func:`shop_holds` decided from the rows it read; :func:`hold_shop_conflicts` writes it."""

    rows: dict[tuple[str, str], ItemRow]  #: the accepted and merge-held rows as read
    found: dict[tuple[str, str], ShopConflict]  #: the conflicts (:func:`shop_conflicts`)
    changes: dict[tuple[str, str], tuple[Status, str | None]]  #: item -> (status, reason) to set
    records: dict[str, dict[str, Any]] | None  #: :data:`MERGE_HOLDS` as read


def shop_holds(catalog: Catalog) -> ShopHolds:
    """Decide, without writing, the items :func:`hold_shop_conflicts` holds and releases.

    An accepted item in conflict is held unless a reviewer accepted it under a hold of this
    conflict (:func:`schemas.review.merge_holds_accepted`): the hold's record (:data:`MERGE_HOLDS`)
    keeps the conflict's key, and every item of the conflict now must be one of those the
    accepted hold named; an accept whose hold has no record any more counts when its reason is
    the one found now.

    So a conflict whose items are a subset of the accepted one's is the same conflict, on
    purpose: the accept says this item's shop image is right beside each page the hold named,
    and an item leaving the conflict (rejected since, its shop image fixed, its colour now the
    same) takes nothing from that judgment, nor does it coming back (one the reviewer saw). An
    item joining the conflict is one the reviewer never saw beside this one: another conflict,
    which holds the item again (and its record, naming the new items, replaces the old one). An
    item still held when an item joins its conflict gets the hold of the conflict now the same way
    (the reason naming the newcomer, its record keeping the reason from before the first hold), so
    one accept, of the conflict as it stands, releases it: before, its hold kept naming the
    conflict it was held for, and the next publish held the item accepted under it again."""
    live = {  # an item another stage holds (tracklets) still claims its shop image; cleaning's
        # own flags (association, shop pick) already judge that image, so they do not count
        (str(r.item.source), r.item.source_id): r
        for r in catalog.items(status=(Status.ACCEPTED, Status.NEEDS_REVIEW))
        if r.product_id and (r.status == Status.ACCEPTED or not (r.reason or "").startswith(REASON_PREFIXES))
    }
    rows = {
        k: r
        for k, r in live.items()
        if r.status == Status.ACCEPTED or (r.reason or "").startswith(MERGE_PREFIX)
    }
    found = shop_conflicts(catalog, list(live.values()))
    seen = merge_holds_accepted(catalog) if found else {}  # accepts made under this very hold
    records: dict[str, dict[str, Any]] | None = catalog.get_meta(MERGE_HOLDS)

    def covers(k: tuple[str, str], hold: str | None) -> bool:
        """Whether merge hold ``hold`` of item ``k`` is of its conflict now (the reason found now,
        or its record's, naming every item of the conflict now)."""
        rec = (records or {}).get(item_key(*k)) or {}
        return hold == found[k].reason or (
            hold == rec.get("hold") and found[k].others <= set(rec.get("with") or ())
        )

    def accepted(k: tuple[str, str]) -> bool:
        """Whether a reviewer accepted item ``k`` under a hold of its conflict now."""
        return any(covers(k, hold) for hold in seen.get(k, ()))

    def hold(k: tuple[str, str], r: ItemRow) -> bool:
        """Whether item ``k``, in conflict, is to be held with the reason found now: accepted, but
        not under a hold of its conflict now; or held by a hold its conflict outgrew."""
        return not accepted(k) if r.status == Status.ACCEPTED else not covers(k, r.reason)

    changes = {
        k: (Status.NEEDS_REVIEW, found[k].reason) for k, r in rows.items() if k in found and hold(k, r)
    }
    changes.update(
        {
            k: (Status.ACCEPTED, _reason_before(records, k, r))
            for k, r in rows.items()
            if k not in found and r.status != Status.ACCEPTED
        }
    )
    return ShopHolds(rows, found, changes, records)


def _reason_before(records: Mapping[str, Any] | None, k: tuple[str, str], r: ItemRow) -> str | None:
    """The reason item ``k`` had before the merge hold its row ``r`` shows (None when
    :data:`MERGE_HOLDS`, ``records``, does not record it)."""
    rec = (records or {}).get(item_key(*k))
    return rec.get("reason") if rec and rec.get("hold") == r.reason else None


def hold_shop_conflicts(catalog: Catalog, holds: ShopHolds | None = None) -> dict[str, Any]:
    """Set the accepted items :func:`shop_conflicts` finds ``needs_review`` with its reason (and a
    held item whose conflict outgrew its hold, :func:`shop_holds`, the reason now), and
    release an item this held before (a ``merge:`` reason) whose conflict is gone (the other item
    rejected, its shop image fixed, or flagged by cleaning's own checks) back to ``accepted``,
    with the reason it had before the hold (an accepted row may carry one: it is kept in the
    catalog's meta, :data:`MERGE_HOLDS`, written before the hold and dropped once the item is
    neither held nor in conflict);
    the other item counts while accepted or held by another stage (a tracklet flag); both by compare-and-set
    against the rows read (an item another process changed meanwhile is left as it is). An item a
    reviewer accepted under a hold of this very conflict (:func:`shop_holds`) is not
    held again; an accept from before the conflict is no reason not to hold it. ``holds``: what
    :func:`shop_holds` decided (decided now when None).

    Another publish of the catalog (into another folder) may write holds meanwhile: the holds and
    their records are written in one catalog transaction, with the records as they stand then: a
    record is written only with the hold it is of (an item another process changed since this run
    read it, held by that process's own decision say, keeps that process's record), and only the
    records this run decided on are dropped (one another process wrote since it read them is its
    writer's). Returns the items ``held`` and ``released``, and ``records``: record
    key -> [before, after] of each record this run changed (None: none), for
    :func:`undo_shop_holds`."""
    holds = holds or shop_holds(catalog)
    rows, found, changes = holds.rows, holds.found, holds.changes
    read = holds.records or {}
    planned = {
        item_key(*k): {
            "hold": why,
            # a hold renewed (its conflict grew): the reason before the first one
            "reason": rows[k].reason
            if rows[k].status == Status.ACCEPTED
            else _reason_before(read, k, rows[k]),
            "with": sorted(found[k].others),
        }
        for k, (status, why) in changes.items()
        if status == Status.NEEDS_REVIEW
    }
    touched: dict[str, list[Any]] = {}  # record key -> [before this run, after it]

    def note(key: str, before: Any, after: Any) -> None:
        touched.setdefault(key, [before, after])[1] = after

    missed: set[tuple[str, str]] = set(changes)  # the rows another process changed meanwhile
    held: set[str] = set()  # the record keys of the holds written
    after = {k: (r.status, r.reason) for k, r in rows.items()}

    def kept(key: str, rec: Mapping[str, Any]) -> bool:
        """A record stays while its item is held by it, its conflict stands (an undo in review
        may hold it again) or another process changed the item meanwhile."""
        source, _, source_id = key.partition("/")
        k = (source, source_id)
        return k in found or k in missed or after.get(k) == (Status.NEEDS_REVIEW, rec.get("hold"))

    def records(old: dict[str, Any] | None) -> dict[str, Any] | None:
        """The records with those of the holds written, without those this run read or wrote
        and :func:`kept` no more."""
        new = dict(old or {})
        for key, rec in planned.items():
            if key in held:
                note(key, new.get(key), rec)
                new[key] = rec
        for key, rec in list(new.items()):
            if rec in (read.get(key), planned.get(key)) and not kept(key, rec):
                note(key, rec, None)
                del new[key]
        return new or None

    def with_rows(db: Any, written: list[tuple[str, str]]) -> None:
        """In the transaction of the rows written: the record of each hold written with it (a
        held item always finds the reason it had; a row another process changed meanwhile gets
        no record of this run's, which would not be of the hold it shows)."""
        missed.difference_update(written)
        held.update(item_key(*k) for k in written if item_key(*k) in planned)
        after.update({k: changes[k] for k in written})
        change_meta(db, MERGE_HOLDS, records)

    catalog.set_item_states_if(
        (
            (
                s,
                sid,
                {"status": rows[(s, sid)].status, "reason": rows[(s, sid)].reason},
                {"status": status, "reason": why},
            )
            for (s, sid), (status, why) in sorted(changes.items())
        ),
        then=with_rows,
    )
    done: dict[str, Any] = {
        "held": [],
        "released": [],
        "records": {key: ba for key, ba in touched.items() if ba[0] != ba[1]},
    }
    for (s, sid), (status, why) in sorted(changes.items()):
        if (s, sid) in missed:
            continue
        if status == Status.NEEDS_REVIEW:
            done["held"].append((s, sid))
            again = "" if rows[(s, sid)].status == Status.ACCEPTED else " (its conflict grew)"
            log.warning("%s/%s held back for review%s: %s", s, sid, again, why)
        else:
            done["released"].append((s, sid))
            log.warning(
                "%s/%s accepted again: it no longer shares its shop image with another colour", s, sid
            )
    return done


def undo_shop_holds(catalog: Catalog, holds: ShopHolds, done: Mapping[str, Any]) -> None:
    """Put back what :func:`hold_shop_conflicts` wrote (``done``, from ``holds``): each item held
    or released gets its state and ``updated_at`` as read again, and each record of
    :data:`MERGE_HOLDS` it changed the value it had (both by compare-and-set, in one transaction:
    an item or record another process changed since, another publish of the catalog say, is left
    as it is). For a
    publish refused after the holds were written: nothing is published, so nothing is held."""
    changed = [*done["held"], *done["released"]]

    def restore(now: dict[str, Any] | None) -> dict[str, Any] | None:
        new = dict(now or {})
        for key, (before, after) in done.get("records", {}).items():
            if new.get(key) != after:
                continue  # written again since, by another process
            if before is None:
                new.pop(key, None)
            else:
                new[key] = before
        return new or None

    catalog.set_item_states_if(
        (
            (
                s,
                sid,
                {"status": holds.changes[(s, sid)][0], "reason": holds.changes[(s, sid)][1]},
                {
                    "status": holds.rows[(s, sid)].status,
                    "reason": holds.rows[(s, sid)].reason,
                    "updated_at": holds.rows[(s, sid)].updated_at,
                },
            )
            for s, sid in sorted(changed)
        ),
        then=lambda db, _written: change_meta(db, MERGE_HOLDS, restore),  # in the same transaction
    )


def product_groups(
    catalog: Catalog, rows: list[ItemRow], published: Mapping[str, str] | None = None
) -> list[_Group]:
    """The accepted rows as products (see the module docstring), sorted by product id.

    ``published`` maps the product ids an earlier publish into the same folder wrote to their
    split: a product is named after its member published before (the one in test first, then
    the smallest item key), so an item joining it (a re-listing whose key sorts first) never
    renames it; a product none of whose members was published is named after the member with the
    smallest item key, unless it carries the shop image of a published product whose own item
    was taken down at its source (``gone: ...``): then it keeps that product's id, split
    and tracklets (a re-post outliving its original renamed the product and lost its tracklets)."""
    published = published or {}

    def naming(r: ItemRow) -> tuple[int, str]:
        was = published.get(r.product_id or "")
        return (0 if was == str(Split.TEST) else 1 if was is not None else 2), _key(r)

    assets = _item_assets(catalog, rows)
    uf = UnionFind()
    for r in rows:
        shops = _accepted(assets[_key(r)], AssetKind.SHOP)
        uf.add(("item", _key(r)))
        if shops:
            uf.union(("item", _key(r)), ("path", shops[0].path))
            if shops[0].sha256:
                uf.union(("item", _key(r)), ("sha", shops[0].sha256))
    for a in catalog.assets(kind=AssetKind.SHOP):
        if a.path and a.duplicate_of:
            uf.union(("path", a.path), ("path", a.duplicate_of))
    # published products whose item was taken down: joined by their shop image only, as
    # products are (a video several products list must not join them)
    gone = [
        r
        for r in catalog.items(status=Status.REJECTED)
        if (r.reason or "").startswith(GONE_PREFIX) and r.product_id and r.product_id in published
    ]
    for r in gone:
        node = ("gone", _key(r))
        uf.add(node)
        for a in catalog.assets(source=r.item.source, source_id=r.item.source_id, kind=AssetKind.SHOP):
            if a.path:
                uf.union(node, ("path", a.path))
                if a.sha256:
                    uf.union(node, ("sha", a.sha256))
    by_group: dict[tuple[Any, ...], list[ItemRow]] = {}
    for r in sorted(rows, key=_key):
        by_group.setdefault((uf.find(("item", _key(r))), r.partition, r.df2_class), []).append(r)
    heirs: dict[tuple[Any, ...], list[ItemRow]] = {}
    for r in gone:
        heirs.setdefault((uf.find(("gone", _key(r))), r.partition, r.df2_class), []).append(r)
    groups = []
    for key, members in by_group.items():
        first = min(members, key=naming)
        members = [first, *(m for m in members if m is not first)]
        groups.append(_Group(members, {_key(m): assets[_key(m)] for m in members}))
        if naming(first)[0] == 2 and heirs.get(key):  # no member was published; a gone one was
            heir = str(min(heirs[key], key=naming).product_id)
            if published.get(heir) == str(first.split):  # never carried into the other split
                groups[-1].heir_of = heir
    taken = {str(r.product_id) for r in rows}
    seen: set[str] = set()
    for g in groups:  # an id an accepted item holds, or a second heir: named after its own member
        if g.heir_of is not None and (g.heir_of in taken or g.heir_of in seen):
            g.heir_of = None
        elif g.heir_of is not None:
            seen.add(g.heir_of)
    return sorted(groups, key=lambda g: g.product_id)


def merged_members(g: _Group) -> list[dict[str, str]]:
    """The members of product ``g`` published under its id rather than their own (an item that
    joined it: a re-listing, a held-back item accepted later): item key, own product id, and
    ``published_as``, the product's id."""
    return [
        {"item": _key(r), "product_id": str(r.product_id), "published_as": g.product_id}
        for r in g.rows
        if str(r.product_id) != g.product_id
    ]


def publish(
    catalog: Catalog,
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    seed: int | None = None,
    test_fraction: float | None = None,
    keep_going: bool = False,
    progress: Callable[[Iterable[_Group]], Iterable[_Group]] | None = None,
    info: DatasetInfo | None = None,
    archive: bool = False,
    workers: int | None = None,
    wait: bool = False,
    rebuild_state: bool = False,
) -> dict[str, Any]:
    """Write the dataset folder from the accepted items of the catalog, verify it; returns counts.

    ``progress`` wraps the loop over products (e.g. a progress bar).

    A product whose media cannot be published (a collected file missing, a crop that does not
    encode) raises :class:`MediaError`; with ``keep_going`` it is left out of this publish
    instead and listed in ``failed`` (product id and error), and the others are published.
    ``merged`` lists the accepted items published under another item's product id (they joined
    its product, :func:`merged_members`), so an item accepted in review under its own id is not
    renamed silently. ``held_back`` lists the items this run left out for review, as the catalog
    stood when it planned (:func:`_held_back_report`); ``changed_during_run`` the items a review
    decided on while it ran (the next publish applies those decisions). ``info`` describes the
    dataset (Croissant metadata, card); None keeps the description ``out/manifest.json``
    recorded (the defaults when none), and one that differs from it is said on stderr with the
    fields it changes (:func:`dataset_info`). ``verify`` in the result is the
    audit of the written folder; ``archive`` zips the folder beside it when the audit is clean.
    ``seed`` and ``test_fraction`` (None: not set, 0 and 0.1) split new products only when the
    catalog recorded no rule (:func:`~cleaning.splits.recorded_rule`); once it recorded one,
    that rule places new products and publish never moves a split: only ``mf splits rebuild``
    changes the rule. ``split_rule`` in the result is the rule used, and ``split_rule_ignored``
    the one ``seed``/``test_fraction`` asked for when it differs from it (the CLI warns), else None.

    One publish of a folder at a time: it holds ``out/.publish.lock`` (:func:`publish_lock`)
    for the whole run; another publish running there refuses this one (:class:`~schemas.atomic.LockBusy`, exit
    2, naming its pid, command and start), or with ``wait`` this one waits for it.
    ``removed_tracklets`` lists the tracklet files removed: those of the videos this run removes
    or makes anew, and every other one about a video no split file lists and none held back
    (:func:`_unlisted_tracklets`). ``without_tracklets`` lists the published videos whose
    tracklet holds no box: not built yet (every video of a first publish, one accepted in review
    before its build), or whose file an earlier publish removed (a rejected video accepted again
    by an undo): ``mf-tracklets build`` builds them.

    ``rebuild_state`` is the way on from a state file (``.publish-state.json``) that is damaged
    or lost: it is not read, every media file is made again from its collected file (and so
    checked against the catalog again), the media files the folder's ``manifest.json`` lists
    count as publish's own (replaced or removed as a rerun would), and the state file is written
    anew (``state_rebuilt`` in the result). Tracklet files stay where the product's video paths
    are unchanged (the rule when a publish recorded nothing); a test product with several
    collected videos keeps the one :func:`schemas.official.pick_test_video` picks.

    Refused before anything is changed (:class:`MFError`, exit 2): ``out`` and ``root`` that
    overlap (one is the other or inside it, :func:`~schemas.paths.apart`), an unsafe id or asset path
    (:func:`check_paths`), an unreadable split or state file in ``out`` (the hint names
    ``--rebuild-state`` for the state file), media folders holding
    files publish did not write or leaving ``out`` (:func:`check_output`), a ``root`` that
    lacks most collected files (:func:`check_root`), one product id on two products
    (:func:`check_unique_ids`), a catalog nothing of which is cleaned yet (:func:`check_cleaned`),
    a malformed ``SOURCE_DATE_EPOCH`` (:func:`~movingfashion.archive.describe.source_date_epoch`).
    """
    apart(
        out,
        root,
        first_name="the dataset folder (--out)",
        second_name="the collection folder (--root)",
        hint="publish into a folder outside the collection folder, and keep the collection outside "
        "the dataset (the dataset lists every file of its folder; the collection is mf-collect's)",
    )
    with cleaned(catalog.path, wait=wait):  # never a catalog mf clean is halfway through
        return _checked_publish(
            catalog, root, out, seed=seed, test_fraction=test_fraction, keep_going=keep_going,
            progress=progress, info=info, archive=archive, workers=workers, wait=wait,
            rebuild_state=rebuild_state,
        )  # fmt: skip


def _checked_publish(
    catalog: Catalog,
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    seed: int | None,
    test_fraction: float | None,
    keep_going: bool,
    progress: Callable[[Iterable[_Group]], Iterable[_Group]] | None,
    info: DatasetInfo | None,
    archive: bool,
    workers: int | None,
    wait: bool,
    rebuild_state: bool = False,
) -> dict[str, Any]:
    """:func:`publish` under the catalog's cleaning lock."""
    root, out = Path(root), Path(out)
    source_date_epoch()  # a malformed one is refused before anything is written
    # every check and every read before anything is written (the catalog's splits included)
    not_cleaned = check_cleaned(catalog)
    check_paths(catalog, root, out)
    try:  # every refusal before the folder, or its lock file, is touched
        _plan(catalog, root, out, rebuild_state=rebuild_state)
    except MFError:
        if not (out / PUBLISH_LOCK).is_file():
            raise  # no publish ever ran here, none runs now
        # perhaps another publish's files in flight: decided again under the lock
    with publish_lock(out, wait=wait):  # one publish at a time; its reads of the folder under it
        holds = shop_holds(catalog)  # not merged silently: held back like any item in review
        plan = _plan(catalog, root, out, rebuild_state=rebuild_state)  # every refusal before the holds
        if holds.changes:
            done = hold_shop_conflicts(catalog, holds)
            try:
                plan = _plan(catalog, root, out, rebuild_state=rebuild_state)  # without the items held now
            except BaseException:  # refused after all (a release made two ids one), or a local
                # fault reading the folder: nothing is published, so nothing is held
                undo_shop_holds(catalog, holds, done)
                raise
        return _publish(
            catalog,
            root,
            out,
            plan,
            not_cleaned=not_cleaned,
            given={"seed": seed, "test_fraction": test_fraction},
            keep_going=keep_going,
            progress=progress,
            info=info,
            archive=archive,
            workers=workers,
        )


def publish_lock(out: Path, *, wait: bool = False) -> contextlib.AbstractContextManager[None]:
    """Hold ``OUT/.publish.lock`` (:data:`PUBLISH_LOCK`) for a whole publish: another publish of
    the folder stops at once with :class:`~schemas.atomic.LockBusy` (one line naming the lock
    file and its holder, exit 2), or with ``wait`` waits for it without limit, saying so once on
    stderr. The dataset's own lock (``.lock``) stays free for builds and review picks meanwhile."""
    return file_lock(
        out / PUBLISH_LOCK,
        timeout_s=math.inf if wait else 0,
        who="another mf publish writes this folder",
        hint="wait for it to finish, or rerun with --wait",
        warn_after_s=0,
    )


@dataclass
class _Planned:
    """What publish read and checked before writing anything (:func:`_plan`)."""

    pub: _Publisher
    old_held: dict[str, dict[str, str]]
    accepted: list[ItemRow]
    published: dict[str, str]  #: product id -> the split an earlier publish put it in
    groups: list[_Group]
    test_video_before: dict[str, str]
    held: list[dict[str, str]]  #: the items held back as the catalog stood then (:func:`held_back_rows`)


def _plan(catalog: Catalog, root: Path, out: Path, *, rebuild_state: bool = False) -> _Planned:
    """The previous publish's records in ``out`` and the products to publish, every check that
    refuses a publish made (:func:`check_output`, :func:`check_root`, :func:`check_unique_ids`);
    writes nothing. ``rebuild_state``: see :class:`_Publisher`."""
    pub = _Publisher(root, out, rebuild_state=rebuild_state)  # the previous publish's records, validated
    old_held = read_held_videos(out)  # the held-back videos whose tracklet files it kept
    old_splits = _read_old_splits(out)
    check_output(out, pub.recorded)
    held = held_back_rows(catalog)  # read before the accepted rows: an accept meanwhile is in both
    accepted = _accepted_rows(catalog)
    check_root(catalog, root, accepted)
    # products keep the ids this folder published them under, and test products their video
    published = {pid: split for split, entries in old_splits.items() for pid in entries}
    test_video_before = {
        pid: rec["src"]
        for pid, e in old_splits.get(str(Split.TEST), {}).items()
        if len(e.video_paths) == 1 and (rec := pub.state.get(e.video_paths[0]))
    }
    groups = product_groups(catalog, apply_review(catalog, accepted), published)  # rejected in review: out
    check_unique_ids(catalog, groups)
    return _Planned(pub, old_held, accepted, published, groups, test_video_before, held)


def _publish(
    catalog: Catalog,
    root: Path,
    out: Path,
    plan: _Planned,
    *,
    not_cleaned: int,
    given: dict[str, Any],
    keep_going: bool,
    progress: Callable[[Iterable[_Group]], Iterable[_Group]] | None,
    info: DatasetInfo | None,
    archive: bool,
    workers: int | None,
) -> dict[str, Any]:
    """:func:`publish` from ``plan``, with the publish lock held."""
    info = dataset_info(out, info)  # before anything is written: a malformed record is refused
    described_before = _description_stamps(out)
    manifest_before = read_manifest(out)
    pub, old_held, accepted, groups = plan.pub, plan.old_held, plan.accepted, plan.groups
    test_video_before = plan.test_video_before
    rule, ignored = publish_rule(catalog, **given)
    if any(r.split is None for r in accepted):
        rows = apply_review(catalog, _publishable(catalog, rule))
        groups = product_groups(catalog, rows, plan.published)
    else:
        rows = [r for g in groups for r in g.rows]
    out.mkdir(parents=True, exist_ok=True)
    # from here to the description the folder is half written: a kill leaves this mark, and
    # mf verify says to rerun publish instead of auditing (the rerun removes it once described)
    atomic_write_bytes(out / PUBLISH_MARK, f"{os.getpid()} mf publish\n".encode())
    sweep_partials(out, recursive=True)  # what a killed publish left half-written
    move_legacy_review_log(out)  # mf-tracklets review's log, hidden: never published
    entries: list[DatasetEntry] = []
    frames: list[int] = []
    failed: list[dict[str, str]] = []
    failed_groups: list[_Group] = []
    merged: list[dict[str, str]] = []
    published_items: set[str] = set()
    for g in progress(groups) if progress else groups:
        placed = set(pub.new_state)
        try:
            entry, n = _entry(catalog, pub, g, test_video_before.get(g.product_id))
        except (MFError, OSError) as exc:
            reraise_local_fault(exc)  # disk full etc. is not the product's fault: stop the run
            if not keep_going:
                raise
            for rel in set(pub.new_state) - placed:  # its media leave the dataset with it
                del pub.new_state[rel]
            failed.append({"product": g.product_id, "error": str(exc)})
            failed_groups.append(g)
            continue
        entries.append(entry)
        frames += n
        merged += merged_members(g)
        published_items.update(_key(r) for r in g.rows)
    stale = (pub.recorded | pub.written) - set(pub.new_state)
    # before the tracklet files are swept: an older toolkit's file of a video held back now is adopted
    held = held_videos(catalog, entries, {**old_held, **pub.state}, dataset=out, known=pub.recorded)
    # a product that failed in this run (a folder where its video goes, a damaged collected
    # file) keeps its tracklet files as a held-back one does: the fault is not a takedown
    held.update(failed_videos(failed_groups, _read_old_splits(out), pub.state, old_held))
    # the split files' other writers (mf-tracklets build / import, review picks) hold the
    # dataset's lock around each read-modify-write: read them again under it, so what they wrote
    # while the media were placed is kept, and none of them writes until the folder is described;
    # the media nothing lists any more go only once the split files no longer list them (a
    # loader or build starting meanwhile never meets a listed file that is gone)
    with file_lock(out / DATASET_LOCK, who=DATASET_WRITERS):
        gone = _remove_tracklet_files(
            out, _tracklets_of(out, _stale_tracklet_videos(stale, pub.state, pub.new_state, held, old_held))
        )
        _write_held(out, held)
        without_tracklets: list[str] = []
        old_splits = _read_old_splits(out)
        listed = _write_official_splits(
            out, entries, old_splits, pub.state, pub.new_state, old_held, without_tracklets
        )
        removed = _remove_stale_media(out, stale)
        # every other file of a video no split file lists and none held back (a build that ran
        # meanwhile wrote it again, an earlier publish missed it)
        gone += _remove_tracklet_files(out, _unlisted_tracklets(out, listed, held))
        removed += len(gone)
        # the ground truth lives in the split files: a row carries no copy (it read "tracklets": [])
        lines = "".join(e.model_dump_json(exclude_none=False, exclude={"tracklets"}) + "\n" for e in entries)
        write_if_changed(out / "entries.jsonl", lines.encode())
        (out / "plots").mkdir(exist_ok=True)
        plots_written = write_plots(out / "plots", entries, frames)
        pub.save_state()
        described = describe(
            out,
            info,
            data_date=max((r.updated_at for r in rows), default=None),
            changed=_changed(out, pub) | plots_written,
        )
        (out / PUBLISH_MARK).unlink(missing_ok=True)
    report, packed = _verify_and_pack(out, workers=workers, archive=archive)
    stale = None if archive else _stale_archive(out)
    n_test = sum(e.split == Split.TEST for e in entries)
    held_now = held_back_rows(catalog)  # read once: what withdrew products, what changed meanwhile
    short = (
        {}
        if rule.get("mode") == "hash"
        else test_seats_short(((str(e.partition), str(e.split)) for e in entries), rule["test_fraction"])
    )
    warn_short(short)
    res: dict[str, Any] = {
        "test_seats_short": short,
        "out": str(out),
        "products": len(entries),
        "train": len(entries) - n_test,
        "test": n_test,
        "videos": sum(len(e.video_paths) for e in entries),
        "multi_video_products": sum(len(e.video_paths) > 1 for e in entries),
        "test_videos_left_out": sum(e.metadata.get("test_videos_left_out", 0) for e in entries),
        "files": described["files"],
        "date_published": described["date_published"],
        "written": pub.copied,
        "unchanged": pub.skipped,
        "state_rebuilt": pub.rebuild_state,
        "metadata_written": _written_since(out, described_before),
        "removed": removed,
        "removed_tracklets": gone,
        "withdrawn": withdrawn_products(old_splits, entries, held_now, merged, failed),
        "without_tracklets": sorted(without_tracklets),
        "failed": failed,
        "merged": sorted(merged, key=lambda m: m["item"]),
        "not_cleaned": not_cleaned,
        "split_rule": rule,
        "split_rule_ignored": ignored,
        **_held_back_report(held_now, plan.held, published_items),
        "verify": {
            "ok": report.ok,
            "breaks": [b.describe() for b in report.breaks],
            "decoded_before": report.reused,
        },
        "archive": {"path": str(packed[0]), "sha256": packed[1], "written": packed[2]} if packed else None,
        "stale_archive": str(stale) if stale else None,
        "same_version": same_version(manifest_before, read_manifest(out)),
    }
    return res


#: the files whose change makes another release of the dataset (its pairs and splits)
RELEASE_FILES = ("train.json", "test.json")


def same_version(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> str | None:
    """A note when this publish changed the split files of a folder published before but its
    description kept the version (and date) recorded then: two different datasets would carry
    one version in ``croissant.json`` (``mf publish`` prints it as ``release: ...``); None when
    nothing is to say."""
    if not before or not after or not isinstance(before.get("dataset"), dict):
        return None
    old, new = before["dataset"], after.get("dataset") or {}
    files_before, files_after = before.get("files") or {}, after.get("files") or {}
    if all(files_before.get(f) == files_after.get(f) for f in RELEASE_FILES):
        return None
    if old.get("version") != new.get("version"):
        return None
    note = (
        f"the split files changed but the dataset keeps version {new.get('version')!r}"
        + (f" ({new['date_published']})" if new.get("date_published") else "")
        + ": give dataset.version (and date_published) in mf publish --config for a new release"
    )
    return note


#: the folders of files that describe the dataset (not media) besides its top-level files
DESCRIPTION_DIRS = ("plots", PAIRS_DIR, BOXES_DIR)


def _description_stamps(out: Path) -> dict[str, tuple[int, int, int]]:
    """(inode, size, mtime) of every file describing the dataset: the top-level files, plots and
    tables (media and tracklet files are counted apart). Unchanged content is never rewritten
    (:func:`schemas.atomic.write_if_changed`), and a rewrite replaces the file (a new inode)."""
    stamps: dict[str, tuple[int, int, int]] = {}
    for folder in (out, *(out / d for d in DESCRIPTION_DIRS)):
        with contextlib.suppress(OSError):
            for f in folder.iterdir():
                if f.is_file() and not f.name.startswith("."):
                    st = f.stat()
                    stamps[f.relative_to(out).as_posix()] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return stamps


def _written_since(out: Path, before: Mapping[str, tuple[int, int, int]]) -> list[str]:
    """The files describing the dataset that this run wrote (new or rewritten), by relative path:
    what ``written`` (media only) does not count, e.g. ``entries.jsonl`` in a newer format."""
    now = _description_stamps(out)
    return sorted(k for k, v in now.items() if before.get(k) != v)


def dataset_info(out: Path, info: DatasetInfo | None) -> DatasetInfo | None:
    """The description to publish ``out`` with: the one its manifest recorded with the fields
    ``info`` sets (a config's ``dataset:`` section naming only ``version`` changes only that),
    else ``info``, else the recorded one (None: the defaults). A recorded field changed is said
    once on stderr, naming the fields (a ``date_published`` left empty is not a change: it is
    derived again)."""
    recorded = recorded_info(out)
    if info is None or recorded is None:
        return info or recorded
    given = {k: getattr(info, k) for k in info.model_fields_set}
    info = recorded.model_copy(update=given)
    new, old = info.model_dump(mode="json"), recorded.model_dump(mode="json")
    changed = [k for k in new if new[k] != old.get(k) and not (k == "date_published" and new[k] is None)]
    if changed:
        log.warning(
            "%s: the config's dataset: section changes the recorded description (%s)",
            out / MANIFEST,
            ", ".join(changed),
        )
    return info


def _verify_and_pack(
    out: Path, *, workers: int | None, archive: bool
) -> tuple[VerifyReport, tuple[Path, str, bool] | None]:
    """The closing :func:`verify_dataset` of ``out`` and, with ``archive`` when it verifies, its
    zip (path, SHA-256, whether it was written: the zip already there is kept when it holds the
    state verified, :func:`~movingfashion.archive.pack.packed_already`). Outside the dataset's
    lock first; when the verify breaks, or the zip would mix two states of the folder or not be
    the one verified (:class:`~movingfashion.archive.pack.MixedArchive`: a writer changed it
    meanwhile), once more under the lock, where no writer runs."""
    from movingfashion.archive.pack import MixedArchive, pack_dataset, packed_already

    def attempt() -> tuple[VerifyReport, tuple[Path, str, bool] | None]:
        verified = sha256_file(out / MANIFEST) if archive else None  # the zip holds the state verified
        report = verify_dataset(out, workers=workers, trust_manifest=True, reuse_decoded=True)
        if not (archive and report.ok and verified):
            return report, None
        if kept := packed_already(out, verified):
            return report, (*kept, False)
        return report, (*pack_dataset(out, check_manifest=True, manifest_sha256=verified), True)

    with contextlib.suppress(MixedArchive):
        report, packed = attempt()
        if report.ok:
            return report, packed
    with file_lock(out / DATASET_LOCK, who=DATASET_WRITERS):
        return attempt()


#: what to do with a zip beside the dataset that no longer holds it
STALE_ARCHIVE_FIX = "`mf publish --archive` writes it again; or remove it and its .sha256"


def _stale_archive(out: Path) -> Path | None:
    """The zip of an earlier ``mf publish --archive`` beside ``out`` when it no longer holds the
    folder just published (:func:`~movingfashion.archive.pack.stale_archive`), with one warning
    naming it: a publish without ``--archive`` leaves it as it is, so nobody ships it unawares."""
    from movingfashion.archive.pack import stale_archive

    stale = stale_archive(out)
    if stale is not None:
        log.warning(
            "%s beside the dataset is from an earlier publish and does not hold this folder: %s",
            stale,
            STALE_ARCHIVE_FIX,
        )
    return stale


def _changed(out: Path, pub: _Publisher) -> set[str]:
    """The files of ``out`` whose manifest hash :func:`describe` must not take from the last
    manifest (besides those newer than it, the top-level files and the tables it hashes anyway):
    the media this run wrote (dated back to its start), those a killed run journaled, and those
    whose record disagrees with the manifest (the plots drawn by this run are added by the caller)."""
    listed = (read_manifest(out) or {}).get("files")
    listed = listed if isinstance(listed, dict) else {}
    differ = {rel for rel, rec in pub.new_state.items() if listed.get(rel) != rec.get("out")}
    journaled = pub.recorded - set(pub.state)
    return pub.written | journaled | differ


def not_cleaned_message(n: int) -> str:
    """What ``mf publish`` and ``mf splits rebuild`` say of ``n`` collected items not cleaned yet."""
    return f"{n} collected {'item is' if n == 1 else 'items are'} not cleaned yet: run mf clean"


def check_cleaned(catalog: Catalog) -> int:
    """How many collected items (``downloaded``) ``mf clean`` has not seen yet. When nothing is
    publishable because of it (no item is accepted, and some are not cleaned) a
    :class:`CatalogError` says so before anything is written (exit 2); otherwise the caller warns
    with :func:`not_cleaned_message`."""
    n = catalog.count_items(status=str(Status.DOWNLOADED))
    if n and not catalog.count_items(status=str(Status.ACCEPTED)):
        raise CatalogError(
            not_cleaned_message(n) + "; nothing was written",
            where=str(catalog.path),
            hint=f"mf clean --catalog {catalog.path} --root ROOT, then run this again",
        )
    return n


def held_back(catalog: Catalog) -> dict[str, Any]:
    """What publish leaves out of train.json/test.json until it is accepted, and why: every item
    that is ``needs_review`` (association check, carousel pick, tracklet flags, ...) or
    ``rejected`` (bad media, non-clothing, a reviewer's reject), with its reason; the counts by
    the stage that decided (the reason's prefix)."""
    return _held_back_counts(held_back_rows(catalog))


#: reason listed for an accepted item publish leaves out because it has no class
ACCEPTED_WITHOUT_CLASS = (
    "review: accepted without a DeepFashion2 class: set one with c on the review page (mf review), "
    "then publish again"
)


def held_back_rows(catalog: Catalog) -> list[dict[str, str]]:
    """The catalog's ``needs_review`` and ``rejected`` items as :func:`held_back` lists them, and
    the accepted items publish leaves out for want of a class (:data:`ACCEPTED_WITHOUT_CLASS`)."""
    rows = []
    for status in (Status.NEEDS_REVIEW, Status.REJECTED, Status.ACCEPTED):
        for r in catalog.items(status=status):
            if status is Status.ACCEPTED and (not r.product_id or r.df2_class is not None):
                continue
            rows.append(
                {
                    "item": item_key(r.item.source, r.item.source_id),
                    "product_id": r.product_id,
                    "status": str(status),
                    "reason": ACCEPTED_WITHOUT_CLASS if status is Status.ACCEPTED else r.reason or "",
                }
            )
    return rows


def withdrawn_products(
    old: Mapping[str, OfficialSplit],
    entries: Sequence[Any],
    held: Sequence[Mapping[str, str]],
    merged: Sequence[Mapping[str, str]],
    failed: Sequence[Mapping[str, str]] = (),
) -> list[dict[str, str]]:
    """The products the split files listed before this publish and list no more: product id, the
    split it left, and why (its item's catalog state and reason among ``held``, the catalog's
    :func:`held_back_rows`; the product it was merged into; its failure in this publish; or that
    no accepted item has that product id now), in product order."""
    now = {str(e.product_id) for e in entries}
    why = {h["product_id"]: f"{h['status']}: {h['reason']}" for h in held if h["product_id"]}
    why.update({m["product_id"]: f"merged into {m['published_as']}" for m in merged})
    why.update({f["product"]: f"failed in this publish: {f['error']}" for f in failed})
    return sorted(
        (
            {"product": pid, "split": split, "why": why.get(pid, "no accepted item has this product id now")}
            for split, rows in old.items()
            for pid in rows
            if pid not in now
        ),
        key=lambda w: w["product"],
    )


def _held_back_report(
    held_now: list[dict[str, str]], planned: list[dict[str, str]], published: Container[str]
) -> dict[str, Any]:
    """:func:`held_back` of this run's output: the items held back when it planned (``planned``)
    that it did not publish after all (``published``: item keys), whatever a review decided
    while it ran; ``changed_during_run`` names the items whose state changed since (``held_now``:
    the catalog's :func:`held_back_rows` at the end; a review accept or reject while it ran: the
    next publish applies it), said once on stderr too."""
    rows = [h for h in planned if h["item"] not in published]
    then = {(h["item"], h["status"], h["reason"]) for h in planned}
    now = {(h["item"], h["status"], h["reason"]) for h in held_now}
    changed = sorted({item for item, _, _ in then ^ now})
    if changed:
        log.warning(
            "%d %s changed state while this publish ran (first: %s), which it does not include: "
            "run mf publish again",
            len(changed),
            "item" if len(changed) == 1 else "items",
            changed[0],
        )
    return {**_held_back_counts(rows), "changed_during_run": changed}


def _held_back_counts(rows: list[dict[str, str]]) -> dict[str, Any]:
    """``held_back`` (``rows``) and ``held_back_by_reason``: the counts by status and the stage
    that decided (the reason's prefix)."""
    by: dict[str, int] = {}
    for h in rows:
        stage = h["reason"].split(":", 1)[0] if ":" in h["reason"] else "other"
        key = f"{h['status']}/{stage}"
        by[key] = by.get(key, 0) + 1
    return {"held_back": rows, "held_back_by_reason": dict(sorted(by.items()))}


def check_paths(catalog: Catalog, root: Path, out: Path) -> None:
    """Refuse (:class:`PathEscapeError`) a catalog whose accepted rows would make publish read or
    write outside its folders: a product id that is not a plain file name (it names
    ``videos/<pid>_<n>.mp4`` and ``imgs/<pid>.jpg``), or an asset path leaving the collection root."""
    for r in catalog.items(status=Status.ACCEPTED):
        item = f"{r.item.source}/{r.item.source_id}"
        if r.product_id:
            try:
                check_safe_name(r.product_id, what="product id")
            except ValueError as exc:
                raise PathEscapeError(
                    f"accepted item {item}: {exc}; its files would leave the output folder '{out}'",
                    value=r.product_id,
                    what="product_id",
                    root=out,
                    where=str(catalog.path),
                    hint="product ids are written by `mf clean`; rerun it or fix the row",
                ) from None
        for a in catalog.assets(source=r.item.source, source_id=r.item.source_id, status=Status.ACCEPTED):
            if a.path:
                resolve_under(
                    root,
                    a.path,
                    what=f"{a.kind} path of accepted item {item}",
                    where=str(catalog.path),
                    root_label="the collection root",
                )


def _accepted_rows(catalog: Catalog) -> list[ItemRow]:
    """The accepted rows with a class, sorted by product id; CatalogError if `mf clean` did not
    run (a row without product id). A row with a product id but no class (an item cleaning could
    not class, accepted in review) is left out with a warning: it stays unpublished, and the rest
    of the catalog is published."""
    rows = catalog.items(status=Status.ACCEPTED)
    for r in rows:
        if not r.product_id:
            raise CatalogError(
                f"accepted item {r.item.source}/{r.item.source_id} lacks a product id",
                where=str(catalog.path),
                hint="run `mf clean` first",
            )
    classless = [r for r in rows if r.df2_class is None]
    for r in classless:
        log.warning(
            "%s: accepted item %s/%s (product %s) held back: accepted in review without a class: "
            "set one with c on the review page (mf review), then publish again",
            catalog.path,
            r.item.source,
            r.item.source_id,
            r.product_id,
        )
    return sorted((r for r in rows if r.df2_class is not None), key=lambda r: r.product_id or "")


def publish_rule(
    catalog: Catalog, *, seed: int | None = None, test_fraction: float | None = None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The split rule a publish places new products by, and the rule asked for that it does not
    use (None when none). The rule the catalog recorded wins: publish never moves a split, so a
    ``seed``/``test_fraction`` that differs from it is ignored (returned, for a warning); they
    make the rule only of a catalog that recorded none (each one not given: its default)."""
    recorded = recorded_rule(catalog)
    if recorded is None:
        return split_rule(catalog, seed=seed, test_fraction=test_fraction), None
    asked = {k: v for k, v in (("seed", seed), ("test_fraction", test_fraction)) if v is not None}
    if all(recorded[k] == v for k, v in asked.items()):
        return recorded, None
    return recorded, asked


def publish_rule_warning(
    recorded: Mapping[str, Any], ignored: Mapping[str, Any], *, config: str, catalog: str
) -> str:
    """The one line ``mf publish`` prints when ``config`` asks for a split rule other than the
    one ``catalog`` recorded."""
    return (
        f"{config}: the catalog's recorded split rule ({describe_rule(recorded)}) is kept, not the "
        f"config's ({describe_rule(ignored)}): mf publish never moves a split; to change the rule "
        f"run `mf splits rebuild --catalog {catalog} --config {config}` (it may move products), then "
        "publish again"
    )


def _publishable(catalog: Catalog, rule: Mapping[str, Any]) -> list[ItemRow]:
    """The accepted rows (:func:`_accepted_rows`) with splits: products without one are placed
    by ``rule`` (:func:`publish_rule`: the catalog's recorded one when it has one), so every
    pinned split stays where it is."""
    rows = _accepted_rows(catalog)
    if any(r.split is None for r in rows):
        rebuild_splits(catalog, **rule)
        rows = _accepted_rows(catalog)
    return rows


def _read_old_splits(out: Path) -> dict[str, OfficialSplit]:
    """The split files of an earlier publish (their tracklets are kept); DataFormatError when
    one cannot be read, before anything is changed."""
    old: dict[str, OfficialSplit] = {}
    for split in (Split.TRAIN, Split.TEST):
        path = out / f"{split}.json"
        if not path.exists():
            old[str(split)] = {}
            continue
        try:
            old[str(split)] = read_official(path)
        except DataFormatError as exc:
            raise DataFormatError(
                exc.message,
                where=exc.where or str(path),
                hint="fix it or move it away (publish keeps the tracklets it holds); nothing was changed",
            ) from None
    return old


def check_output(out: Path, ours: set[str]) -> None:
    """Refuse an output folder whose media folders leave it (symlinks) or are not folders, or
    hold files publish did not write (``ours``: what earlier publishes recorded): republishing
    removes what no longer belongs, and must never take or list someone else's file. Refused
    too: an output folder holding anything at its top level other than the dataset's own names
    (:data:`DATASET_NAMES`, and hidden ones), since the manifest, Croissant and archive list every
    file of the folder (a catalog, a collection or a session file in it would be published)."""
    if not out.exists():
        return
    if not out.is_dir():
        raise ConfigError("--out is not a folder", where=str(out), hint="pass a folder for the dataset")
    others = sorted(
        f.name + ("/" if f.is_dir() and not f.is_symlink() else "")
        for f in out.iterdir()
        if not f.name.startswith(".")
        and f.name not in DATASET_NAMES
        # the review log an older mf-tracklets review wrote: publish moves it to .review.jsonl
        and not (f.name == LEGACY_REVIEW_LOG and f.is_file() and not f.is_symlink())
    )
    if others:
        listed = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        raise ConfigError(
            f"the output folder holds {len(others)} {'entry' if len(others) == 1 else 'entries'} that are "
            "not part of a published dataset: "
            f"{listed}; nothing was changed",
            where=str(out),
            hint="publish into a new or empty folder, or one mf publish wrote (the manifest, "
            "croissant.json and --archive list every file of the folder); or move those out of it",
        )
    for d in WRITTEN_DIRS:  # written and pruned by publish: never through a link out of the folder
        plain_folder(
            out, d, hint=f"replace {out / d} by a plain folder (or remove it), or choose another --out"
        )
    foreign: list[str] = []
    for d in MEDIA_DIRS:
        folder = out / d
        if not folder.is_dir():  # a plain folder, or none (plain_folder refused anything else)
            continue
        for f in sorted(folder.iterdir()):
            rel = f"{d}/{f.name}"
            if not f.name.startswith(".") and rel not in ours:
                foreign.append(rel + ("/" if f.is_dir() and not f.is_symlink() else ""))
    if foreign:
        foreign.sort()
        listed = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise ConfigError(
            f"the output folder holds {len(foreign)} files mf publish did not write: {listed}; "
            "nothing was changed",
            where=str(out),
            hint="move them out of its media folders (a dataset lists and archives every file), "
            f"or choose another --out; if mf publish wrote them and {STATE_FILE} was lost, rerun "
            "with --rebuild-state (it takes those OUT/manifest.json lists as its own)",
        )


def check_root(catalog: Catalog, root: Path, rows: list[ItemRow]) -> None:
    """Refuse a ``root`` that holds none of the accepted items' collected videos and shop images
    (a wrong --root would empty a published dataset; :func:`~schemas.paths.check_collection_root`).
    Some missing is allowed: a published copy of a file deleted from the root after publishing
    stands (see :meth:`_Publisher.place`)."""
    files: dict[str, list[str]] = {}
    for r in rows:
        assets = catalog.assets(source=r.item.source, source_id=r.item.source_id, status=Status.ACCEPTED)
        files[f"{r.item.source}/{r.item.source_id}"] = [
            a.path for a in assets if a.path and a.kind in (AssetKind.VIDEO, AssetKind.SHOP)
        ]
    check_collection_root(root, files, items="accepted items", nothing="nothing was changed")


def check_unique_ids(catalog: Catalog, groups: list[_Group]) -> None:
    """Refuse two products with one id (their files and entries would overwrite each other)."""
    by_id: dict[str, list[_Group]] = {}
    for g in groups:
        by_id.setdefault(g.product_id, []).append(g)
    for pid, gs in sorted(by_id.items()):
        if len(gs) > 1:
            items = " and ".join(f"{g.rep.item.source}/{g.rep.item.source_id}" for g in gs)
            raise CatalogError(
                f"product id {pid!r} names {len(gs)} products (accepted items {items}); nothing was written",
                where=str(catalog.path),
                hint="product ids are written by `mf clean`; rerun it or fix the rows so each id is one product",
            )


def _image_recipe(pub: _Publisher, rel: str, asset: MediaAsset, want: str) -> str:
    src = pub.source(asset)
    if not src.is_file():  # place() says it is missing, unless the copy it made stands
        prev = pub.state.get(rel)
        return prev["recipe"] if prev else want
    return "copy" if _image_format(src) == want else want


def _entry(
    catalog: Catalog, pub: _Publisher, g: _Group, test_video_before: str | None = None
) -> tuple[DatasetEntry, list[int]]:
    """Place one product's media and describe it; also returns its videos' frame counts.

    ``test_video_before``: the SHA-256 of the collected video the product was published with in
    test before; a test product keeps that video while it is one of its videos."""
    pid, rep = g.product_id, g.rep
    partition, split = Partition(rep.partition or Partition.HARD), Split(rep.split)
    vids = [(r, v) for r in g.rows for v in _accepted(g.assets[_key(r)], AssetKind.VIDEO)]
    left_out = 0
    before = [i for i, (_, v) in enumerate(vids) if test_video_before and v.sha256 == test_video_before]
    if split == Split.TEST and len(vids) > 1 and before:
        left_out, vids = len(vids) - 1, [vids[before[0]]]
    elif split == Split.TEST and len(vids) > 1:
        keep = pick_test_video(
            [
                VideoChoice(
                    v.probe.frames if v.probe else 0,
                    v.probe.width if v.probe else 0,
                    v.probe.height if v.probe else 0,
                    f"{_key(r)}/{v.path}",
                )
                for r, v in vids
            ]
        )
        left_out, vids = len(vids) - 1, [vids[keep]]
    sha: dict[str, str] = {}
    video_paths = []
    for n, (_, v) in enumerate(vids):
        rel = video_relpath(pid, n)
        sha[rel] = pub.place(rel, v, _video_recipe(v))
        video_paths.append(rel)
    shops = [a for r in g.rows for a in _accepted(g.assets[_key(r)], AssetKind.SHOP)]
    if not video_paths or not shops:
        raise CatalogError(
            f"accepted item {pid} has no video or no shop image",
            where=str(catalog.path),
            hint="rerun `mf clean`",
        )
    img_path = shop_relpath(pid, partition)
    fmt = "png" if partition == Partition.HARD else "jpeg"
    sha[img_path] = pub.place(img_path, shops[0], _image_recipe(pub, img_path, shops[0], fmt))
    views: dict[str, str | None] = {}
    for kind in VIEW_KINDS:
        imgs = [a for r in g.rows for a in _accepted(g.assets[_key(r)], kind)]
        views[str(kind)] = None
        if imgs:
            rel = f"{kind}/{pid}.jpg"
            sha[rel] = pub.place(rel, imgs[0], _image_recipe(pub, rel, imgs[0], "jpeg"))
            views[str(kind)] = rel
    meta: dict[str, Any] = {
        "title": rep.item.title,
        "url": rep.item.url,
        "designer": rep.item.designer,
        "colour": rep.item.colour,
        "source_id": rep.item.source_id,
        "video_items": [r.item.source_id for r, _ in vids],
        "source_crops": [v.crop.box if v.crop else None for _, v in vids],
    }
    if len(g.rows) > 1:
        meta["merged_items"] = [r.item.source_id for r in g.rows]
        meta["merged_product_ids"] = [str(r.product_id) for r in g.rows]
    if left_out:
        meta["test_videos_left_out"] = left_out
    entry = DatasetEntry(
        product_id=pid,
        df2_class=rep.df2_class,
        partition=partition,
        split=split,
        source=rep.item.source,
        video_paths=video_paths,
        img_path=img_path,
        front_path=views["front"],
        rear_path=views["rear"],
        fabric_path=views["fabric"],
        video_crops=[None]
        * len(video_paths),  # crops are applied by re-encoding; the loader has nothing to do
        sha256=sha,
        metadata={k: v for k, v in meta.items() if v is not None},
    )
    return entry, [v.probe.frames for _, v in vids if v.probe is not None]


#: collected video files published byte for byte when their codec is H.264: the archive's
#: ``.mp4`` names promise MP4 (or its QuickTime parent) with H.264, what browsers play
_COPY_CONTAINERS = (".mp4", ".m4v", ".mov")
#: ... and their pixels 8-bit 4:2:0 (High 10 and High 4:4:4 do not play in browsers); None: not
#: recorded (a record made by hand)
_COPY_PIX_FMTS = (None, "yuv420p", "yuvj420p")


def _video_recipe(v: MediaAsset) -> str:
    """How publish makes a video from its collected file: 'copy' (an 8-bit 4:2:0 H.264 MP4/MOV
    file), 'crop:x1,y1,x2,y2' (split screen, re-encoded) or 'h264' (any other container, codec or
    pixel format: WebM, AVI, MPEG-TS, HEVC, VP9, 10-bit or 4:4:4 H.264, which browsers do not
    play... re-encoded to 8-bit yuv420p H.264 MP4). A probe without a codec or pixel format
    (records made by hand) counts as H.264 yuv420p."""
    if v.crop is not None:
        return "crop:" + ",".join(f"{x:g}" for x in v.crop.box)
    probe = v.probe if isinstance(v.probe, VideoProbe) else None
    codec = probe.codec if probe else None
    pix_fmt = probe.pix_fmt if probe else None
    suffix = PurePosixPath(v.path or "").suffix.lower()
    plain = codec in (None, "h264") and pix_fmt in _COPY_PIX_FMTS
    return "copy" if suffix in _COPY_CONTAINERS and plain else "h264"


def _even_scale(v: MediaAsset) -> tuple[int, int] | None:
    """The even frame size an 'h264' re-encode of ``v`` scales to (yuv420p needs one), or None
    when the probe's size is already even (or unknown)."""
    p = v.probe
    if not isinstance(p, VideoProbe) or not p.width or not p.height:
        return None
    w, h = p.width // 2 * 2, p.height // 2 * 2
    return None if (w, h) == (p.width, p.height) else (max(2, w), max(2, h))


def held_videos(
    catalog: Catalog,
    entries: list[DatasetEntry],
    recorded: Mapping[str, Any],
    *,
    dataset: Path | None = None,
    known: Container[str] = (),
) -> dict[str, dict[str, str]]:
    """The videos of the products this publish holds back for review whose tracklet files it
    keeps: those :func:`schemas.review.held_for_review` names (under their publish names) of the
    items that are ``needs_review``, or accepted and still unpublished (not rejected in review),
    and that a publish made (``recorded``: the previous state and held records) from the
    collected file and recipe the catalog holds now. Video -> its product and how it was made
    (the :data:`HELD_TRACKLETS` record). A product taken down (rejected) or a video replaced
    is not held: its files go.

    With ``dataset``, a held video no record names (neither ``recorded`` nor ``known``, the
    media files publish wrote) whose tracklet file there is about it and its product is held
    too, as made from the catalog's collected file and recipe: the file an older toolkit kept
    when it held the video back, before held videos were recorded (:func:`_older_held_file`)."""
    published = {e.product_id for e in entries}
    for e in entries:
        published.update(str(m) for m in e.metadata.get("merged_product_ids", []))
    held = [
        h
        for h in held_for_review(catalog, published)
        if h.row.status in (Status.NEEDS_REVIEW, Status.ACCEPTED)
    ]
    kept = {_key(r) for r in apply_review(catalog, [h.row for h in held])}  # rejected in review: out
    out: dict[str, dict[str, str]] = {}
    for h in held:
        if _key(h.row) not in kept:
            continue
        for rel, asset in h.videos:
            rec = recorded.get(rel)
            # "item": the source id of the item it came from (a world scorer maps it by that; the
            # product id has the source's prefix, local-..., tiktok-...)
            if rec and asset.sha256 in (None, rec["src"]) and rec["recipe"] == _video_recipe(asset):
                out[rel] = {
                    "product_id": h.product_id,
                    "src": rec["src"],
                    "recipe": rec["recipe"],
                    "item": h.row.item.source_id,
                }
            elif (
                rec is None
                and rel not in known
                and asset.sha256 is not None
                and dataset is not None
                and _older_held_file(dataset, rel, h.product_id)
            ):
                out[rel] = {
                    "product_id": h.product_id,
                    "src": asset.sha256,
                    "recipe": _video_recipe(asset),
                    "item": h.row.item.source_id,
                }
    return out


def failed_videos(
    groups: Iterable[_Group],
    old_splits: Mapping[str, OfficialSplit],
    state: Mapping[str, Any],
    old_held: Mapping[str, Any],
) -> dict[str, dict[str, str]]:
    """The videos of the products that failed in this publish (``groups``) whose tracklet files it
    keeps, recorded as :func:`held_videos` records them: each video an earlier publish listed for
    the product (``old_splits``) and made (``state``), and each one the last publish kept for it
    (``old_held``: it failed then too). Their ground truth comes back with the first publish
    that makes the video again from the same collected file and recipe (:func:`_held_tracklets`)
    instead of being built and reviewed again."""
    out: dict[str, dict[str, str]] = {}
    for g in groups:
        items = {
            a.sha256: r.item.source_id
            for r in g.rows
            for a in g.assets.get(_key(r), [])
            if a.kind == AssetKind.VIDEO and a.sha256
        }
        listed = [
            rel for split in old_splits.values() if (e := split.get(g.product_id)) for rel in e.video_paths
        ]
        for rel in listed:
            rec = state.get(rel)
            if rec and rel.startswith(f"{VIDEO_DIR}/"):
                out[rel] = {
                    "product_id": g.product_id,
                    "src": rec["src"],
                    "recipe": rec["recipe"],
                    "item": items.get(rec["src"], g.rep.item.source_id),
                }
        out.update({rel: dict(rec) for rel, rec in old_held.items() if rec["product_id"] == g.product_id})
    return out


def _older_held_file(dataset: Path, video: str, product_id: str) -> bool:
    """Whether the tracklet file of held-back ``video`` (``tracklets/<video stem>.json``: a held
    video is listed by no split file, so its file is not per product,
    :func:`schemas.tracklet_names.tracklet_stem`) reads as a tracklet file about ``video`` and
    ``product_id`` (:func:`_kept_file_tracklet` reads it so once the product is accepted)."""
    folder = dataset / TRACKLET_FILES
    path = folder / f"{tracklet_stem(video, product_id, shared=False)}.json"
    if folder.is_symlink() or path.is_symlink() or not path.is_file():
        return False
    try:
        vt = VideoTracklets.model_validate_json(path.read_bytes())
    except (OSError, ValueError):  # unreadable, not a tracklet file: left to the sweep / mf verify
        return False
    return (vt.video, vt.product_id) == (video, product_id)


def _write_held(out: Path, held: Mapping[str, Any]) -> None:
    """Record the held-back videos whose tracklet files publish keeps (:data:`HELD_TRACKLETS`;
    none: no file)."""
    path = out / HELD_TRACKLETS
    if held:
        write_if_changed(path, json.dumps(held, indent=1, sort_keys=True).encode() + b"\n")
    else:
        path.unlink(missing_ok=True)


def _remove_stale_media(out: Path, stale: set[str]) -> int:
    """Delete media an earlier publish (or this one) wrote that no longer belong, ``stale``
    (the older layout's ``shop/`` too); never any other file. Returns how many went."""
    removed = 0
    for rel in sorted(stale):
        path = inside(out, rel, what="published file", root_label="the output folder")
        if path.is_file() or path.is_symlink():
            with local_faults(path):  # a folder it may not change: one line naming it, not a traceback
                path.unlink()
            removed += 1
    for d in MEDIA_DIRS:
        folder = out / d
        if folder.is_dir() and not folder.is_symlink() and not any(folder.iterdir()):
            with local_faults(folder):
                folder.rmdir()
    return removed


def _stale_tracklet_videos(
    stale: set[str],
    old_state: Mapping[str, Any],
    new_state: Mapping[str, Any],
    held: Mapping[str, Any] | None = None,
    old_held: Mapping[str, Any] | None = None,
) -> set[str]:
    """The videos whose tracklet files no longer belong: those publish removes (``stale``: a
    product taken down, a video dropped) or held back before (``old_held``) and neither holds
    back now (``held``, :func:`held_videos`) nor publishes, and those now made from another
    collected file or recipe (their tracklets in the split files are dropped too,
    :func:`_kept_tracklets`)."""
    held, old_held = held or {}, old_held or {}
    videos = f"{VIDEO_DIR}/"
    was_made = {**old_held, **old_state}
    replaced = {
        rel
        for rel in new_state
        if rel.startswith(videos) and (was := _made_from(was_made, rel)) and was != _made_from(new_state, rel)
    }
    gone = {rel for rel in stale if rel.startswith(videos)} | (set(old_held) - set(new_state))
    return (gone - set(held)) | replaced


def _remove_stale_tracklets(out: Path, videos: set[str]) -> int:
    """Delete the tracklet files of ``videos`` (publish wrote them, see
    :func:`_stale_tracklet_videos`): ``tracklets/<video stem>.json`` and every product's
    ``<video stem>@<product>.json`` (:func:`schemas.tracklet_names.split_stem`), each with its
    build record and contact sheet; never any other file. Run under the dataset's lock. Returns
    how many tracklet files went."""
    return len(_remove_tracklet_files(out, _tracklets_of(out, videos)))


def _tracklets_of(out: Path, videos: Iterable[str]) -> list[Path]:
    """The tracklet files of ``videos``: ``<video stem>.json`` and ``<video stem>@<product>.json``."""
    stems = {h for v in videos for h in stem_heads(video_stem(v))}  # a long stem cut in a product's file
    return [p for p in _tracklet_paths(out) if p.stem in stems or split_stem(p.stem)[0] in stems]


def _tracklet_paths(out: Path) -> list[Path]:
    """The tracklet files of ``out`` (``tracklets/*.json``, hidden names aside), sorted; none
    when ``tracklets/`` is a link or not a folder."""
    folder = out / TRACKLET_FILES
    if folder.is_symlink() or not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.json") if not p.name.startswith(".") and p.is_file())


def _file_video(path: Path) -> str | None:
    """The ``video`` a tracklet file says it is about; None when it cannot be read as one."""
    data = read_json_record(path)
    video = data.get("video") if isinstance(data, dict) else None
    return video if isinstance(video, str) else None


def _unlisted_tracklets(out: Path, listed: Iterable[str], held: Iterable[str]) -> list[Path]:
    """The tracklet files of ``out`` about a video that no split file lists (``listed``) and
    publish does not hold back (``held``): a file of a video removed while ``mf-tracklets build``
    ran, which the build wrote again, or one an earlier publish missed. Only a file that is one
    by both counts: its name is no such video's (``<stem>.json`` or ``<stem>@<product>.json``,
    :func:`schemas.tracklet_names.is_tracklet_stem`) and it reads as a tracklet file about an
    unlisted video (a misnamed or unreadable file is left to ``mf verify``'s report)."""
    keep = set(listed) | set(held)
    stems = {h for v in keep for h in stem_heads(video_stem(v))}  # a long stem cut in a product's file
    out_files = []
    for path in _tracklet_paths(out):
        if path.stem in stems or split_stem(path.stem)[0] in stems:
            continue  # named after a listed or held video
        video = _file_video(path)
        if video is None or video in keep or not is_tracklet_stem(path.stem, video):
            continue
        out_files.append(path)
    return out_files


def _remove_tracklet_files(out: Path, paths: Iterable[Path]) -> list[str]:
    """Delete the tracklet files ``paths``, each with its build record and contact sheet (under
    the dataset's lock); returns the ``tracklets/<name>`` of those that went."""
    folder = out / TRACKLET_FILES
    gone = []
    for path in paths:
        for extra in (
            folder / TRACKLET_BUILD_DIR / path.name,
            folder / TRACKLET_SHEET_DIR / f"{path.stem}.png",
        ):
            with local_faults(extra):
                extra.unlink(missing_ok=True)
        with local_faults(path):
            path.unlink(missing_ok=True)
        gone.append(f"{TRACKLET_FILES}/{path.name}")
    return gone


def _made_from(state: Mapping[str, Any], rel: str) -> tuple[str, str] | None:
    """(source SHA-256, recipe) of a published media file as a state file recorded it."""
    rec = state.get(rel)
    return (rec["src"], rec["recipe"]) if rec else None


def _kept_tracklets(
    e: DatasetEntry,
    prev: OfficialEntry | None,
    old_state: Mapping[str, Any],
    new_state: Mapping[str, Any],
) -> list[Any]:
    """The tracklets of each of ``e``'s videos that an earlier publish's entry of the product,
    ``prev``, holds for the same video: the file made from the same collected video with the
    same recipe (whatever its index now: a new video may come before it), or, where either
    publish recorded nothing, the same list of paths; ``{}`` for the others."""
    if prev is None:
        return [{} for _ in e.video_paths]
    same_paths = prev.video_paths == e.video_paths and len(prev.tracklets) == len(e.video_paths)
    out: list[Any] = []
    for i, rel in enumerate(e.video_paths):
        now = _made_from(new_state, rel)
        got: Any = {}
        for j, old_rel in enumerate(prev.video_paths[: len(prev.tracklets)]):
            was = _made_from(old_state, old_rel)
            if (now is not None and was is not None and now == was) or (
                (now is None or was is None) and same_paths and i == j
            ):
                got = prev.tracklets[j]
                break
        out.append(got)
    return out


def _held_tracklets(
    out: Path,
    e: DatasetEntry,
    trk: list[Any],
    old_held: Mapping[str, Any],
    new_state: Mapping[str, Any],
    shared: frozenset[str],
) -> list[Any]:
    """``trk`` (:func:`_kept_tracklets`), with the ground truth of the tracklet file the last
    publish kept for a video of ``e`` it held back (``old_held``) where ``trk`` has none, when
    this publish made the video from the same collected file with the same recipe (``shared``:
    the videos several products of this publish list, whose files are per product)."""
    got = list(trk)
    for i, rel in enumerate(e.video_paths):
        rec = old_held.get(rel)
        if got[i] or rec is None or rec["product_id"] != e.product_id:
            continue
        if _made_from(old_held, rel) == _made_from(new_state, rel):
            got[i] = _kept_file_tracklet(out, rel, e.product_id, shared=rel in shared)
    return got


def _kept_file_tracklet(out: Path, video: str, product_id: str, *, shared: bool) -> dict[str, Any]:
    """The ground truth of the video's tracklet file for ``product_id`` (``tracklets/<video
    stem>.json``, or ``<video stem>@<product>.json`` when several products list it: ``shared``,
    :func:`schemas.tracklet_names.tracklet_stem`) in the official form, when the file reads and
    is about ``video`` and ``product_id``; ``{}`` otherwise (the builder builds it)."""
    path = out / TRACKLET_FILES / f"{tracklet_stem(video, product_id, shared=shared)}.json"
    try:
        vt = VideoTracklets.model_validate_json(path.read_bytes())
    except (OSError, ValueError):  # missing, unreadable, not a tracklet file
        return {}
    return vt.official() if (vt.video, vt.product_id) == (video, product_id) else {}


def _write_official_splits(
    out: Path,
    entries: list[DatasetEntry],
    old_splits: dict[str, OfficialSplit],
    old_state: Mapping[str, Any] | None = None,
    new_state: Mapping[str, Any] | None = None,
    old_held: Mapping[str, Any] | None = None,
    without_tracklets: list[str] | None = None,
) -> set[str]:
    """train.json / test.json, each written only when its bytes change, and the videos they list
    now (those listed with no tracklet box are appended to ``without_tracklets``); tracklets already
    written for unchanged videos are kept
    (:func:`_kept_tracklets`; ``old_state`` / ``new_state``: the previous and this publish's
    records of the media files), and those of the videos the last publish held back taken from
    the tracklet files it kept (:func:`_held_tracklets`, ``old_held``); a product's keys that
    are no field of the format stay as the earlier split files held them."""
    old_state, new_state, old_held = old_state or {}, new_state or {}, old_held or {}
    shared = shared_videos((e.product_id, e.video_paths) for e in entries)
    listed: set[str] = set()
    for split in (Split.TRAIN, Split.TEST):
        path = out / f"{split}.json"
        old = old_splits.get(str(split), {})
        official = {}
        for e in entries:
            if e.split != split:
                continue
            trk = _kept_tracklets(e, old.get(e.product_id), old_state, new_state)
            trk = _held_tracklets(out, e, trk, old_held, new_state, shared)
            if without_tracklets is not None:
                without_tracklets.extend(rel for rel, t in zip(e.video_paths, trk, strict=True) if not t)
            # keys of the product's entry that are no field of the format (added by hand or by
            # another tool) stay, in their place, wherever the product was listed before
            prev = old.get(e.product_id) or next(
                (s[e.product_id] for s in old_splits.values() if e.product_id in s), None
            )
            official[e.product_id] = OfficialEntry(
                video_paths=e.video_paths,
                img_path=e.img_path,
                source=PARTITION_SOURCE_CODE[e.partition],
                tracklets=trk,
                **((prev.model_extra or {}) if prev is not None else {}),
            )
            if prev is not None:
                official[e.product_id]._key_order = prev._key_order
            listed.update(e.video_paths)
        write_if_changed(path, json_bytes(path, dump_official(official), indent=None))
    return listed


#: the version of the plots' drawing: a change to how they are drawn bumps it, so every plot is
#: drawn again by the next publish
PLOTS_VERSION = 1
#: the PNG text key holding what a plot was drawn from (:func:`write_plots`)
PLOT_KEY = "Source"


def _plot_key(name: str, data: Any) -> str:
    """What the plot ``name`` is drawn from, as a digest (with :data:`PLOTS_VERSION`)."""
    blob = json.dumps([PLOTS_VERSION, name, data], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def _drawn_from(path: Path) -> str | None:
    """The key a plot file was drawn from (its PNG text :data:`PLOT_KEY`); None when the file is
    not there, does not read as a PNG, or has no key (drawn by an older version, or edited)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            key = im.info.get(PLOT_KEY) if im.format == "PNG" else None
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    return key if isinstance(key, str) else None


def write_plots(folder: Path, entries: list[DatasetEntry], frames: list[int]) -> set[str]:
    """Draw the dataset's plots (:data:`PLOTS`) into ``folder`` where what they show changed; a
    plot whose file says it was drawn from the same data (its :data:`PLOT_KEY`) is left as it is,
    and matplotlib is not imported at all when none is drawn. Returns the dataset paths
    (``plots/<name>``) written."""
    data = {
        PLOTS[0]: sorted([e.df2_class, str(e.partition)] for e in entries),
        PLOTS[1]: sorted(frames),
    }
    draw = {
        PLOTS[0]: lambda k: class_histogram_png(entries, k),
        PLOTS[1]: lambda k: frames_histogram_png(frames, k),
    }
    written = set()
    for name in PLOTS:
        key = _plot_key(name, data[name])
        if _drawn_from(folder / name) == key:
            continue
        if write_if_changed(folder / name, draw[name](key)):
            written.add(f"plots/{name}")
    return written


def _png(fig, key: str | None = None) -> bytes:
    buf = io.BytesIO()
    meta = {"Software": None} | ({PLOT_KEY: key} if key is not None else {})
    fig.savefig(buf, format="png", dpi=100, metadata=meta)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _plt():
    from schemas.library_state import pyplot

    return pyplot()


def class_histogram_png(entries: list[DatasetEntry], key: str | None = None) -> bytes:
    """Bar chart of the products per class, Regular and Hard stacked (``key``: see :func:`write_plots`)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4))
    ids = list(DF2_CLASSES)
    reg = [sum(e.df2_class == i and e.partition == Partition.REGULAR for e in entries) for i in ids]
    hard = [sum(e.df2_class == i and e.partition == Partition.HARD for e in entries) for i in ids]
    ax.bar(ids, reg, label="Regular")
    ax.bar(ids, hard, bottom=reg, label="Hard")
    ax.set_xticks(ids, [DF2_CLASSES[i] for i in ids], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("products")
    ax.set_title("Products per class")
    ax.legend()
    fig.tight_layout()
    return _png(fig, key)


def frames_histogram_png(frames: list[int], key: str | None = None) -> bytes:
    """Histogram of the published videos' frame counts (``key``: see :func:`write_plots`)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(np.array(sorted(frames) or [0]), bins=20)
    ax.set_xlabel("frames per video")
    ax.set_ylabel("videos")
    ax.set_title("Frames per video")
    fig.tight_layout()
    return _png(fig, key)
