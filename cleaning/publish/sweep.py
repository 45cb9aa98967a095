"""Removing what no longer belongs to the dataset: media an earlier publish wrote, and the
tracklet files (with their build records and contact sheets) of videos removed, made anew or
listed nowhere; never a file publish did not write."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cleaning.publish.layout import MEDIA_DIRS
from cleaning.publish.state import _made_from
from movingfashion.archive.verify import TRACKLET_BUILD_DIR, TRACKLET_FILES, TRACKLET_SHEET_DIR
from schemas.faults import local_faults
from schemas.official import VIDEO_DIR
from schemas.paths import inside
from schemas.text_input import read_json_record
from schemas.tracklet_names import is_tracklet_stem, split_stem, stem_heads, video_stem


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
