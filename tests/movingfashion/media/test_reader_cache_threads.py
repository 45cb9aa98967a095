"""A :class:`ReaderCache` keeps an evicted reader open only while a *live* thread got it last.

It used to remember the last reader of every thread that ever used it, dead ones too: a caller
decoding from a fresh thread pool per batch (a notebook, a web service) kept one more open
decoder per exited thread, unbounded, and ``clear()`` closed none of them."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from movingfashion.media import readers
from movingfashion.media.readers import ReaderCache, read_frames


@pytest.fixture
def counted(monkeypatch):
    """The readers the cache opens and those it closes (by id), whatever the backend."""
    opened: dict[int, object] = {}
    closed: set[int] = set()
    real_open, real_close = readers.open_reader, readers._close_quietly

    def open_reader(*args, **kwargs):
        reader = real_open(*args, **kwargs)
        opened[id(reader)] = reader  # held: ids stay unique
        return reader

    def close_quietly(reader):
        closed.add(id(reader))
        real_close(reader)

    monkeypatch.setattr(readers, "open_reader", open_reader)
    monkeypatch.setattr(readers, "_close_quietly", close_quietly)
    return lambda: len(set(opened) - closed)


def _videos(root: Path) -> list[str]:
    videos = sorted(str(p) for p in (root / "videos").glob("*.mp4"))
    assert len(videos) >= 4
    return videos


def test_readers_last_used_by_exited_threads_are_closed(tiny_dataset, counted):
    videos = _videos(tiny_dataset)
    cache = ReaderCache(size=1)
    for batch in range(12):  # a fresh pool per batch of requests, one video per thread at a time
        with ThreadPoolExecutor(3) as pool:
            wanted = [videos[i % len(videos)] for i in range(batch * 3, batch * 3 + 3)]
            list(pool.map(lambda video: read_frames(video, [0], cache=cache), wanted))
    # at most the cached one and the last ones of the 3 threads of the last pool stay open
    assert counted() <= 1 + 3
    cache.clear()  # every thread that used it has exited: nothing stays open
    assert counted() == 0
    assert cache._retired == [] and cache._latest == {}


def test_a_live_thread_keeps_its_last_reader_past_clear(tiny_dataset, counted):
    videos = _videos(tiny_dataset)
    cache = ReaderCache(size=1)
    got, release = threading.Event(), threading.Event()

    def decode_then_wait() -> None:
        read_frames(videos[0], [0], cache=cache)
        got.set()
        release.wait(120)  # still "decoding" with its reader (released at the end)

    worker = threading.Thread(target=decode_then_wait)
    worker.start()
    try:
        assert got.wait(120)
        read_frames(videos[1], [0], cache=cache)  # evicts the worker's reader: it stays open
        cache.clear()
        assert counted() == 1
    finally:
        release.set()
        worker.join(10)
    cache.clear()  # the worker has exited: its reader is closed now
    assert counted() == 0
