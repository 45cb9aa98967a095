"""What the closing verify of ``mf publish`` learnt by decoding each medium, so a rerun need not.

Decoding the first, middle and last frames of every video is most of a publish rerun's time at
the archive's size (~28 ms a video: ~7 min for 15K videos). ``mf publish`` therefore keeps, in
the hidden :data:`DECODED_MEMO` of the dataset folder, one record per medium that decoded: its
file stamp (size, modification and change times in ns, inode) taken before decoding, and for a
video what the decode found (frames, size, frames an edit list hides). The next publish's verify
decodes only the media whose stamp differs (written again, replaced, copied elsewhere, touched)
or that have no record; the other checks run in full. ``mf verify`` never reads it: it decodes
everything, as an audit must. A memo that does not read is ignored (everything is decoded).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.atomic import write_if_changed
from schemas.text_input import read_json_record

#: the memo's file name, in the dataset folder (hidden: in no manifest or zip)
DECODED_MEMO = ".publish-decoded.json"
VERSION = 1

Stamp = list[int]


def file_stamp(path: Path) -> Stamp | None:
    """(size, mtime_ns, ctime_ns, inode) of ``path``, None when it cannot be read."""
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def read_memo(root: Path) -> dict[str, dict[str, Any]]:
    """``rel -> {"stamp": [...], "facts": {...} | None}`` ({} when absent or unreadable)."""
    data = read_json_record(root / DECODED_MEMO)
    media = data.get("media") if isinstance(data, dict) and data.get("version") == VERSION else None
    if not isinstance(media, dict):
        return {}
    return {
        rel: rec
        for rel, rec in media.items()
        if isinstance(rec, dict) and isinstance(rec.get("stamp"), list) and len(rec["stamp"]) == 4
    }


def write_memo(root: Path, media: dict[str, dict[str, Any]]) -> None:
    """Write the memo (atomically; left as it is when its bytes would not change)."""
    data = {"version": VERSION, "media": dict(sorted(media.items()))}
    write_if_changed(root / DECODED_MEMO, json.dumps(data, separators=(",", ":")).encode() + b"\n")
