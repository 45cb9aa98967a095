"""``mf verify``: audit a MovingFashion-format dataset folder against the real archive's invariants.

Works on a folder ``mf publish`` wrote and on the official archive unpacked (``train.json`` /
``test.json`` beside ``videos/`` and ``imgs/``). Each check below yields *breaks*; a break names
the split, the product, the field, what is wrong and how to fix it.

================  ================================================================================
check             invariant
================  ================================================================================
schema            an entry is an object with ``video_paths`` (a non-empty list of strings),
                  ``img_path`` (a string), ``source`` (an integer) and, when present,
                  ``tracklets`` (a list with one object per video)
source_codes      ``source`` is 0 (Hard) or 1 (Regular), the archive's codes
canonical_paths   every path is relative, ``/``-separated, without ``.``, ``..`` or empty parts
prefixes          videos lie under ``videos/``, shop images under ``imgs/``
shop_suffix       Hard shop images are ``.png``, Regular ones ``.jpg`` (by the partition ``source``
                  reads as: 1 Regular, anything else Hard)
repeats           no product id twice in one split file, no product listing a video twice, no key
                  written twice in any JSON object of an entry (JSON keeps the last one silently)
test_one_video    every test product has exactly one video
leakage           no product id, video or shop image in both splits (by path; also by content
                  when ``manifest.json`` gives the files' SHA-256)
files             every referenced file is present (a regular file inside the folder), and no file
                  of the folder is a symlink leaving it (a linked *folder*, such as ``videos/`` on
                  another disk, is trusted as :mod:`schemas.paths` says when it holds a file the
                  split files name under it, else never walked and a break; a file whose real
                  path leaves the folder and its linked folders is a break)
decodable         images decode; videos open and their first, middle and last frames decode
                  (``deep``: every frame decodes); when fewer frames decode than the container
                  declares, every packet is read and decoded: the video is truncated when decoding
                  fails or packets are missing, and valid when an edit list only hides some frames
manifest          when there is a ``manifest.json``: every file it lists is present with that
                  SHA-256, and every file of the folder is listed
tracklets         frame keys are integers in ``0..frames-1`` written without leading zeros (``"7"``,
                  never ``"07"``: one key per frame); boxes are 4 numbers with
                  ``x1 < x2``, ``y1 < y2``, inside the frame; each ``tracklets/*.json`` is of a
                  listed video and a product listing it, and a ``<video>@<product>.json`` of a
                  video several products list, giving the video's frame count and frame size
                  (its ``product_id``, ``video``, ``frames``, ``width`` and ``height`` are read;
                  ``deep``: the whole file is validated too); the files ``mf publish`` keeps for
                  products it holds back for review (:data:`HELD_TRACKLETS`) are passed over
entries           when there is an ``entries.jsonl``: it agrees with the split files (split,
                  paths, partition) and has one row per product id
================  ================================================================================

**Held back.** ``mf publish`` keeps the tracklet files (build records, contact sheets) of the
videos of products it holds back for review, under their publish names, so the review page shows
their boxes and an accept publishes them; it names those videos in the hidden
:data:`HELD_TRACKLETS`. Such files are publish's working state, not part of the published dataset:
:func:`list_dataset` leaves them out (so no manifest, Croissant file list or archive holds them)
and the ``tracklets`` check passes over each one that is about the video and product the record
names; any other file about a video no product lists is still a break.

**One rule, one home.** Every invariant a split file's JSON alone shows (source codes, prefixes,
shop suffix, a video twice in a product, one video per test product, one tracklet per video, a
box's shape without its frame, leakage by path, tracklet file names, NaN in a field) is a
function of :mod:`schemas.official_checks` (or :mod:`schemas.official`), and ``mf schema
validate`` reports the same findings by the same functions. A box's shape (4 finite numbers,
``0 <= x1 < x2``, ``0 <= y1 < y2``) is checked even when its video is missing or does not decode;
the frame's bounds only when it decodes.

A check that cannot run says why (``skipped``: no manifest, no entries file). Videos shared by
two products of one split are allowed (the real test split has 13: one video, two garments), and
so are shop images shared within a split. Input that cannot be audited at all (no folder, no
split file, a split file that is not JSON or not an object) raises
:class:`~schemas.errors.DataFormatError` (exit 2).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import posixpath
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, TypeVar

from movingfashion.archive.decoded_memo import file_stamp, read_memo, write_memo
from movingfashion.archive.report import Break, CheckResult, VerifyReport
from schemas.atomic import sha256_file
from schemas.errors import DataFormatError, MFError, validation_text
from schemas.faults import missing_library
from schemas.naming import check_safe_name
from schemas.official import (
    NONFINITE,
    SHOP_DIR,
    SPLIT_FILE_HINT,
    SPLIT_FILES,
    VIDEO_DIR,
    BadVideo,
    BrokenEntry,
    broken_entry_fields,
    canonical_frame_keys,
    is_frame_key,
    no_splits_hint,
    nonfinite_field,
    past_any_video,
    split_entries_apart,
)
from schemas.official_checks import (
    PAST_END_HINT,
    Finding,
    Holder,
    archive_boxes_valid,
    box_problem,
    one_test_video_findings,
    prefix_findings,
    repeated_video_findings,
    shop_suffix_findings,
    source_findings,
    split_overlaps,
    tracklet_count_findings,
    tracklet_findings,
    tracklet_name_findings,
)
from schemas.paths import (
    CANONICAL_HINT,
    UnsafePathValue,
    check_relpath,
    path_hint,
    resolve_under,
    unicode_form_hint,
)
from schemas.taxonomy import partition_from_source_code
from schemas.text_input import decode_utf8, load_json, read_file_bytes, read_json_record
from schemas.tracklet_names import (
    is_tracklet_stem,
    product_stem_pattern,
    video_stem,
)

if TYPE_CHECKING:
    from schemas.dataset import TrackletFileFrame, TrackletFileHead

#: Folder of the richer per-video tracklet files (``annotations.tracklet_files``).
TRACKLET_FILES = "tracklets"
#: Inside it: the build records (``annotations.tracklet_files``) and the contact sheets
#: (``annotations.sheets``) of its files, one per tracklet file, named as it is.
TRACKLET_BUILD_DIR = ".build"
TRACKLET_SHEET_DIR = "sheets"

#: ``mf publish``'s record of the videos of products it holds back for review whose tracklet files
#: it keeps (hidden): ``{"videos/<product>_<n>.mp4": {"product_id", "src", "recipe"}}``, the
#: collected file (SHA-256) and recipe the video was made from when its tracklets were built.
HELD_TRACKLETS = ".publish-held.json"
HELD_HINT = (
    f"delete {HELD_TRACKLETS} and rerun mf publish (it names the tracklet files publish keeps for "
    "products held back for review)"
)

T = TypeVar("T")
#: ``progress(iterable, desc=..., total=..., unit=...)``: wraps a long loop (a progress bar)
Progress = Callable[..., Iterable[Any]]

SPLITS = ("train", "test")
MANIFEST = "manifest.json"
ENTRIES = "entries.jsonl"

#: Every check, in the order it runs and prints, with the invariant it audits.
CHECKS: dict[str, str] = {
    "schema": "entries have video_paths, img_path, source (and one tracklet per video)",
    "source_codes": "source is 0 (Hard) or 1 (Regular)",
    "canonical_paths": "paths are canonical relative POSIX paths",
    "prefixes": f"videos under {VIDEO_DIR}/, shop images under {SHOP_DIR}/",
    "shop_suffix": "Hard shop images .png, Regular ones .jpg",
    "repeats": "no product twice in a split, no video twice in a product, no key twice in an object",
    "test_one_video": "every test product has exactly one video",
    "leakage": "no product, video or shop image in both splits",
    "files": "every referenced file is present, no file is a link leaving the folder",
    "decodable": "images decode; videos decode (first, middle and last frame, or all with --deep)",
    "manifest": "files match manifest.json (SHA-256), every file listed",
    "tracklets": "frame keys in 0..frames-1, boxes inside the frame; tracklets/*.json parse, each of a "
    "listed video and a product listing it",
    "entries": "entries.jsonl agrees with the split files, one row per product",
}


@dataclass
class _Product:
    """One entry of a split file, as far as it parses."""

    split: str
    pid: str
    videos: list[str]
    img: str | None
    source: int | None
    tracklets: list[Any] | None


@dataclass(frozen=True)
class VideoFacts:
    """Frames that decode, and the frame size, of one video (``hidden``: frames the container
    holds that its edit list hides, as players do; not an error)."""

    frames: int
    width: int
    height: int
    hidden: int = 0


@dataclass(frozen=True)
class DatasetListing:
    """The files of a dataset folder (:func:`list_dataset`)."""

    #: every file as a relative POSIX path (links into the folder or into a linked folder followed)
    files: list[str]
    #: relative path -> real path of every file a symlink takes out of the folder
    escapes: dict[str, str]


class _Object(dict):
    """A JSON object that remembers keys it held more than once (the last value wins, as in json).

    The top-level object of a split file also counts the objects inside it that did
    (``repeats_inside``), so entries are searched for them only when there are some.
    """

    repeated: list[str]
    repeats_inside: int = 0


def _object_hook(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object(pairs)
    seen: set[str] = set()
    obj.repeated = [k for k, _ in pairs if k in seen or seen.add(k)]  # type: ignore[func-returns-value]
    return obj


def _repeated_keys(value: Any) -> Iterator[tuple[str, str]]:
    """``(field, key)`` of every key written twice in an object anywhere inside ``value``."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        at, item = stack.pop()
        if isinstance(item, dict):  # an entry read apart (split_entries_apart) holds no repeats
            for key in getattr(item, "repeated", ()):
                yield at or "(entry)", key
            children: Iterable[tuple[Any, Any]] = item.items()
            name = "{at}.{key}" if at else "{key}"
        else:
            children, name = enumerate(item), "{at}[{key}]"
        stack.extend((name.format(at=at, key=k), v) for k, v in children if isinstance(v, _Object | list))


