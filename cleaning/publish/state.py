"""Publish's own records in the output folder: the state file (``.publish-state.json``: each
media file it wrote and how) and the journal of a running publish (``.publish-journal``), read
and validated; the media files an earlier publish owns."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cleaning.publish.layout import MEDIA_DIRS
from movingfashion.archive.describe import read_manifest
from schemas.errors import DataFormatError
from schemas.naming import check_safe_name

STATE_FILE = ".publish-state.json"

#: Media files a running publish is about to write, one per line, and once one is written, its
#: record as a JSON line (``{"rel": ..., "src": ..., "recipe": ..., "out": ...}``); removed once
#: the state file records them. A rerun after a killed publish knows those files are its own, and
#: keeps each one it finished that still holds what its record says (:meth:`_Publisher.place`).
JOURNAL_FILE = ".publish-journal"


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


def _made_from(state: Mapping[str, Any], rel: str) -> tuple[str, str] | None:
    """(source SHA-256, recipe) of a published media file as a state file recorded it."""
    rec = state.get(rel)
    return (rec["src"], rec["recipe"]) if rec else None
