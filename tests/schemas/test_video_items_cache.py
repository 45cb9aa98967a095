"""``VideoItemsCache`` reads ``entries.jsonl`` once per version of the file (its size, mtime_ns and
inode), not once per question: the review page asks per decision (a merged product's video is
checked for the item that brought it in), and a large dataset's file was read each time."""

from __future__ import annotations

import json
import os

from schemas import video_items as module
from schemas.video_items import VideoItemsCache


def _write(path, rows: dict[str, list[str]]) -> None:
    text = "".join(
        json.dumps({"product_id": p, "metadata": {"video_items": v}}) + "\n" for p, v in rows.items()
    )
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)  # as mf publish writes it: a new file in place of the old


def test_the_file_is_read_once_while_it_is_unchanged_and_again_once_it_changes(tmp_path, monkeypatch):
    reads = []
    read = module.read_entry_rows
    monkeypatch.setattr(module, "read_entry_rows", lambda p: reads.append(p) or read(p))
    cache = VideoItemsCache()
    assert cache.get(tmp_path) == {} and reads == []  # no file: nothing read, nothing listed
    entries = tmp_path / "entries.jsonl"
    _write(entries, {"P": ["P", "X"]})
    for _ in range(5):
        assert cache.get(tmp_path) == {"P": ["P", "X"]}
    assert len(reads) == 1, reads
    # a publish writes it again: read again, whatever the mtime's resolution (a new inode)
    _write(entries, {"P": ["P"]})
    assert cache.get(tmp_path) == {"P": ["P"]} and len(reads) == 2, reads
    # an edit in place that keeps its size is seen by its mtime
    st = entries.stat()
    entries.write_text(entries.read_text().replace('"P"]', '"Q"]'))
    os.utime(entries, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert cache.get(tmp_path) == {"P": ["Q"]} and len(reads) == 3, reads
    entries.unlink()
    assert cache.get(tmp_path) == {} and len(reads) == 3
