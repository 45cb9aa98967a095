"""Placing media files in the output folder (:class:`_Publisher`): checked against the
catalog, made again only when their source or recipe changed, journaled while a run writes
them, and recorded in the state file at the end."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path
from typing import Any

from cleaning.publish.recipes import _even_scale
from cleaning.publish.state import JOURNAL_FILE, STATE_FILE, _read_journal, _read_state, _rebuilt_ownership
from movingfashion.media.ffmpeg import transcode
from movingfashion.media.images import encode_image, read_image
from schemas.atomic import atomic_copy, atomic_write_bytes, sha256_file
from schemas.errors import MediaError
from schemas.faults import local_faults, require_free_space
from schemas.items import MediaAsset, VideoProbe
from schemas.paths import inside, resolve_under

REPAIR_HINT = "restore the collected file (rerun mf-collect for the item, then mf clean) and publish again"

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
