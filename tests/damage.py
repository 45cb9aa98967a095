"""Test helpers that damage files the way disks and crashes do, and that compare trees and catalogs."""

from __future__ import annotations

import random
from pathlib import Path


def sqlite_page_size(path: Path) -> int:
    """The page size a SQLite file declares in its header (bytes 16-17; 1 means 65536)."""
    with open(path, "rb") as fh:
        head = fh.read(100)
    size = int.from_bytes(head[16:18], "big")
    return 65536 if size == 1 else size


def corrupt_mid_file(path: Path, seed: int = 0, pages: int = 2) -> bytes:
    """Overwrite ``pages`` pages in the middle of a SQLite file with seeded noise (the header page
    stays intact, as a bad sector or a torn write would leave it); returns the new bytes."""
    page = sqlite_page_size(path)
    data = bytearray(path.read_bytes())
    n = len(data) // page
    assert n >= pages + 2, f"{path}: {n} pages is too small to damage in the middle"
    rng = random.Random(seed)
    first = max(1, n // 2 - pages // 2)
    for p in range(first, first + pages):
        data[p * page : (p + 1) * page] = rng.randbytes(page)
    path.write_bytes(bytes(data))
    return bytes(data)


def catalog_rows(path: Path) -> dict[str, list[tuple[str, ...]]]:
    """Every row of ``items``, ``assets`` and ``meta``, all columns but the row id and timestamps
    (``events`` is a log: runs that were stopped or killed add lines to it)."""
    import sqlite3

    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        out = {}
        for table in ("items", "assets", "meta"):
            cur = db.execute(f"SELECT * FROM {table}")
            cols = [d[0] for d in cur.description]
            keep = [i for i, c in enumerate(cols) if c not in ("id", "created_at", "updated_at")]
            out[table] = sorted(tuple(str(r[i]) for i in keep) for r in cur.fetchall())
        return out
    finally:
        db.close()


def memo_facts(path: Path) -> str:
    """Publish's decode memo (``movingfashion.archive.decoded_memo``) without its file stamps
    (this disk's inodes and times, which differ by folder): the media and facts it records."""
    import json

    media = json.loads(path.read_text())["media"]
    return json.dumps({k: v["facts"] for k, v in media.items()}, sort_keys=True)


def tree_sha(folder: Path) -> dict[str, str | list[str]]:
    """Every file under ``folder`` (hidden ones too) by SHA-256, catalog files left out (compare
    those with :func:`catalog_rows`); yt-dlp's download archive, a set written in completion order
    (yt-dlp reads it into a set; an item killed after yt-dlp noted it but before the catalog did
    is fetched again and noted twice), as its sorted distinct lines; publish's decode memo, whose
    stamps are this disk's inodes and times, as the media and facts it records."""
    import hashlib

    from movingfashion.archive.decoded_memo import DECODED_MEMO

    out: dict[str, str | list[str]] = {}
    for p in sorted(folder.rglob("*")) if folder.is_dir() else []:
        if not p.is_file() or p.name.startswith("catalog.sqlite"):
            continue
        rel = p.relative_to(folder).as_posix()
        if p.name == ".ytdlp-archive.txt":
            out[rel] = sorted(set(p.read_text().splitlines()))
        elif p.name == DECODED_MEMO:
            out[rel] = memo_facts(p)
        else:
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


class FullDisk:
    """``os.fsync`` failing with ENOSPC from its ``after``-th call on (every atomic write syncs
    before its rename): a disk that fills up part way through a command. Use with monkeypatch."""

    def __init__(self, after: int) -> None:
        import os

        self.after, self.calls, self._fsync = after, 0, os.fsync

    def __call__(self, fd: int) -> None:
        import errno

        self.calls += 1
        if self.calls >= self.after:
            raise OSError(errno.ENOSPC, "No space left on device")
        self._fsync(fd)


#: the text of a box no JSON reader takes, by kind: a malformed number, and a frame key written
#: twice in one tracklet (``KEY`` stands for the frame key)
UNREADABLE_BOXES = {
    "malformed number": "[12.5e, 20, 30, 40]",
    "frame key twice": '[10, 20, 30, 40], "KEY": [10, 20, 30, 40]',
}


def unreadable_box(path: Path, product_id: str, kind: str, key: str = "0", video: int = 0) -> str:
    """Rewrite split file ``path`` (JSON) with frame ``key`` of ``product_id``'s tracklet ``video``
    holding an :data:`UNREADABLE_BOXES` box of ``kind``: the file no longer decodes as JSON
    (a strict reader refuses it whole). Returns the entry's text as written, for a test to find
    it unchanged in the file afterwards."""
    import json

    data = json.loads(path.read_text())
    data[product_id]["tracklets"][video][key] = "@UNREADABLE@"
    entry = json.dumps({product_id: data[product_id]})[1:-1]
    bad = UNREADABLE_BOXES[kind].replace("KEY", key)
    text = json.dumps(data).replace('"@UNREADABLE@"', bad)
    path.write_text(text)
    return entry.replace('"@UNREADABLE@"', bad)


def tree_bytes(root) -> dict[str, bytes]:
    """Every file under ``root`` by its relative path, with its bytes; publish's decode memo, whose
    stamps are this disk's inodes and times, as the media and facts it records."""
    from movingfashion.archive.decoded_memo import DECODED_MEMO

    def content(p: Path) -> bytes:
        return memo_facts(p).encode() if p.name == DECODED_MEMO else p.read_bytes()

    root = Path(root)
    return {p.relative_to(root).as_posix(): content(p) for p in sorted(root.rglob("*")) if p.is_file()}


def assert_same_tree(got: dict, want: dict, what: str = "") -> None:
    """Fail, when two file trees (``{path: bytes}``, e.g. :func:`tree_bytes`) differ, with what
    differs (:func:`tree_difference`: the files only one side has, each differing file's JSON
    values or sizes), not pytest's dump of every file's bytes (hundreds of KB in CI, which shows
    a failure's whole diff, and only its tail in the log)."""
    if got != want:
        head = f"{what}: " if what else ""
        raise AssertionError(head + "the trees differ\n" + tree_difference(got, want))


def _first_difference(x: bytes, y: bytes) -> str:
    """Where two files that are not JSON first differ: the line of a text file, else the byte."""
    try:
        tx, ty = x.decode().splitlines(), y.decode().splitlines()
    except UnicodeDecodeError:
        at = next((i for i, (u, v) in enumerate(zip(x, y, strict=False)) if u != v), min(len(x), len(y)))
        return f"{len(x)} vs {len(y)} bytes, first difference at byte {at}"
    n = next((i for i, (u, v) in enumerate(zip(tx, ty, strict=False)) if u != v), min(len(tx), len(ty)))
    line = (tx[n] if n < len(tx) else "<end>")[:160], (ty[n] if n < len(ty) else "<end>")[:160]
    return f"{len(tx)} vs {len(ty)} lines, line {n + 1}: {line[0]!r} != {line[1]!r}"


def tree_difference(a: dict[str, bytes], b: dict[str, bytes], limit: int = 6) -> str:
    """What differs between two :func:`tree_bytes` (for an assertion's message): the files only
    one side has, and for each JSON file on both sides with other bytes the first ``limit`` leaf
    values that differ (``path/to/key: a != b``), so a rare mismatch says which value moved."""
    import json

    lines = [f"only in the first: {sorted(set(a) - set(b))}"] if set(a) - set(b) else []
    lines += [f"only in the second: {sorted(set(b) - set(a))}"] if set(b) - set(a) else []

    def leaves(value, at=""):
        if isinstance(value, dict):
            for k, v in value.items():
                yield from leaves(v, f"{at}/{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                yield from leaves(v, f"{at}[{i}]")
        else:
            yield at, value

    for name in sorted(set(a) & set(b)):
        if a[name] == b[name]:
            continue
        try:
            la, lb = dict(leaves(json.loads(a[name]))), dict(leaves(json.loads(b[name])))
        except ValueError:
            lines.append(f"{name}: {_first_difference(a[name], b[name])}")
            continue
        moved = [
            f"{k}: {la.get(k)!r} != {lb.get(k)!r}"
            for k in sorted(set(la) | set(lb))
            if la.get(k) != lb.get(k)
        ]
        lines.append(f"{name}: {len(moved)} values differ: " + "; ".join(moved[:limit]))
    return "\n".join(lines)
