"""Stale media in a folder publish may not change (read-only file system, no permission) stop
the publish with a local fault naming the file, not a traceback."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from cleaning.publish.sweep import _remove_stale_media
from schemas.errors import LocalFault


def test_stale_media_publish_may_not_remove_is_a_local_fault(tmp_path, monkeypatch):
    out = tmp_path / "ds"
    (out / "imgs").mkdir(parents=True)
    stale = out / "imgs" / "tiktok-1.png"
    stale.write_bytes(b"png")
    plain = Path.unlink

    def unlink(self: Path, missing_ok: bool = False) -> None:
        if self == stale:  # what a read-only mount says (chmod does not stop root)
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        plain(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    with pytest.raises(LocalFault) as exc:
        _remove_stale_media(out, {"imgs/tiktok-1.png"})
    assert exc.value.reason == "read_only_filesystem" and exc.value.path == str(stale)
    assert stale.is_file()