def _load_split(path: Path) -> tuple[_Object, dict[str, list[BadVideo]]]:
    """A split file as a JSON object, and the products whose entry does not decode (a malformed
    number: each problem naming the product, the video and the frame key; their value is what
    still reads, the bad tracklet as ``{}``, or None); DataFormatError when the file cannot be
    audited at all. The file is read entry by entry when it does not decode whole, as every
    split reader does (:func:`schemas.official.split_entries_apart`): an entry with a key written
    twice is decoded again here, so the repeats check names it."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataFormatError(f"cannot read: {exc.strerror or exc}", where=str(path)) from None
    text = decode_utf8(raw, str(path))  # a byte order mark is dropped, as read_official does
    found: list[_Object] = []
    hint = SPLIT_FILE_HINT

    def hook(pairs: list[tuple[str, Any]]) -> _Object:
        return _count(_object_hook(pairs), found)

    unreadable: dict[str, list[BadVideo]] = {}
    try:
        data = json.loads(text, object_pairs_hook=hook)
    except json.JSONDecodeError:
        apart = split_entries_apart(text, str(path))
        if apart is None:
            load_json(text, str(path), hint=hint)  # says why
            raise
        found.clear()
        data = _Object()
        data.repeated = []
        for pid, value in apart.items():
            if isinstance(value, BrokenEntry):
                try:  # a key written twice: decodes here, the repeats check names it
                    value = json.loads(value.text, object_pairs_hook=hook)
                except (ValueError, RecursionError):
                    value, unreadable[pid] = broken_entry_fields(text, value, pid, str(path))
            data[pid] = value
    except (ValueError, RecursionError):
        load_json(text, str(path), hint=hint)  # fails the same way without the hook, and says why
        raise
    if not isinstance(data, dict):
        raise DataFormatError(
            f"top level must be an object keyed by product id, got {type(data).__name__}",
            where=str(path),
            hint="see the official MovingFashion format",
        )
    data.repeats_inside = sum(obj is not data for obj in found)
    return data, unreadable


def _count(obj: _Object, found: list[_Object]) -> _Object:
    """``obj``, noted in ``found`` when it held a key more than once."""
    if obj.repeated:
        found.append(obj)
    return obj


class _Audit:
    """Runs the checks over one folder and collects their results."""

    def __init__(
        self,
        root: Path,
        deep: bool,
        workers: int,
        progress: Progress | None,
        *,
        trust_manifest: bool = False,
        reuse_decoded: bool = False,
    ) -> None:
        self.root, self.deep, self.workers, self.progress = root, deep, max(1, workers), progress
        self.trust_manifest = trust_manifest
        self.reuse_decoded = reuse_decoded
        self.reused = 0  # media whose decode an earlier publish's verify recorded (not decoded again)
        self.results = {name: CheckResult(name, desc) for name, desc in CHECKS.items()}
        self.products: list[_Product] = []
        self.split_ids: dict[str, list[str]] = {}
        self.repeated: dict[str, list[str]] = {}
        self.repeats_inside: dict[str, int] = {}
        self.safe: set[str] = set()  # canonical paths, the only ones ever opened
        self.present: set[str] = set()
        self.facts: dict[str, VideoFacts] = {}
        self.hashes: dict[str, str] = {}
        self.listing = DatasetListing([], {})

    def add(self, check: str, p: _Product | None, fld: str, problem: str, fix: str) -> None:
        self.results[check].breaks.append(
            Break(check, p.split if p else None, p.pid if p else None, fld, problem, fix)
        )

    def _map(
        self, fn: Callable[[str], T], items: list[str], desc: str, unit: str
    ) -> dict[str, T | Exception]:
        def safe(rel: str) -> T | Exception:
            try:
                return fn(rel)
            except ImportError as exc:  # a library of this machine, not the file: stops the audit
                fault = missing_library(exc)
                if fault is not None:
                    raise fault from exc
                return exc
            except Exception as exc:  # noqa: BLE001 - reported as a break, never raised
                return exc

        with ThreadPoolExecutor(self.workers) as pool:
            out = pool.map(safe, items)
            if self.progress is not None:
                out = self.progress(out, desc=desc, total=len(items), unit=unit)
            return dict(zip(items, out, strict=True))

    # ---------------------------------------------------------------- parsing
    def load(self) -> None:
        if not self.root.is_dir():
            raise DataFormatError(
                "dataset folder not found",
                where=str(self.root),
                hint="--dataset takes the folder holding train.json and test.json",
            )
        found = False
        for split in SPLITS:
            path = self.root / f"{split}.json"
            if not path.is_file():
                continue
            found = True
            data, unreadable = _load_split(path)
            self.split_ids[split] = list(data)
            self.repeated[split] = list(data.repeated)
            self.repeats_inside[split] = data.repeats_inside
            for pid, value in data.items():
                p = self._parse(split, str(pid), value) if value is not None else None
                if pid in unreadable:
                    self._unreadable(split, str(pid), p, value, unreadable[pid])
                if p is not None:
                    self.products.append(p)
        if not found:
            raise DataFormatError(
                "no train.json or test.json",
                where=str(self.root),
                hint=no_splits_hint(self.root, "pass a dataset folder in the official MovingFashion format"),
            )

    def _unreadable(
        self, split: str, pid: str, p: _Product | None, value: Any, problems: list[BadVideo]
    ) -> None:
        """A break per problem of a product whose entry does not decode (a malformed number):
        the field (``tracklets[n]`` of the video when known), what is wrong and how to fix it."""
        if p is None:
            self.results["schema"].checked += 1
        who = p or _Product(split, pid, [], None, None, None)
        videos = value.get("video_paths") if isinstance(value, dict) else None
        videos = videos if isinstance(videos, list) else []
        for b in problems:
            fld = f"tracklets[{videos.index(b.video)}]" if b.video in videos else "(entry)"
            fix = b.error.hint or "fix or remove the entry"
            self.add(
                "schema",
                who,
                fld,
                f"{b.error.message}, in {split}.json",
                f"{fix}; until then the readers hold the product out",
            )

    def _parse(self, split: str, pid: str, value: Any) -> _Product | None:
        res = self.results["schema"]
        res.checked += 1
        who = _Product(split, pid, [], None, None, None)
        if not isinstance(value, dict):
            self.add(
                "schema",
                who,
                "(entry)",
                f"is a {type(value).__name__}, not an object",
                "write the product as an object with video_paths, img_path, source and tracklets",
            )
            return None
        for fld, key in _repeated_keys(value) if self.repeats_inside.get(split) else ():
            self.add(
                "repeats",
                who,
                fld,
                f"key '{key}' is written more than once in this object of {split}.json (only the last "
                "value is read)",
                "keep one value per key: delete the repeated key (a tracklet has one box per frame)",
            )
        videos = value.get("video_paths")
        if not isinstance(videos, list) or not videos:
            self.add(
                "schema",
                who,
                "video_paths",
                "missing or empty" if not videos else f"is a {type(videos).__name__}, not a list",
                'list the product\'s videos: "video_paths": ["videos/<id>_0.mp4"]',
            )
            videos = []
        for i, v in enumerate(videos):
            if not isinstance(v, str):
                self.add(
                    "schema",
                    who,
                    f"video_paths[{i}]",
                    f"is a {type(v).__name__}, not a string",
                    "write each video as its path relative to the dataset folder",
                )
        who.videos = [v for v in videos if isinstance(v, str)]
        img = value.get("img_path")
        if isinstance(img, str):
            who.img = img
        else:
            self.add(
                "schema",
                who,
                "img_path",
                "missing" if img is None else f"is a {type(img).__name__}, not a string",
                'name the shop image: "img_path": "imgs/<id>.jpg" (Regular) or ".png" (Hard)',
            )
        source = value.get("source")
        if isinstance(source, int) and not isinstance(source, bool):
            who.source = source
        else:
            self.add(
                "schema",
                who,
                "source",
                "missing" if source is None else f"{source!r} is not an integer",
                'give the partition code: "source": 0 (Hard) or 1 (Regular)',
            )
        trk = value.get("tracklets")
        if trk is not None:
            if not isinstance(trk, list) or not all(isinstance(t, dict) for t in trk):
                self.add(
                    "schema",
                    who,
                    "tracklets",
                    "is not a list of objects",
                    "write one object per video: frame index -> [x1, y1, x2, y2] ({} when none)",
                )
            elif len(trk) != len(videos):
                self.found(who, tracklet_count_findings(pid, trk, videos))
            else:
                who.tracklets = trk
        extra = {
            k: v for k, v in value.items() if k not in ("video_paths", "img_path", "source", "tracklets")
        }
        if (key := nonfinite_field(extra)) is not None:
            self.add("schema", who, key, *NONFINITE)
        return who

    # ---------------------------------------------------------------- per-entry checks
    def found(self, p: _Product | None, findings: list[Finding]) -> None:
        """Each finding of a shared rule (:mod:`schemas.official_checks`) as a break of its check."""
        for f in findings:
            who = (
                p
                if p is not None or f.product is None
                else _Product(f.where or "", f.product, [], None, None, None)
            )
            self.add(f.check, who, f.field, f.problem, f.fix)

    def codes_paths_and_repeats(self) -> None:
        for p in self.products:
            if p.source is not None:
                self.results["source_codes"].checked += 1
                self.found(p, source_findings(p.pid, p.source))
            fields = [(f"video_paths[{i}]", v, True) for i, v in enumerate(p.videos)]
            if p.img is not None:
                fields.append(("img_path", p.img, False))
            for fld, rel, is_video in fields:
                self.results["canonical_paths"].checked += 1
                try:
                    check_relpath(rel, what=fld)
                except UnsafePathValue as exc:
                    hint = _canonical_suggestion(rel)
                    todo = path_hint(str(exc))
                    if todo == CANONICAL_HINT:
                        todo = f"write it {CANONICAL_HINT.replace('paths must be ', '')}" + (
                            f", e.g. '{hint}'" if hint else ""
                        )
                    self.add("canonical_paths", p, fld, str(exc).split(" (")[0], todo)
                    continue
                self.safe.add(rel)
                self.results["prefixes"].checked += 1
                self.found(p, prefix_findings(p.pid, fld, rel, is_video=is_video))
            if p.img is not None and p.img in self.safe and p.source is not None:
                self.results["shop_suffix"].checked += 1
                self.found(p, shop_suffix_findings(p.pid, p.img, p.source))
            self.results["repeats"].checked += 1
            self.found(p, repeated_video_findings(p.pid, p.videos))
            if p.split == "test":
                self.results["test_one_video"].checked += 1
                self.found(p, one_test_video_findings(p.pid, p.videos))
        for split, pids in self.repeated.items():
            for pid in pids:
                self.add(
                    "repeats",
                    _Product(split, pid, [], None, None, None),
                    "(product id)",
                    f"'{pid}' appears more than once in {split}.json (only the last one is read)",
                    "merge the entries into one (several videos go into one video_paths list)",
                )

    def leakage(self) -> None:
        res = self.results["leakage"]
        holders: dict[str, list[Holder]] = {split: [] for split in SPLITS}
        for p in self.products:
            holders[p.split].append(Holder(p.pid, p.videos, p.img))
        for split, pids in self.split_ids.items():  # entries that did not parse still hold their id
            parsed = {h.pid for h in holders[split]}
            holders[split] += [Holder(pid, [], None) for pid in pids if pid not in parsed]
        checked, findings = split_overlaps(holders)
        res.checked += checked
        by_key = {(p.split, p.pid): p for p in self.products}
        for f in findings:
            self.found(by_key.get((f.where or "", f.product or "")), [f])
        if self.hashes:  # same bytes under two names, one in each split
            by_sha: dict[str, list[tuple[_Product, str]]] = defaultdict(list)
            for p in self.products:
                for rel in {*p.videos, *([p.img] if p.img else [])}:
                    if rel in self.hashes:
                        by_sha[self.hashes[rel]].append((p, rel))
            for owners_ in by_sha.values():
                paths = {rel for _, rel in owners_}
                if len(paths) > 1 and len({q.split for q, _ in owners_}) > 1:
                    test, rel = next((q, r) for q, r in owners_ if q.split == "test")
                    others = sorted({r for q, r in owners_ if q.split == "train"})
                    self.add(
                        "leakage",
                        test,
                        "img_path" if rel == test.img else "video_paths",
                        f"'{rel}' has the same bytes as train's '{others[0]}'",
                        "a duplicate file leaks the test item into train: drop one of them (mf clean "
                        "finds duplicates)",
                    )

    # ---------------------------------------------------------------- files
    def _referrers(self) -> dict[str, list[tuple[_Product, str]]]:
        refs: dict[str, list[tuple[_Product, str]]] = defaultdict(list)
        for p in self.products:
            for i, v in enumerate(p.videos):
                refs[v].append((p, f"video_paths[{i}]"))
            if p.img is not None:
                refs[p.img].append((p, "img_path"))
        return refs

    def files(self) -> None:
        refs = self._referrers()
        self.listing = list_dataset(self.root)
        for rel in sorted(self.safe):
            self.results["files"].checked += 1
            path = resolve_under(self.root, rel, what="path", root_label="the dataset")
            p, fld = refs[rel][0]
            more = f" (also named by {len(refs[rel]) - 1} more)" if len(refs[rel]) > 1 else ""
            try:
                is_file = path.is_file()
                real = outside_link(self.root, rel) if is_file else None
                state = "" if is_file else "not a regular file" if path.exists() else "missing"
            except OSError as exc:  # a name the file system refuses (ENAMETOOLONG), a loop, ...
                self.add(
                    "files",
                    p,
                    fld,
                    f"'{rel}' cannot be checked ({exc.strerror or exc}){more}",
                    "fix the path (or rename the file), or drop the product (and republish)",
                )
                continue
            if real is not None:
                self.add("files", p, fld, f"'{rel}' {_escape_problem(real)}{more}", ESCAPE_FIX)
                continue
            if is_file:
                self.present.add(rel)
                continue
            self.add(
                "files",
                p,
                fld,
                f"'{rel}' is {state}{more}",
                (state == "missing" and unicode_form_hint(self.root, rel))
                or "restore the file, or drop the product (and republish)",
            )
        for rel, real in sorted(self.listing.escapes.items()):
            if rel in self.safe:
                continue  # named by a product: reported above
            self.results["files"].checked += 1
            if os.path.isdir(real):
                self.add("files", None, rel, _folder_escape_problem(real), FOLDER_ESCAPE_FIX)
            else:
                self.add("files", None, rel, _escape_problem(real), ESCAPE_FIX)

    def decodable(self) -> None:
        refs = self._referrers()
        videos = sorted(r for r in self.present if any(f.startswith("video_paths") for _, f in refs[r]))
        images = sorted(self.present - set(videos))
        deep = self.deep
        use_memo = self.reuse_decoded and not deep
        memo = read_memo(self.root) if use_memo else {}
        stamps = {rel: file_stamp(self.root / rel) for rel in (*videos, *images)} if use_memo else {}
        recorded: dict[str, dict[str, Any]] = {}  # what the memo holds after this run

        def video(rel: str) -> VideoFacts:
            return video_facts(self.root / rel, deep=deep)

        def image(rel: str) -> tuple[int, int]:
            from movingfashion.media.probe import probe_image

            info = probe_image(self.root / rel)
            return info.width, info.height

        kinds = (
            ("video", videos, video, "re-download or re-encode the video (H.264 .mp4), or drop the product"),
            (
                "image",
                images,
                image,
                "re-download the image or re-encode it (PNG for Hard, JPEG for Regular)",
            ),
        )
        for kind, rels, decode, fix in kinds:
            to_decode = []
            for rel in rels:
                rec = memo.get(rel)
                facts = _memo_facts(rec) if kind == "video" else None
                if rec is None or rec["stamp"] != stamps.get(rel) or (kind == "video" and facts is None):
                    to_decode.append(rel)
                    continue
                self.results["decodable"].checked += 1
                if facts is not None:
                    self.facts[rel] = facts
                recorded[rel] = rec
                self.reused += 1
            for rel, out in self._map(decode, to_decode, f"decode {kind}s", kind).items():
                self.results["decodable"].checked += 1
                if isinstance(out, Exception):
                    p, fld = refs[rel][0]
                    self.add("decodable", p, fld, f"'{rel}': {_message(out)}", fix)
                    continue
                if isinstance(out, VideoFacts):
                    self.facts[rel] = out
                if stamps.get(rel) is not None:
                    facts_rec = dataclasses.asdict(out) if isinstance(out, VideoFacts) else None
                    recorded[rel] = {"stamp": stamps[rel], "facts": facts_rec}
        if use_memo:
            with contextlib.suppress(OSError):  # a memo not written only costs the next run a decode
                write_memo(self.root, recorded)

    def manifest(self) -> None:
        res = self.results["manifest"]
        path = self.root / MANIFEST
        if not path.is_file():
            res.skipped = f"no {MANIFEST}"
            return
        fix = f"rerun `mf publish` to rewrite {MANIFEST} (the folder changed after publishing)"
        try:
            data = load_json(path.read_bytes(), MANIFEST)
        except OSError as exc:
            self.add("manifest", None, MANIFEST, f"unreadable ({exc.strerror or exc})", fix)
            return
        except DataFormatError as exc:
            self.add("manifest", None, MANIFEST, f"does not read as JSON: {exc.message}", fix)
            return
        listed = data.get("files") if isinstance(data, dict) else None
        if not isinstance(listed, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in listed.items()
        ):
            self.add(
                "manifest",
                None,
                MANIFEST,
                "has no 'files' object of path -> SHA-256",
                fix,
            )
            return
        on_disk = set(self.listing.files)
        wanted = sorted(on_disk | {k for k in listed if _safe(k)})
        trusted = self._trusted(listed, path, [r for r in wanted if r in on_disk])
        hashes = self._map(
            lambda rel: sha256_file(self.root / rel),
            [r for r in wanted if r in on_disk and r not in trusted],
            "sha256",
            "file",
        )
        self.hashes = {**trusted, **{k: v for k, v in hashes.items() if isinstance(v, str)}}
        for rel in sorted(set(listed) | on_disk):
            if rel in self.listing.escapes:
                continue  # a link leaving the folder: the files check reports it
            res.checked += 1
            if rel not in listed:
                self.add("manifest", None, rel, "is in the folder but not in manifest.json", fix)
            elif not _safe(rel):
                self.add("manifest", None, rel, "is not a canonical relative path", fix)
            elif rel not in on_disk:
                self.add(
                    "manifest", None, rel, "is listed in manifest.json but missing", "restore it, or " + fix
                )
            elif self.hashes.get(rel) != listed[rel]:
                self.add(
                    "manifest",
                    None,
                    rel,
                    f"SHA-256 {str(self.hashes.get(rel))[:12]}... differs from the manifest's {listed[rel][:12]}...",
                    fix + " if the change is wanted, else restore the file",
                )

    def _trusted(self, listed: dict[str, str], manifest: Path, present: list[str]) -> dict[str, str]:
        """With ``trust_manifest``: the hashes the manifest lists for the ``present`` files no
        older than it (the caller has just hashed them; one dated in the manifest's own timestamp
        step may have been written after it); {} otherwise (every file is hashed)."""
        if not self.trust_manifest:
            return {}
        until = manifest.stat().st_mtime_ns
        out = {}
        for rel in present:
            if rel in listed and _safe(rel):
                try:
                    if (self.root / rel).stat().st_mtime_ns < until:  # its own tick: hashed
                        out[rel] = listed[rel]
                except OSError:
                    continue  # hashed, and reported there
        return out

    def tracklets(self) -> None:
        self._tracklet_files()
        by_pid = {(p.split, p.pid): p for p in self.products}
        for f in tracklet_name_findings((vp, p.pid, p.split) for p in self.products for vp in p.videos):
            self.found(by_pid.get((f.where or "", f.product or "")), [f])
        for p in self.products:
            for i, trk in enumerate(p.tracklets or []):
                rel = p.videos[i] if i < len(p.videos) else None
                facts = self.facts.get(rel or "")
                if not trk:
                    continue
                if facts is None:  # the video is missing or does not decode: reported there
                    self.found(p, tracklet_findings(p.pid, i, trk))  # what shows without the frame
                    continue
                self.results["tracklets"].checked += 1
                if _tracklet_fits(trk, facts):
                    continue
                odd_keys, bad_keys, bad_boxes = [], [], []  # which keys and boxes, one by one
                for key, box in trk.items():
                    if not is_frame_key(key):
                        if past_any_video(key):  # no frame of any video
                            bad_keys.append(key if len(key) <= 24 else key[:24] + "...")
                        else:
                            (odd_keys if key.isascii() and key.isdigit() else bad_keys).append(repr(key))
                    elif len(key) > len(str(facts.frames)) or int(key) >= facts.frames:
                        bad_keys.append(key)
                    if not _box_inside(box, facts.width, facts.height):
                        bad_boxes.append(f"{key}: {box!r}")
                fld = f"tracklets[{i}]"
                if odd_keys:
                    self.add(
                        "tracklets",
                        p,
                        fld,
                        f"{len(odd_keys)} frame keys written with leading zeros (first: "
                        f"{', '.join(odd_keys[:3])}): readers look a frame up as str(int(key)), so such a "
                        "key is never read and may hide a second box for its frame",
                        "write each frame key as a plain integer ('7', not '07') with one box per "
                        "frame, or rebuild the tracklet (mf-tracklets build --force)",
                    )
                if bad_keys:
                    self.add(
                        "tracklets",
                        p,
                        fld,
                        f"{len(bad_keys)} frame keys not in 0..{facts.frames - 1} of '{rel}' "
                        f"(first: {', '.join(bad_keys[:3])})",
                        PAST_END_HINT,
                    )
                if bad_boxes:
                    # every box fits the frame turned a quarter: boxes of the coded picture of a
                    # video shown rotated (a phone's), which clipping would only make wrong
                    turned = facts.width != facts.height and _boxes_inside(
                        list(trk.values()), facts.height, facts.width
                    )
                    self.add(
                        "tracklets",
                        p,
                        fld,
                        f"{len(bad_boxes)} boxes not [x1, y1, x2, y2] with x1 < x2, y1 < y2 inside the "
                        f"{facts.width}x{facts.height} frame (first: {'; '.join(bad_boxes[:2])})"
                        + (
                            f"; every box fits the {facts.height}x{facts.width} frame: they look drawn on "
                            "the picture before the video's rotation"
                            if turned
                            else ""
                        ),
                        "turn the boxes to the displayed (rotated) picture, or rebuild the tracklet "
                        "(mf-tracklets build --force)"
                        if turned
                        else "clip the boxes to the frame or rebuild the tracklet (mf-tracklets build --force)",
                    )

    def _held(self) -> dict[str, str]:
        """Video -> product of the tracklet files ``mf publish`` keeps for held-back products
        (:data:`HELD_TRACKLETS`); a record that does not read is a break, and holds none."""
        try:
            return {rel: rec["product_id"] for rel, rec in read_held_videos(self.root).items()}
        except DataFormatError as exc:
            self.add("tracklets", None, HELD_TRACKLETS, exc.message, HELD_HINT)
            return {}

    def _tracklet_files(self) -> None:
        """The richer ``tracklets/<video stem>.json`` files parse, and each is about its own video,
        one a product lists, and that product's; a video several products list has one file per
        product, ``<video stem>@<product>.json``, about that product (one that lists the video).
        A file about a video or a product the split files no longer hold (a product taken down) is a
        break: it would publish that product's boxes; so is a product's ``@`` file of a video only
        that product lists now (stale: its file is ``<video stem>.json``). A file of a video of a
        product ``mf publish`` holds back for review (:data:`HELD_TRACKLETS`, the video and product
        it names) is passed over. Only ``product_id``, ``video``, ``frames``, ``width`` and
        ``height`` are read (every field with ``deep``); a file they do not read from is worded as
        the full validation words it. A file whose frame count or size is not its video's is a
        break (:meth:`_tracklet_file_frame`)."""
        folder = self.root / TRACKLET_FILES
        fix = "rebuild it with mf-tracklets build --force (or delete it)"
        unlisted = (
            "delete it, or rerun `mf publish` (a republish removes the tracklet files of the videos "
            "it no longer publishes)"
        )
        unknown = "delete it: it holds the boxes of a product the dataset no longer lists"
        listing: dict[str, set[str]] = {}  # product -> the videos it lists
        owners: dict[str, set[str]] = {}  # video -> the products listing it
        held = self._held()  # video -> the held-back product whose file publish keeps
        for p in self.products:
            listing.setdefault(p.pid, set()).update(p.videos)
            for v in p.videos:
                owners.setdefault(v, set()).add(p.pid)
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            rel = f"{TRACKLET_FILES}/{path.name}"
            self.results["tracklets"].checked += 1
            try:
                vt = _tracklet_file_head(read_file_bytes(path, what="it"), full=self.deep)
            except OSError as exc:
                self.add("tracklets", None, rel, f"unreadable ({exc.strerror or exc})", fix)
                continue
            except DataFormatError as exc:  # a pipe, a device, a folder: never read
                self.add("tracklets", None, rel, exc.message, fix)
                continue
            except ValueError as exc:
                self.add("tracklets", None, rel, f"not a tracklet file ({exc})", fix)
                continue
            stem = video_stem(vt.video)
            # one product's file of a shared video, <video stem>@<its product>
            named = path.stem != stem and is_tracklet_stem(path.stem, vt.video, vt.product_id)
            if not named and stem != path.stem:
                self.add("tracklets", None, rel, f"its video is '{vt.video}', not {path.stem}", fix)
            elif vt.video not in owners and not named and held.get(vt.video) == vt.product_id:
                continue  # kept by mf publish for review: not part of the published dataset
            elif vt.video not in owners:
                self.add("tracklets", None, rel, f"about '{vt.video}', which no product lists", unlisted)
            elif vt.product_id not in listing:
                self.add("tracklets", None, rel, f"about product {vt.product_id}, in no split file", unknown)
            elif vt.video not in listing[vt.product_id]:
                self.add(
                    "tracklets",
                    None,
                    rel,
                    f"{'named for' if named else 'about'} product {vt.product_id}, which does not list "
                    f"'{vt.video}' (products listing it: {', '.join(sorted(owners[vt.video]))})",
                    fix,
                )
            elif not named and len(owners[vt.video]) > 1:
                self.add(
                    "tracklets",
                    None,
                    rel,
                    f"one file for '{vt.video}', which products {', '.join(sorted(owners[vt.video]))} "
                    f"list: each has its own file {TRACKLET_FILES}/{product_stem_pattern(vt.video)}.json",
                    "rerun mf-tracklets build (it builds each product's file and removes this one)",
                )
            elif named and len(owners[vt.video]) == 1:
                self.add("tracklets", None, rel, *_unshared_file_break(folder, path.name, stem, vt))
            else:
                self._tracklet_file_frame(rel, vt)

    def _tracklet_file_frame(self, rel: str, vt: TrackletFileFrame) -> None:
        """A break when tracklet file ``rel`` gives its video another frame count or frame size
        than the video has (probed by the ``decodable`` check; a video that is missing or does not
        decode is reported there): readers take the frame size from the file."""
        facts = self.facts.get(vt.video)
        if facts is None:
            return
        frames_ok = vt.frames in (facts.frames, facts.frames + facts.hidden)
        if frames_ok and (vt.width, vt.height) == (facts.width, facts.height):
            return
        self.add(
            "tracklets",
            None,
            rel,
            f"says '{vt.video}' has {vt.frames} frames of {vt.width}x{vt.height}, but the video has "
            f"{facts.frames} frames of {facts.width}x{facts.height} (a stale file: the video was "
            "replaced or re-encoded after the build, or the fields were edited)",
            "rebuild it with mf-tracklets build --force, or set its frames, width and height to the video's",
        )

    def entries(self) -> None:
        res = self.results["entries"]
        path = self.root / ENTRIES
        if not path.is_file():
            res.skipped = f"no {ENTRIES}"
            return
        from schemas.dataset import read_entry_rows

        fix = f"republish with `mf publish` so {ENTRIES} and the split files agree"
        try:
            rows = read_entry_rows(path)
        except (MFError, OSError, UnicodeDecodeError) as exc:
            self.add("entries", None, ENTRIES, _message(exc), fix)
            return
        except (ValueError, RecursionError) as exc:  # JSON json.loads refuses beyond JSONDecodeError
            why = "nested too deeply" if isinstance(exc, RecursionError) else f"out of range: {_message(exc)}"
            self.add("entries", None, ENTRIES, f"a row does not read as JSON ({why})", fix)
            return
        official = {p.pid: p for p in self.products}
        for pid, n in sorted(_entry_id_counts(path).items()):
            if n > 1:
                res.checked += 1
                self.add(
                    "entries",
                    official.get(pid)
                    or _Product(str(rows[pid].get("split") or ""), pid, [], None, None, None),
                    ENTRIES,
                    f"{n} rows for this product id (two products under one id: one's files overwrite "
                    "the other's)",
                    "give each product its own id (mf clean), then " + fix,
                )
        for p in self.products:
            res.checked += 1
            row = rows.get(p.pid)
            if row is None:
                self.add("entries", p, ENTRIES, "no row for this product", fix)
                continue
            diffs = []
            if row.get("split") != p.split:
                diffs.append(f"split {row.get('split')!r}")
            if row.get("video_paths") != p.videos:
                diffs.append("video_paths")
            if row.get("img_path") != p.img:
                diffs.append("img_path")
            if p.source is not None and row.get("partition") != partition_from_source_code(p.source).value:
                diffs.append(f"partition {row.get('partition')!r} vs source {p.source}")
            if diffs:
                self.add("entries", p, ENTRIES, "row differs from the split file: " + ", ".join(diffs), fix)
        for pid in sorted(set(rows) - set(official)):
            res.checked += 1
            self.add(
                "entries",
                _Product(str(rows[pid].get("split") or ""), pid, [], None, None, None),
                ENTRIES,
                "a row for a product that is in no split file",
                fix,
            )

    def report(self) -> VerifyReport:
        counts = {s: sum(p.split == s for p in self.products) for s in SPLITS if s in self.split_ids}
        return VerifyReport(
            root=str(self.root),
            deep=self.deep,
            products=counts,
            videos=len({v for p in self.products for v in p.videos}),
            images=len({p.img for p in self.products if p.img}),
            checks=list(self.results.values()),
            reused=self.reused,
        )


def _memo_facts(rec: dict[str, Any] | None) -> VideoFacts | None:
    """The video facts a memo record holds (None: none, or not as written)."""
    facts = rec.get("facts") if rec is not None else None
    if not isinstance(facts, dict):
        return None
    try:
        out = VideoFacts(**facts)
    except TypeError:
        return None
    ok = all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in dataclasses.astuple(out))
    return out if ok and out.frames > 0 else None


def _unshared_file_break(folder: Path, name: str, stem: str, vt: TrackletFileHead) -> tuple[str, str]:
    """(problem, fix) of ``name``, product ``vt.product_id``'s file ``<stem>@<product>.json`` of a
    video no other product lists now: a leftover of when several did. The video's file is
    ``<stem>.json`` (what ``mf-tracklets build`` builds and review reads); ``mf publish`` removes
    a video's files only when it stops publishing the video, and the builder only a shared
    video's ``<stem>.json``, so nothing removes this one."""
    plain = f"{TRACKLET_FILES}/{stem}.json"
    problem = (
        f"stale: product {vt.product_id}'s file of a video several products listed, but only "
        f"{vt.product_id} lists '{vt.video}' now: its tracklet file is {plain}"
    )
    record = f"{TRACKLET_FILES}/{TRACKLET_BUILD_DIR}/{name}"
    if (folder / f"{stem}.json").is_file():
        return problem, f"delete it (and its build record {record}): {plain} holds the video's tracklets"
    return problem, (
        f"rename it to {plain} (and {record} to {TRACKLET_FILES}/{TRACKLET_BUILD_DIR}/{stem}.json) to keep "
        f"its tracklets, or delete it and rerun mf-tracklets build, which builds {plain}"
    )


