"""A dataset path never reaches FFmpeg as a protocol URL (``tcp:``, ``concat:``, ``file:``).

Dataset files refuse such names (:func:`schemas.paths.check_relpath`), paths joined onto a root
are absolute (:func:`schemas.paths.resolve_under`), and the decoders open every file by its
absolute path (:func:`schemas.paths.media_path`), so a relative ``tcp:HOST:PORT/v.mp4`` is a file.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from movingfashion.media.ffmpeg import transcode
from movingfashion.media.probe import count_decodable_frames, probe_video
from movingfashion.media.readers import BackendUnavailable, open_reader
from schemas.errors import MFError
from schemas.paths import PROTOCOL_HINT
from tests.mf_cli import run_mf
from tests.movingfashion.helpers import write_video


class Listener:
    """A loopback TCP port that counts the connections it is offered."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.hits: list[tuple[str, int]] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop accepting and end the thread (a close alone leaves accept() blocked, and a
        thread left blocked in this process is inherited by every later fork of it)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self.sock.close()
        self.thread.join(timeout=5)

    def _accept(self) -> None:
        try:
            while True:
                conn, addr = self.sock.accept()
                self.hits.append(addr)
                conn.close()
        except OSError:
            pass


@pytest.fixture
def listener() -> Iterator[Listener]:
    lst = Listener()
    yield lst
    lst.close()
    assert not lst.thread.is_alive()


def _rename_first_video(root: Path, new: str) -> str:
    """Point the first train product's first video at ``new``, a copy of the file under that name;
    returns the product id."""
    train = json.loads((root / "train.json").read_text())
    pid = next(iter(train))
    old = train[pid]["video_paths"][0]
    (root / new).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(root / old, root / new)
    train[pid]["video_paths"][0] = new
    (root / "train.json").write_text(json.dumps(train))
    return pid


@pytest.mark.parametrize("name", ["tcp:127.0.0.1:{port}/v.mp4", "concat:videos/a.mp4|videos/b.mp4"])
def test_verify_with_root_dot_breaks_on_a_protocol_path_and_connects_nowhere(
    archive_dir, tmp_path, monkeypatch, capsys, listener, name
):
    root = tmp_path / "ds"
    shutil.copytree(archive_dir, root)
    new = name.format(port=listener.port)
    pid = _rename_first_video(root, new)
    monkeypatch.chdir(root)
    code, out, err = run_mf(["verify", "--dataset", ".", "--json"], capsys)
    assert code == 1, out + err
    check = {c["check"]: c for c in json.loads(out)["checks"]}["canonical_paths"]
    assert check["status"] == "break" and pid in json.dumps(check) and "protocol" in json.dumps(check)
    assert PROTOCOL_HINT in json.dumps(check) and "write it relative" not in json.dumps(check)  # what to do
    assert listener.hits == []


def test_the_loader_with_root_dot_refuses_a_protocol_path(tiny_dataset, tmp_path, monkeypatch, listener):
    from movingfashion.dataset import MovingFashionDataset

    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    _rename_first_video(root, f"tcp:127.0.0.1:{listener.port}/v.mp4")
    monkeypatch.chdir(root)
    with pytest.raises(MFError, match="protocol"):
        MovingFashionDataset(".", "train", frames=2)
    assert listener.hits == []


@pytest.mark.parametrize("backend", ["pyav", "opencv", "torchcodec", "decord"])
def test_readers_open_a_protocol_like_relative_name_as_a_file(tmp_path, monkeypatch, listener, backend):
    """``tcp:HOST:PORT/v.mp4`` and ``concat:v.mp4`` in the current folder are files to every reader."""
    monkeypatch.chdir(tmp_path)
    names = [f"tcp:127.0.0.1:{listener.port}/v.mp4", "concat:v.mp4"]
    write_video(tmp_path / names[0], 12)
    write_video(tmp_path / names[1], 12)
    write_video(tmp_path / "v.mp4", 7)  # what concat: would read instead
    for name in names:
        try:
            reader = open_reader(name, backend=backend)
        except BackendUnavailable as exc:
            pytest.skip(f"{backend}: {exc}")
        try:
            assert len(reader) == 12 and reader.get([0, 11]).shape[0] == 2
        finally:
            reader.close()
    assert listener.hits == []


def test_probe_and_transcode_open_a_protocol_like_relative_name_as_a_file(tmp_path, monkeypatch, listener):
    monkeypatch.chdir(tmp_path)
    name = f"tcp:127.0.0.1:{listener.port}/v.mp4"
    write_video(tmp_path / name, 12)
    write_video(tmp_path / "v.mp4", 7)
    assert probe_video(name).frames == 12
    assert count_decodable_frames(name) == 12
    write_video(tmp_path / "concat:v.mp4", 12)
    assert probe_video("concat:v.mp4").frames == 12
    transcode(name, "file:out.mp4")
    assert probe_video(tmp_path / "file:out.mp4").frames == 12
    assert listener.hits == []
