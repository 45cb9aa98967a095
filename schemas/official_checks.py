"""The archive's invariants that an official split file's JSON alone shows: one home for each rule,
used by ``mf schema validate`` (:func:`split_findings`) and ``mf verify``
(:mod:`movingfashion.archive.verify`, which turns each :class:`Finding` into a break).

**Errors or findings.** :func:`schemas.official.read_official` refuses (an *error*, exit 2) what
a loader cannot use correctly: a missing or mistyped field, a path leaving the dataset folder, a
box that is not 4 finite numbers with ``x1 <= x2`` and ``y1 <= y2``, a frame key not written as a
plain integer, a key written twice. What a loader reads correctly but the real archive never
holds is a *finding* here, tolerated by the reader so that this project's older datasets and any
released file still load, reported by ``mf schema validate`` and ``mf verify`` alike (exit 1),
each naming the file (or split), the product, the field and the fix:

- ``source`` other than 0 (Hard) or 1 (Regular) (:func:`source_findings`): 2 is this project's
  older code for Hard, read as Hard;
- a video not under ``videos/``, a shop image not under ``imgs/`` or whose suffix is not its
  partition's (:func:`path_findings`);
- a product listing a video twice (:func:`repeated_video_findings`);
- a test product without exactly one video (:func:`one_test_video_findings`);
- a number of tracklets other than of videos (:func:`tracklet_count_findings`; the writer keeps
  them, see :mod:`schemas.official`);
- a box of zero width or height, or reaching left of or above the picture
  (:func:`box_problem`, :func:`tracklet_findings`): a detector's degenerate box is no reason to
  refuse a file (one numpy pass, :func:`archive_boxes_valid`, vouches for a tracklet whose boxes
  all pass; the per-box rule runs only on the others, and words their finding);
- a product id, video or shop image in two split files (:func:`split_overlaps`);
- two videos that would share one tracklet file (:func:`tracklet_name_findings`).

Videos and shop images shared by two products of one split are allowed (the real test split has
13 such videos: one video, two garments).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, NamedTuple

from schemas.geometry import EXACT_IN_FLOAT, finite_number, plain_box_array
from schemas.official import LEGACY_SHOP_DIR, SHOP_DIR, SHOP_SUFFIX, VIDEO_DIR, OfficialSplit
from schemas.paths import UnsafePathValue, check_relpath
from schemas.taxonomy import ARCHIVE_SOURCE_CODES, LEGACY_HARD_SOURCE_CODE, partition_from_source_code
from schemas.tracklet_names import TRACKLET_NAME_HINT, tracklet_name_clashes

#: What to do about a file of this project's older layout.
REPUBLISH = "republish with `mf publish`, which writes the archive's layout"
#: The fix of a tracklet whose boxes break a rule.
REBUILD = "rebuild the tracklet (mf-tracklets build --force)"

#: what to do about tracklet frame keys past a video's last frame (``mf verify`` and the loader):
#: ``mf-tracklets build --force`` fixes only a tracklet the detector chose; the archive's own ground
#: truth and a person's correction are kept by a build, so dropping the frames is the fix there
PAST_END_HINT = (
    "drop those frames from the split file's tracklet; a tracklet the detector chose can be built "
    "again instead (mf-tracklets build --force), not the archive's own ground truth or a person's "
    "correction, which a build keeps (--discard-corrections replaces them with the detector's)"
)


@dataclass(frozen=True)
class Finding:
    """One broken invariant: ``check`` is the ``mf verify`` check that audits it, ``where`` the
    split (``train``, ``test``) or the file, ``product`` the product id (None: the file)."""

    check: str
    where: str | None
    product: str | None
    field: str
    problem: str
    fix: str

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def line(self) -> str:
        """One line naming the file, product and field, the problem and the fix."""
        who = f"product '{self.product}': " if self.product is not None else ""
        return f"{self.where}: {who}field '{self.field}': {self.problem} ({self.fix})"


class Holder(NamedTuple):
    """What a product names, for the rules across products: its id, videos and shop image."""

    pid: str
    videos: Sequence[str]
    img: str | None


def _finding(check: str, pid: str | None, fld: str, problem: str, fix: str) -> Finding:
    return Finding(check, None, pid, fld, problem, fix)


def source_findings(pid: str, source: int) -> list[Finding]:
    """``source`` is one of the archive's codes, 0 (Hard) or 1 (Regular)."""
    if source in ARCHIVE_SOURCE_CODES:
        return []
    fix = (
        f"write 0 for Hard: {LEGACY_HARD_SOURCE_CODE} is the code of this project's older datasets "
        f"({REPUBLISH})"
        if source == LEGACY_HARD_SOURCE_CODE
        else "write 0 for Hard or 1 for Regular"
    )
    return [_finding("source_codes", pid, "source", f"{source} is not an archive code", fix)]


def is_canonical(rel: str) -> bool:
    """Whether ``rel`` is a canonical relative path (:func:`schemas.paths.check_relpath`)."""
    try:
        check_relpath(rel)
    except UnsafePathValue:
        return False
    return True


