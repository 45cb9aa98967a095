"""Re-encoded videos go through a temporary file unique to the process and the call, named so
that ``sweep_partials`` removes what a killed run left (two publishes re-encoding one video at
once never write into, or rename away, each other's file)."""

from __future__ import annotations

import os
import subprocess

import pytest

from movingfashion.media import ffmpeg
from movingfashion.media.ffmpeg import encode_frames, transcode
from movingfashion.media.probe import probe_video
from schemas.atomic import _PARTIAL, _UMASK, sha256_file
from tests.movingfashion.helpers import coded_frame


def test_each_encode_writes_its_own_swept_temporary_file(tmp_path, monkeypatch):
    src = encode_frames((coded_frame(i) for i in range(12)), tmp_path / "src.mp4")
    seen: list[str] = []
    real_popen = subprocess.Popen

    def popen(cmd, *args, **kwargs):
        seen.append(cmd[-1])
        return real_popen(cmd, *args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", popen)
    out = tmp_path / "videos" / "p_0.mp4"
    a = transcode(src, out, crop=[0, 0, 64, 48])
    b = transcode(src, out, crop=[0, 0, 64, 48])
    assert len(seen) == 2 and seen[0] != seen[1]  # a new name each time
    for name in seen:
        m = _PARTIAL.fullmatch(os.path.basename(name))
        assert m is not None and m["name"] == "p_0.mp4" and int(m["pid"]) == os.getpid()
    assert a == b == out and sha256_file(out) and probe_video(out).codec == "h264"
    assert out.stat().st_mode & 0o777 == 0o666 & ~_UMASK  # not mkstemp's 0600
    assert sorted(p.name for p in out.parent.iterdir()) == ["p_0.mp4"]  # nothing left behind


def test_a_failed_encode_leaves_no_temporary_file(tmp_path):
    bad = tmp_path / "not-a-video.mp4"
    bad.write_bytes(b"nope")
    with pytest.raises(ffmpeg.MediaError):
        transcode(bad, tmp_path / "out" / "x.mp4")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_refused_rename_leaves_the_old_video_and_no_temporary_file(tmp_path, monkeypatch):
    """The encoded temporary file renamed into place is refused (a read-only remount, a sticky
    folder): the fault names the video, the temporary file goes and the old video stays (was: a
    bare OSError naming the temporary file, which stayed behind)."""
    import errno

    from schemas.errors import LocalFault

    src = encode_frames((coded_frame(i) for i in range(6)), tmp_path / "src.mp4")
    out = tmp_path / "videos" / "p_0.mp4"
    out.parent.mkdir()
    out.write_bytes(b"old")

    def refused(a, b):
        raise OSError(errno.EROFS, "Read-only file system", os.fspath(a), None, os.fspath(b))

    monkeypatch.setattr(os, "replace", refused)
    for make in (lambda: transcode(src, out), lambda: encode_frames((coded_frame(i) for i in range(4)), out)):
        with pytest.raises(LocalFault) as err:
            make()
        assert err.value.reason == "read_only_filesystem" and err.value.path == str(out)
        assert sorted(p.name for p in out.parent.iterdir()) == ["p_0.mp4"] and out.read_bytes() == b"old"
