"""Which tracklet file holds a product's tracklets of a video: the one home of the naming rule.

A video one product lists (over all the split files of the dataset) has one file,
``tracklets/<video stem>.json``; a video several products list (one social video showing two
garments, each a product) has one file per product, ``tracklets/<video stem>@<product id>.json``.
Everything that reads or writes a tracklet file for a (video, product) asks
:func:`tracklet_stem` (through :func:`annotations.tracklet_files.tracklet_file` in the pipeline
stages), with ``shared`` from :func:`shared_videos` over all the split files. So a leftover
``<stem>@<product>.json`` of a video only that product lists now (the other products dropped
by a republish) is nobody's file: readers take ``<stem>.json``, ``mf verify`` reports it,
``mf-tracklets build`` makes it the video's ``<stem>.json``.

Every name of that form is made and read here: :func:`product_stem` makes one,
:func:`split_stem` reads one (the product id follows the last ``@``: an id is a safe file name,
without one), :func:`is_tracklet_stem` tells whether a file stem is one of a video's, and
:func:`product_key` / :func:`tracklet_key` give the same ``@<product>`` form to keys of a
(video, product) that are not file names (a video path, a review name).

Light (no pydantic model, no file read): the dataset loader, the stages and the archive checks
all import it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from schemas.naming import check_safe_name

__all__ = [
    "PRODUCT_MARK",
    "cut_head",
    "is_tracklet_stem",
    "product_key",
    "product_stem",
    "product_stem_pattern",
    "shared_videos",
    "split_stem",
    "stem_heads",
    "tracklet_key",
    "tracklet_stem",
    "video_stem",
]

#: between the video stem and the product id in the stem of a product's file of a shared video
PRODUCT_MARK = "@"
#: the longest file name file systems take (bytes, UTF-8), and the tracklet files' suffix
NAME_MAX_BYTES = 255
TRACKLET_SUFFIX = ".json"
#: a cut video stem (:func:`cut_head`): its first bytes kept, then ``~`` and this many hex digits
#: of its SHA-256; with a 128-character product id the name stays under NAME_MAX_BYTES
CUT_KEEP_BYTES = 100
CUT_DIGEST_HEX = 16


def shared_videos(listings: Iterable[tuple[str, Iterable[str]]]) -> frozenset[str]:
    """The video paths more than one product lists, over ``(product id, its video paths)`` of
    every entry of every split file (a product listing a video twice, or in two split files,
    shares it with nobody)."""
    owners: dict[str, set[str]] = {}
    for pid, videos in listings:
        for vp in videos:
            owners.setdefault(vp, set()).add(pid)
    return frozenset(vp for vp, pids in owners.items() if len(pids) > 1)


def video_stem(video_path: str) -> str:
    """The stem of a video's file name: the stem of its tracklet file when one product lists it."""
    return Path(video_path).stem


def product_key(name: str, product_id: str) -> str:
    """``<name>@<product id>``, unchecked: a product's own key of a video several products list
    (``name``: the video's stem, its path, a review name), or the name a message shows for it.
    A file name is made by :func:`product_stem`, which checks the id."""
    return f"{name}{PRODUCT_MARK}{product_id}"


def cut_head(stem: str) -> str:
    """A long video stem as it begins a product's file name that would not fit whole: its first
    :data:`CUT_KEEP_BYTES` bytes (whole characters), ``~`` and :data:`CUT_DIGEST_HEX` hex digits of
    its SHA-256 (two long stems that begin alike stay apart)."""
    kept = stem.encode("utf-8", "surrogateescape")[:CUT_KEEP_BYTES].decode("utf-8", "ignore")
    digest = hashlib.sha256(stem.encode("utf-8", "surrogateescape")).hexdigest()[:CUT_DIGEST_HEX]
    return f"{kept}~{digest}"


def stem_heads(stem: str) -> tuple[str, ...]:
    """What a product's file name of the video of stem ``stem`` may begin with, before the
    ``@``: the stem, and for a long one its :func:`cut_head` too."""
    short = cut_head(stem)
    return (
        (stem, short)
        if len(short.encode("utf-8", "surrogateescape")) < len(stem.encode("utf-8", "surrogateescape"))
        else (stem,)
    )


def product_stem(video_path: str, product_id: str) -> str:
    """``<video stem>@<product id>``: the stem of product ``product_id``'s file of a shared video
    (a ``ValueError`` for a product id that is not a safe file name). When that name with
    :data:`TRACKLET_SUFFIX` would pass :data:`NAME_MAX_BYTES` (two products with ids of up to 128
    characters, the video named after one: 264 bytes), the video stem is cut
    (:func:`cut_head`): ``<first bytes>~<digest>@<product id>``, the same for every run."""
    check_safe_name(product_id, what="product id")
    stem = video_stem(video_path)
    whole = product_key(stem, product_id)
    if len(f"{whole}{TRACKLET_SUFFIX}".encode("utf-8", "surrogateescape")) <= NAME_MAX_BYTES:
        return whole
    return product_key(cut_head(stem), product_id)