def prefix_findings(pid: str, fld: str, rel: str, *, is_video: bool) -> list[Finding]:
    """A video lies under ``videos/``, a shop image under ``imgs/`` (``rel`` canonical)."""
    want = VIDEO_DIR if is_video else SHOP_DIR
    if rel.startswith(want + "/"):
        return []
    if not is_video and rel.startswith(LEGACY_SHOP_DIR + "/"):
        fix = f"shop/ is this project's older layout: move the image to {SHOP_DIR}/, or {REPUBLISH}"
    else:
        fix = f"move the file under {want}/ and update {fld}"
    return [_finding("prefixes", pid, fld, f"'{rel}' is not under {want}/", fix)]


def shop_suffix_findings(pid: str, img: str, source: int) -> list[Finding]:
    """A Hard shop image is ``.png``, a Regular one ``.jpg`` (``img`` canonical)."""
    part = partition_from_source_code(source)
    want = SHOP_SUFFIX[part]
    have = PurePosixPath(img).suffix
    if have == want:
        return []
    return [
        _finding(
            "shop_suffix",
            pid,
            "img_path",
            f"a {part.value.title()} shop image ends in '{have or '(nothing)'}', not '{want}'",
            f"store it as {with_suffix(img, want)} ({'PNG' if want == '.png' else 'JPEG'}) "
            f"and update img_path, or {REPUBLISH}",
        )
    ]


def with_suffix(rel: str, suffix: str) -> str:
    """Where a shop image with ``suffix`` goes in the archive's layout."""
    p = PurePosixPath(rel)
    name = p.with_suffix(suffix).name
    parent = p.parent.as_posix()
    if parent in (LEGACY_SHOP_DIR, ".") or not parent.startswith(SHOP_DIR):
        parent = SHOP_DIR
    return f"{parent}/{name}"


def repeated_video_findings(pid: str, videos: Sequence[str]) -> list[Finding]:
    """No product lists a video twice."""
    out, seen = [], set()
    for i, v in enumerate(videos):
        if v in seen:
            out.append(
                _finding(
                    "repeats",
                    pid,
                    f"video_paths[{i}]",
                    f"'{v}' is listed twice by this product",
                    "remove the repeated video (and its tracklet) from video_paths",
                )
            )
        seen.add(v)
    return out


def one_test_video_findings(pid: str, videos: Sequence[str]) -> list[Finding]:
    """A test product has exactly one video."""
    if len(videos) == 1:
        return []
    return [
        _finding(
            "test_one_video",
            pid,
            "video_paths",
            f"a test product has {len(videos)} videos",
            "keep one video per test product (mf publish keeps the longest); drop the others from "
            "test.json, never move them to train",
        )
    ]


def tracklet_count_findings(pid: str, tracklets: Sequence[Any], videos: Sequence[Any]) -> list[Finding]:
    """One tracklet per video (checked when ``tracklets`` is given at all)."""
    if len(tracklets) == len(videos):
        return []
    return [
        _finding(
            "schema",
            pid,
            "tracklets",
            f"{len(tracklets)} tracklets for {len(videos)} videos",
            "give tracklets[i] for video_paths[i] ({} for a video without one)",
        )
    ]


def box_problem(box: Any) -> str | None:
    """Why ``box`` is not an archive box, as far as it shows without its frame: 4 finite numbers
    with ``0 <= x1 < x2`` and ``0 <= y1 < y2`` (the frame bounds ``x2`` and ``y2``); None if it is."""
    if not isinstance(box, list | tuple) or len(box) != 4 or not all(finite_number(v) for v in box):
        return "not 4 finite numbers"
    x1, y1, x2, y2 = box
    if x1 < 0 or y1 < 0:
        return "left of or above the picture"
    if x2 <= x1 or y2 <= y1:
        return "zero width" if x2 == x1 else "zero height" if y2 == y1 else "x2 < x1 or y2 < y1"
    return None


def archive_boxes_valid(boxes: list[Any], width: int | None = None, height: int | None = None) -> bool:
    """Whether every one of ``boxes`` surely passes :func:`box_problem` (and, given ``width`` and
    ``height``, has ``x2 <= width`` and ``y2 <= height``), checked in one numpy pass: lists of 4 plain
    ints or floats below 2**53 (:func:`~schemas.geometry.plain_box_array`), ``0 <= x1 < x2`` and
    ``0 <= y1 < y2``.

    False decides nothing: ask :func:`box_problem` box by box, which says which box and why (or
    passes what this check leaves to it: a tuple, a numpy number, 1e300).
    """
    if not boxes:
        return True
    xy = plain_box_array(boxes)
    if xy is None:
        return False
    x1, y1, x2, y2 = xy.T
    ok = (x1 >= 0) & (y1 >= 0) & (x2 > x1) & (y2 > y1)
    if width is not None or height is not None:
        if not all(type(n) is int and abs(n) < EXACT_IN_FLOAT for n in (width, height)):
            return False
        ok &= (x2 <= width) & (y2 <= height)
    return bool(ok.all())


