"""A tracklet file that is not one (a named pipe, a link to a device, bytes that are not UTF-8)
is refused by every reader with one line naming it: never read without bound, never waited on,
never a traceback (the build's rerun check rebuilds it, the loader passes it over)."""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from annotations.builder import read_done_file
from annotations.tracklet_files import read_video_tracklets, tracklet_file, write_video_tracklets
from movingfashion.dataset import read_richer_file
from schemas.dataset import Tracklet, VideoTracklets
from schemas.errors import DataFormatError
from schemas.text_input import read_file_bytes

VIDEO = "videos/1_0.mp4"


def _written(root: Path) -> Path:
    t = Tracklet(video=VIDEO, boxes={0: [1, 2, 30, 40]}, class_id=1)
    vt = VideoTracklets(
        product_id="1", video=VIDEO, frames=5, width=64, height=48, tracklets=[t], ground_truth=0
    )
    write_video_tracklets(root, vt)
    return tracklet_file(root, VIDEO)


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _device(path: Path) -> None:
    path.unlink()
    path.symlink_to("/dev/null")


def _not_utf8(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-1] + b'\xff"}')


def _in_time(fn):  # a reader that waits on a pipe fails here instead of hanging the suite
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result(timeout=30)


@pytest.mark.parametrize(("spoil", "words"), [(_fifo, "a named pipe"), (_device, "a character device")])
def test_not_a_file_is_refused_without_reading(tmp_path, spoil, words):
    path = _written(tmp_path)
    spoil(path)
    with pytest.raises(DataFormatError, match=words) as exc:
        _in_time(lambda: read_file_bytes(path, what="tracklet file"))
    assert exc.value.where == str(path)
    with pytest.raises(DataFormatError, match=words):
        _in_time(lambda: read_video_tracklets(path))
    with pytest.raises(DataFormatError, match=words):
        _in_time(lambda: read_done_file(path))


@pytest.mark.parametrize("spoil", [_fifo, _device, _not_utf8])
def test_the_loader_passes_it_over_with_a_warning(tmp_path, caplog, spoil):
    path = _written(tmp_path)
    assert read_richer_file(path) is not None
    spoil(path)
    with caplog.at_level(logging.WARNING):
        assert _in_time(lambda: read_richer_file(path)) is None
    assert str(path) in caplog.text


def test_not_utf8_is_one_error_naming_the_file(tmp_path):
    path = _written(tmp_path)
    _not_utf8(path)
    with pytest.raises(DataFormatError) as exc:
        read_video_tracklets(path)  # was: a UnicodeDecodeError traceback in build/export/review/qa
    assert exc.value.where == str(path) and "mf-tracklets build" in (exc.value.hint or "")
    with pytest.raises(DataFormatError):
        read_done_file(path)


def test_over_the_limit_is_refused(tmp_path):
    path = tmp_path / "big.json"
    path.write_bytes(b" " * 2048)
    assert read_file_bytes(path, limit=2048) == b" " * 2048
    with pytest.raises(DataFormatError, match="over"):
        read_file_bytes(path, limit=1024)
    with pytest.raises(FileNotFoundError):
        read_file_bytes(tmp_path / "missing.json")