def _tracklet_file_head(data: bytes, *, full: bool) -> TrackletFileFrame:
    """``product_id``, ``video``, ``frames``, ``width`` and ``height`` of a tracklet file's bytes
    (:class:`~schemas.dataset.TrackletFileFrame`, other fields unread); ``full``: the whole file
    is validated (:class:`~schemas.dataset.VideoTracklets`, a TrackletFileFrame too). A file that
    does not read raises ValueError saying where and why, as the full validation words it."""
    from pydantic import ValidationError

    from schemas.dataset import TrackletFileFrame, VideoTracklets

    if not full:
        try:
            return TrackletFileFrame.model_validate_json(data)
        except ValidationError:
            pass  # worded by the full validation below
    try:
        return VideoTracklets.model_validate_json(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        at = ".".join(str(x) for x in err["loc"])
        raise ValueError(f"{at + ': ' if at else ''}{validation_text(err)}") from None


def _entry_id_counts(path: Path) -> dict[str, int]:
    """How many rows of an ``entries.jsonl`` (already read once, so valid) name each product id."""
    counts: dict[str, int] = defaultdict(int)
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                counts[str(load_json(line, str(path))["product_id"])] += 1
    return counts


def video_facts(path: str | os.PathLike[str], *, deep: bool = False) -> VideoFacts:
    """Frames that decode and frame size of a video; MediaError-like exceptions when it fails.

    By default the container is probed and its first, middle and last frames decoded (a
    sequential count only when one of them fails); ``deep`` decodes every frame. When fewer
    frames decode than the container declares, :func:`scan_video` reads every packet: a decoder
    error, a missing packet or no frame at all is a truncated or damaged file; otherwise an edit
    list hides the rest (``hidden``), and ``frames`` is what decodes, as players show it.
    """
    from movingfashion.media.probe import count_decodable_frames, decodable_frames, probe_video
    from schemas.errors import MediaError

    info = probe_video(path)
    n = count_decodable_frames(path) if deep else decodable_frames(path, info.frames)
    if n >= info.frames:
        return VideoFacts(frames=n, width=info.width, height=info.height)
    scan = scan_video(path)
    if scan.error is not None or scan.packets < info.frames or scan.frames == 0:
        why = f"decoding fails after frame {scan.frames}: {scan.error[:80]}" if scan.error else None
        raise MediaError(
            f"only {scan.frames} of the {info.frames} frames it declares decode (truncated or damaged"
            + (f"; {why})" if why else f"; {scan.packets} of its {info.frames} packets are there)")
        )
    # every packet is there and decodes: the edit list hides the rest (a cut made with -c copy)
    return VideoFacts(
        frames=scan.frames, width=info.width, height=info.height, hidden=info.frames - scan.frames
    )


@dataclass(frozen=True)
class VideoScan:
    """A full pass over a video (:func:`scan_video`)."""

    packets: int  #: non-empty packets the demuxer gives (those an edit list hides included)
    discarded: int  #: of which the container marks as hidden by its edit list
    frames: int  #: frames the decoder outputs (what players show)
    error: str | None  #: why decoding stopped early, None when it reached the end


def scan_video(path: str | os.PathLike[str]) -> VideoScan:
    """Demux every packet and decode every frame of a video, noting the first error (slow, exact).

    What tells a truncated file (packets missing, or the decoder fails) from a valid one whose
    edit list hides frames it still stores (``ffmpeg -ss ... -c copy`` cuts): the container's
    declared count is then its packet count, while the decoder outputs fewer frames.
    """
    import av

    from movingfashion.media.logs import quiet_native_logs

    quiet_native_logs()
    packets = discarded = frames = 0
    error: str | None = None
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1
            for packet in container.demux(stream):
                if packet.size:
                    packets += 1
                    discarded += bool(getattr(packet, "is_discard", False))
                for _ in packet.decode():
                    frames += 1
    except Exception as exc:  # noqa: BLE001 - the damaged part ends the scan, and says why
        error = _message(exc)
    return VideoScan(packets, discarded, frames, error)


#: What to do about a file a symlink takes out of the dataset folder.
ESCAPE_FIX = (
    "copy the file into the folder, or link its whole folder (a linked folder such as videos/ on "
    "another disk is trusted); never link single files from outside"
)


def _escape_problem(real: str) -> str:
    return f"is a link to '{real}', outside the dataset folder (it would not be published)"


FOLDER_ESCAPE_FIX = (
    "remove the link, or point it at the dataset's own folder (one holding the files train.json "
    "and test.json name under it)"
)


def _folder_escape_problem(real: str) -> str:
    return (
        f"is a link to the folder '{real}', outside the dataset folder, holding no file the split "
        "files name under it: not walked"
    )


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def outside_link(root: str | os.PathLike[str], rel: str) -> str | None:
    """The real path of the file ``root/rel`` when a symlink takes it out of the folder, else None.

    A symlinked *folder* on the way (``videos/`` on another disk) is trusted, as in
    :mod:`schemas.paths`: a file is inside when its real path lies in the folder or in one of the
    linked folders it is reached through.
    """
    base = Path(root)
    allowed = [os.path.realpath(base)]
    cur = base
    parts = rel.split("/")
    for part in parts[:-1]:
        cur = cur / part
        if cur.is_symlink() and cur.is_dir():
            allowed.append(os.path.realpath(cur))
    real = os.path.realpath(cur / parts[-1])
    return None if any(_inside(real, a) for a in allowed) else real


def _named_paths(root: Path) -> set[str]:
    """The paths the split files of ``root`` name (videos, shop images and the videos' tracklet
    files), read leniently: a split file that does not read names nothing (``mf verify`` reports
    it)."""
    named: set[str] = set()
    for name in SPLIT_FILES:
        data = read_json_record(root / name)
        for entry in data.values() if isinstance(data, dict) else ():
            if not isinstance(entry, dict):
                continue
            videos = entry.get("video_paths")
            for v in videos if isinstance(videos, list) else ():
                if isinstance(v, str):
                    named.add(v)
                    named.add(f"tracklets/{PurePosixPath(v).stem}.json")
            if isinstance(entry.get("img_path"), str):
                named.add(entry["img_path"])
    return named


def _holds_named(folder: str, prefix: str, named: set[str]) -> bool:
    """Whether the linked folder ``folder`` (reached as ``prefix``) holds a file the split files
    name under ``prefix``: it is the dataset's own folder kept elsewhere, not a link to ``/etc``."""
    for rel in named:
        if rel.startswith(prefix) and os.path.isfile(os.path.join(folder, rel[len(prefix) :])):
            return True
    return False


def list_dataset(root: str | os.PathLike[str]) -> DatasetListing:
    """Every file of a dataset folder, and every file a symlink takes out of it.

    Symlinked folders are followed (``videos/`` on another disk), once per branch: a link back to
    a folder above it is not walked again. A linked folder whose real path leaves the folder (and
    the linked folders it is reached through) is walked only when it holds a file the split files
    name under it: any other (``imgs -> /etc``, a link to ``/``) is never walked and is an
    *escape* named by its link. A file counts when its real path lies inside the folder
    or inside a linked folder it is reached through; a file link leaving both is an *escape*,
    listed apart and never in a manifest or a zip. Hidden files and folders (a leading ``.``:
    publish state, locks) are left out of both, and ``manifest.json`` itself out of ``files``; so
    are the tracklet files (and contact sheets) ``mf publish`` keeps for products it holds back
    (:func:`held_tracklet_names`).
    """
    base = Path(root)
    files: list[str] = []
    escapes: dict[str, str] = {}
    named: set[str] | None = None

    def visit(folder: str, prefix: str, chain: frozenset[str], allowed: tuple[str, ...]) -> None:
        nonlocal named
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = prefix + entry.name
            try:
                is_dir = entry.is_dir()
                is_file = not is_dir and entry.is_file()
            except OSError:
                continue
            if is_dir:
                real = os.path.realpath(entry.path)
                if real in chain:
                    continue  # a link back to a folder above it: a loop
                if entry.is_symlink() and not any(_inside(real, a) for a in allowed):
                    named = _named_paths(base) if named is None else named
                    if not _holds_named(entry.path, rel + "/", named):
                        escapes[rel] = real  # never walked
                        continue
                inner = (*allowed, real) if entry.is_symlink() else allowed
                visit(entry.path, rel + "/", chain | {real}, inner)
            elif is_file:
                real = os.path.realpath(entry.path)
                if not any(_inside(real, a) for a in allowed):
                    escapes[rel] = real
                elif rel != MANIFEST:
                    files.append(rel)

    real_root = os.path.realpath(base)
    visit(str(base), "", frozenset({real_root}), (real_root,))
    held = held_tracklet_names(base)
    return DatasetListing([f for f in files if f not in held] if held else files, escapes)


def read_held_videos(root: str | os.PathLike[str]) -> dict[str, dict[str, str]]:
    """The held-back videos whose tracklet files ``mf publish`` keeps (:data:`HELD_TRACKLETS`;
    ``{}`` when there is none); :class:`DataFormatError` when the record does not read."""
    path = Path(root) / HELD_TRACKLETS
    try:
        data = load_json(path.read_bytes(), str(path), hint=HELD_HINT)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise DataFormatError(f"cannot read: {exc}", where=str(path), hint=HELD_HINT) from None
    if not isinstance(data, dict):
        raise DataFormatError("not an object of video -> record", where=str(path), hint=HELD_HINT)
    for rel, rec in data.items():
        if not _held_record_ok(rel, rec):
            raise DataFormatError(
                f"entry {rel!r} is not a video of {VIDEO_DIR}/ with product_id, src and recipe",
                where=str(path),
                hint=HELD_HINT,
            )
    return data


def _held_record_ok(rel: object, rec: object) -> bool:
    """Whether ``rel: rec`` is a record of :data:`HELD_TRACKLETS`."""
    if not (isinstance(rel, str) and rel.startswith(f"{VIDEO_DIR}/") and rel.count("/") == 1):
        return False
    if not (
        isinstance(rec, dict) and all(isinstance(rec.get(k), str) for k in ("product_id", "src", "recipe"))
    ):
        return False
    try:
        check_safe_name(rel.split("/")[1], what="video")
        check_safe_name(rec["product_id"], what="product id")
    except ValueError:
        return False
    return True


def held_tracklet_names(root: str | os.PathLike[str]) -> set[str]:
    """The files of the held-back videos' tracklets (``tracklets/<video stem>.json`` and its
    contact sheet) that :func:`list_dataset` leaves out; none when the record does not read
    (the ``tracklets`` check reports it)."""
    try:
        held = read_held_videos(root)
    except DataFormatError:
        return set()
    stems = {PurePosixPath(rel).stem for rel in held}
    return {f"{TRACKLET_FILES}/{s}.json" for s in stems} | {
        f"{TRACKLET_FILES}/{TRACKLET_SHEET_DIR}/{s}.png" for s in stems
    }


def dataset_files(root: str | os.PathLike[str]) -> list[str]:
    """Every file of a dataset folder as a relative POSIX path, sorted: what a manifest lists.

    Files under symlinked folders are listed; files a symlink takes out of the folder are not
    (:func:`list_dataset`). Hidden files and folders (a leading ``.``: publish state, locks) and
    ``manifest.json`` itself are left out.
    """
    return list_dataset(root).files


def _safe(rel: str) -> bool:
    try:
        check_relpath(rel)
    except UnsafePathValue:
        return False
    return True


def _message(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, MFError) else str(exc) or type(exc).__name__
    return text.splitlines()[0] if text else type(exc).__name__


def _canonical_suggestion(value: object) -> str | None:
    """A canonical form of a path that stays inside the folder, or None."""
    if not isinstance(value, str) or "\x00" in value:
        return None
    text = posixpath.normpath(value.replace("\\", "/")).lstrip("/")
    if text in ("", ".") or text.startswith("..") or not _safe(text):
        return None
    return text


def _box_inside(box: Any, width: int, height: int) -> bool:
    """Whether ``box`` passes :func:`~schemas.official_checks.box_problem` and fits the frame."""
    return box_problem(box) is None and box[2] <= width and box[3] <= height


def _boxes_inside(boxes: list[Any], width: int, height: int) -> bool:
    """Whether every one of ``boxes`` passes :func:`_box_inside` (one numpy pass vouches for them:
    :func:`~schemas.official_checks.archive_boxes_valid`; box by box when it cannot)."""
    return archive_boxes_valid(boxes, width, height) or all(_box_inside(b, width, height) for b in boxes)


def _tracklet_fits(trk: dict[str, Any], facts: VideoFacts) -> bool:
    """Whether tracklet ``trk`` of a video of ``facts`` surely breaks nothing :meth:`_Audit.tracklets`
    checks key by key and box by box: every frame key canonical and in ``0..frames-1``, every box
    :func:`_box_inside` the frame; in a few operations over all keys and one numpy pass over the
    boxes. False decides nothing: the key-by-key, box-by-box loop says what breaks."""
    frames = facts.frames
    if not (trk and type(frames) is int and frames > 0 and canonical_frame_keys(trk)):
        return False
    # canonical keys, and frames, are ordered as numbers when ordered by (length, string)
    if max(zip(map(len, trk), trk, strict=True)) >= (len(str(frames)), str(frames)):
        return False
    return archive_boxes_valid(list(trk.values()), facts.width, facts.height)


def verify_dataset(
    root: str | os.PathLike[str],
    *,
    deep: bool = False,
    workers: int | None = None,
    progress: Progress | None = None,
    trust_manifest: bool = False,
    reuse_decoded: bool = False,
) -> VerifyReport:
    """Audit a dataset folder against every check of :data:`CHECKS` (see the module docstring).

    ``deep`` decodes every frame of every video (slow) and validates every field of the tracklet
    files; by default each video is probed and its first, middle and last frames decoded, and the
    tracklet files' ``product_id`` and ``video`` read. ``workers`` threads decode and hash (default: up to
    4). ``progress`` wraps the long loops. ``trust_manifest``: a file no newer than
    ``manifest.json`` is taken to hold the SHA-256 the manifest lists, not hashed again (for
    ``mf publish``, which has just described the folder; ``mf verify`` hashes every file).
    ``reuse_decoded`` (``mf publish``'s closing verify, not ``deep``): media whose file stamp
    :data:`~movingfashion.archive.decoded_memo.DECODED_MEMO` records are not decoded again, and
    the memo is rewritten with what this run decoded (:mod:`movingfashion.archive.decoded_memo`;
    ``report.reused`` counts them). Raises :class:`DataFormatError` when the folder cannot
    be audited at all; every other problem is a :class:`Break` in the report.
    """
    audit = _Audit(
        Path(root),
        deep,
        workers or min(4, os.cpu_count() or 1),
        progress,
        trust_manifest=trust_manifest,
        reuse_decoded=reuse_decoded,
    )
    audit.load()
    audit.codes_paths_and_repeats()
    audit.files()
    audit.decodable()
    audit.manifest()
    audit.leakage()
    audit.tracklets()
    audit.entries()
    return audit.report()