def tracklet_findings(pid: str, index: int, trk: Mapping[str, Any]) -> list[Finding]:
    """The boxes of tracklet ``index`` pass :func:`box_problem` (one numpy pass vouches for a
    tracklet whose boxes all do: :func:`archive_boxes_valid`)."""
    if archive_boxes_valid(list(trk.values())):
        return []
    bad = [(key, box, why) for key, box in trk.items() if (why := box_problem(box)) is not None]
    if not bad:
        return []
    first = "; ".join(f"{key}: {box!r} ({why})" for key, box, why in bad[:2])
    return [
        _finding(
            "tracklets",
            pid,
            f"tracklets[{index}]",
            f"{len(bad)} boxes not [x1, y1, x2, y2] with 0 <= x1 < x2, 0 <= y1 < y2 (first: {first})",
            f"drop those frames' boxes or clip them to the frame, or {REBUILD}",
        )
    ]


def entry_findings(
    pid: str,
    videos: Sequence[str],
    img: str | None,
    source: int,
    tracklets: Sequence[Mapping[str, Any]] | None,
    *,
    test: bool,
) -> list[Finding]:
    """Every per-product rule above for one product read by the reader (``test``: of test.json)."""
    out = source_findings(pid, source)
    paths = [(f"video_paths[{i}]", v, True) for i, v in enumerate(videos)]
    for fld, rel, is_video in [*paths, *([("img_path", img, False)] if img is not None else [])]:
        if is_canonical(rel):
            out += prefix_findings(pid, fld, rel, is_video=is_video)
    if img is not None and is_canonical(img):
        out += shop_suffix_findings(pid, img, source)
    out += repeated_video_findings(pid, videos)
    if test:
        out += one_test_video_findings(pid, videos)
    if tracklets is not None:
        out += tracklet_count_findings(pid, tracklets, videos)
        for i, trk in enumerate(tracklets):
            out += tracklet_findings(pid, i, trk)
    return out


_OVERLAP: dict[str, tuple[str, str, str]] = {
    "id": ("product id", "(product id)", "keep the product in one split: remove it from test.json"),
    "video": ("video", "video_paths", "a video belongs to one split: remove it from the test product"),
    "img": ("shop image", "img_path", "a shop image belongs to one split: drop the test product"),
}


def split_overlaps(splits: Mapping[str, Iterable[Holder]]) -> tuple[int, list[Finding]]:
    """No product id, video or shop image in two splits (by path): (how many were compared, one
    finding per one in a later split of ``splits``, which names the first split holding it)."""
    owners: dict[str, dict[str, list[tuple[str, Holder]]]] = {k: defaultdict(list) for k in _OVERLAP}
    for where, holders in splits.items():
        for h in holders:
            owners["id"][h.pid].append((where, h))
            for v in dict.fromkeys(h.videos):
                owners["video"][v].append((where, h))
            if h.img is not None:
                owners["img"][h.img].append((where, h))
    checked, out = 0, []
    for kind, by_key in owners.items():
        what, fld, fix = _OVERLAP[kind]
        for key, held in sorted(by_key.items()):
            checked += 1
            home = held[0][0]
            later = next(((w, h) for w, h in held if w != home), None)
            if later is None:
                continue
            pids = sorted({h.pid for w, h in held if w == home})
            problem = f"{what} '{key}' is also in {home} (product {', '.join(pids[:3])})"
            fix_ = fix + " (mf splits rebuild + mf publish keep groups in one split)"
            out.append(Finding("leakage", later[0], later[1].pid, fld, problem, fix_))
    return checked, out


def tracklet_name_findings(rows: Iterable[tuple[str, str, str]]) -> list[Finding]:
    """No two videos share one tracklet file (:func:`schemas.tracklet_names.tracklet_name_clashes`;
    ``rows``: ``(video, product, split)``)."""
    return [
        Finding(
            "tracklets",
            split,
            pid,
            "video_paths",
            f"video {vp!r} and {first_vp!r} (product {first_pid} in {first_split}) would share one "
            f"tracklet file, tracklets/{key}.json: mf-tracklets refuses the folder",
            TRACKLET_NAME_HINT,
        )
        for key, (first_vp, first_pid, first_split), (vp, pid, split) in tracklet_name_clashes(rows)
    ]


def split_findings(splits: Mapping[str, OfficialSplit], *, tests: Container[str] = ()) -> list[Finding]:
    """Every finding of the split files ``splits`` (file or split name -> what the reader read),
    in their order (a later one is named for what it shares with an earlier one); ``tests`` names
    those of the test split, whose products must have one video each."""
    out: list[Finding] = []
    for where, split in splits.items():
        for pid, e in split.items():
            tracklets = e.tracklets if "tracklets" in e.model_fields_set else None
            found = entry_findings(pid, e.video_paths, e.img_path, e.source, tracklets, test=where in tests)
            out += [dataclasses.replace(f, where=where) for f in found]
    holders = {w: [Holder(pid, e.video_paths, e.img_path) for pid, e in s.items()] for w, s in splits.items()}
    out += split_overlaps(holders)[1]
    out += tracklet_name_findings(
        (v, pid, w) for w, s in splits.items() for pid, e in s.items() for v in e.video_paths
    )
    return out