def product_stem_pattern(video_path: str) -> str:
    """``<video stem>@<product>``: how a message names the per-product files of a shared video."""
    return product_key(video_stem(video_path), "<product>")


def split_stem(stem: str) -> tuple[str, str | None]:
    """``(video stem, product id)`` of a tracklet file stem: ``<video stem>@<product id>`` gives
    both (the id follows the last ``@``: a product id holds none), any other stem ``(stem,
    None)``. A name alone cannot tell ``a@b``, product ``b``'s file of video ``a``, from the file
    of a video called ``a@b``: compare with the video (:func:`is_tracklet_stem`) where it is known."""
    head, mark, pid = stem.rpartition(PRODUCT_MARK)
    return (head, pid) if mark and head and pid else (stem, None)


def is_tracklet_stem(stem: str, video_path: str, product_id: str | None = None) -> bool:
    """Whether ``stem`` names a tracklet file of ``video_path``: the video's own stem, or
    ``<video stem>@<product_id>`` (any product's, when ``product_id`` is None)."""
    own = video_stem(video_path)
    if stem == own:
        return True
    head, pid = split_stem(stem)
    return head in stem_heads(own) and pid is not None and product_id in (None, pid)


def tracklet_stem(video_path: str, product_id: str | None = None, *, shared: bool) -> str:
    """The stem of the tracklet file of ``video_path`` for ``product_id``: ``<video stem>@<product
    id>`` when several products list the video (``shared``), else ``<video stem>``, whichever
    product asks (a ``@`` file of it is a leftover). Without ``product_id``: the file of a video
    one product lists (a ``ValueError`` for a shared one: it has a file per product)."""
    if not shared:
        return video_stem(video_path)
    if product_id is None:
        raise ValueError(f"{video_path}: a video several products list has a tracklet file per product")
    return product_stem(video_path, product_id)


def tracklet_key(name: str, product_id: str, *, shared: bool) -> str:
    """A key of product ``product_id``'s tracklets of a video, named after the video by ``name``
    (its path, say) as :func:`tracklet_stem` names its file: ``<name>@<product id>`` when several
    products list the video (``shared``), else ``name``."""
    return product_key(name, product_id) if shared else name


#: what to do about two videos that would share one tracklet file
TRACKLET_NAME_HINT = (
    "give every video a file name (stem) no other video of the split files has: rename one of the two "
    "files and its entry in video_paths (mf publish names videos <product>_<n>.mp4)"
)
#: one product's listing of a video: (video path, product id, split file name)
Listing = tuple[str, str, str]


def tracklet_name_clashes(listings: Iterable[Listing]) -> list[tuple[str, Listing, Listing]]:
    """Pairs of different videos that would share one tracklet file, as ``(file stem, first
    listing, clashing listing)``: the file is named after the video's stem only
    (``videos/a/clip.mp4`` and ``videos/b/clip.mp4``, or ``clip.mp4`` and ``clip.webm``, are both
    ``clip.json``), plus ``@<product>`` for a video several products list (``x@P1.mp4`` against
    ``x.mp4`` listed by ``P1``); the bare stem counts for a shared video too (an older build's one
    file of it has that name). A video whose stem reads as another listed video's per-product
    file (``x@y.mp4`` beside ``x.mp4``) clashes too, shared or not: removing ``x.mp4``'s files
    would take ``x@y.json`` with them. The one rule ``mf-tracklets`` refuses a folder by and
    ``mf verify`` reports."""
    rows = list(listings)
    shared = shared_videos((pid, [vp]) for vp, pid, _ in rows)
    owner: dict[str, Listing] = {}
    clashes: list[tuple[str, Listing, Listing]] = []
    for row in rows:
        vp, pid, _ = row
        stem = video_stem(vp)
        for key in (stem, product_key(stem, pid)) if vp in shared else (stem,):
            first = owner.setdefault(key, row)
            if first[0] != vp:
                clashes.append((key, first, row))
    by_stem: dict[str, Listing] = {}
    for row in rows:
        by_stem.setdefault(video_stem(row[0]), row)
    for row in rows:
        stem = video_stem(row[0])
        head, pid = split_stem(stem)
        other = by_stem.get(head) if pid is not None else None
        if other is None or other[0] == row[0]:
            continue
        if not any(k == stem and {a[0], b[0]} == {other[0], row[0]} for k, a, b in clashes):
            clashes.append((stem, other, row))  # unless the shared rule above has it
    return clashes
