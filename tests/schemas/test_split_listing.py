"""split_listing: what a split file lists (ids, video and shop image paths), read once per process
while the file stays the same, and equal to what read_official_rows gives."""

from __future__ import annotations

import json
import os
import threading

import pytest

from schemas.errors import DataFormatError
from schemas.official import parse_official, read_official, read_official_rows, split_listing, write_official


def _split(n: int, *, bad: str | None = None) -> dict:
    out = {
        f"p{i}": {
            "video_paths": [f"videos/p{i}_0.mp4", f"videos/p{i}_1.mp4"],
            "img_path": f"imgs/p{i}.jpg",
            "source": i % 2,
            "tracklets": [{"0": [1, 2, 3, 4]}, {}],
        }
        for i in range(n)
    }
    if bad is not None:
        out[bad]["tracklets"] = [{"0": [5, 2, 3, 4]}]
    return out


def _expected(path) -> tuple:
    good, bad = read_official_rows(path)
    return tuple((pid, tuple(e.video_paths), e.img_path) for pid, e in good.items()), tuple(bad)


@pytest.mark.parametrize("bad", [None, "p1"])
def test_the_listing_is_read_official_rows(tmp_path, bad):
    path = tmp_path / "train.json"
    path.write_text(json.dumps(_split(3, bad=bad)))
    listing = split_listing(path)
    assert tuple(listing) == _expected(path)
    assert [pid for pid, _ in listing.bad] == ([] if bad is None else [bad])


def test_a_split_read_is_listed_without_parsing_it_again(tmp_path, split_loads):
    path = tmp_path / "train.json"
    path.write_text(json.dumps(_split(3)))
    read_official(path)
    assert split_listing(path) == split_listing(path) and split_loads == ["train.json"]
    assert tuple(split_listing(path)) == _expected(path)


def test_a_changed_split_is_read_again(tmp_path):
    path = tmp_path / "train.json"
    path.write_text(json.dumps(_split(3)))
    first = split_listing(path)
    write_official(path, read_official(path) | {"p9": read_official(path)["p0"]})  # a new file
    assert [pid for pid, *_ in split_listing(path).products] == ["p0", "p1", "p2", "p9"]
    text = path.read_text()
    path.write_text(text.replace('"p0"', '"q0"'))  # in place, same size, maybe the same tick
    assert [pid for pid, *_ in split_listing(path).products] == ["q0", "p1", "p2", "p9"]
    assert first.products[0][0] == "p0"


def test_an_unreadable_split_raises_like_read_official_rows(tmp_path):
    path = tmp_path / "test.json"
    for text in (None, "[1, 2]", '{"a": '):
        if text is not None:
            path.write_text(text)
        with pytest.raises(DataFormatError) as want:
            read_official_rows(path)
        with pytest.raises(DataFormatError) as got:
            split_listing(path)
        assert str(got.value) == str(want.value)


def test_a_split_from_a_pipe_reads_as_the_file_does(tmp_path):
    """A pipe (``<(...)``) is read once, by the reader: nothing takes its first bytes before."""
    text = json.dumps(_split(2000))
    assert len(text) > 3 * 65536
    fifo = tmp_path / "train.json"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_text, args=(text,))
    writer.start()
    try:
        got = read_official(fifo)
    finally:
        writer.join(timeout=10)
    assert got == parse_official(json.loads(text))
