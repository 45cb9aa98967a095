"""Batch access for the tracklet builder: an opened video plus a prefetching decode thread.

:class:`VideoSource` is a reader from :mod:`movingfashion.media.readers` (any backend of the
registry, ``auto`` by default) with the video's size and frame rate; :func:`prefetch_batches`
decodes the next batch while the caller works on the current one.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from movingfashion.media.readers import FrameReader, decode, open_reader


class VideoSource:
    """An opened video: ``frames``, ``fps``, ``width``, ``height``, ``get_batch``, ``key_indices``."""

    def __init__(self, path: str | os.PathLike[str], backend: str = "auto") -> None:
        self.path = Path(path)
        self._backend_choice = backend
        # the builder reads every (stride-th) frame in order: the registry's whole-video choice
        self._reader: FrameReader | None = open_reader(self.path, backend=backend, access="sequential")
        self.backend = self._reader.backend
        self.frames = len(self._reader)
        self.height, self.width = self._reader.size
        self.fps = self._reader.fps

    @property
    def reader(self) -> FrameReader:
        if self._reader is None:
            raise ValueError(f"{self.path}: video source is closed")
        return self._reader

    def key_indices(self) -> list[int]:
        """Indices of the key frames (every frame when the backend cannot tell)."""
        return self.reader.key_indices()

    def get_batch(self, indices: Sequence[int]) -> np.ndarray:
        """uint8 RGB ``[B, H, W, 3]`` of the given frame indices; MediaError naming the file."""
        return decode(self.reader, indices, backend=self._backend_choice, access="sequential")

    def get_frames(self, indices: Sequence[int]) -> list[np.ndarray]:
        """The frames of :meth:`get_batch` (the same bytes), one uint8 RGB ``[H, W, 3]`` array each:
        no batch array, so nothing fresh to allocate per batch (its page faults cost 30-40% of
        the decoding's CPU time on 1280x720 with torchcodec)."""
        out = decode(self.reader, indices, backend=self._backend_choice, access="sequential", as_list=True)
        return list(out)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def frame_indices(
    n_frames: int, stride: int = 1, key_indices: Sequence[int] | None = None, last: bool = False
) -> list[int]:
    """Frames to detect on: every ``stride``-th frame, or the key frames when given; with
    ``last``, also the video's first and last frame (a stride may never reach the last one)."""
    if key_indices is not None:
        out = {int(i) for i in key_indices if 0 <= int(i) < n_frames}
    else:
        out = set(range(0, n_frames, max(1, stride)))
    if last and n_frames > 0:
        out |= {0, n_frames - 1}
    return sorted(out)


def ramped_chunks(indices: Sequence[int], batch: int, first: int | None = None) -> list[list[int]]:
    """``indices`` in chunks of ``batch``, the first ones smaller: ``first``, then doubling up to
    ``batch`` (``None`` = all of ``batch``)."""
    size = batch if first is None else max(1, min(first, batch))
    out, i = [], 0
    while i < len(indices):
        out.append(list(indices[i : i + size]))
        i += size
        size = min(batch, size * 2)
    return out


def prefetch_batches(
    src: VideoSource,
    indices: Sequence[int],
    batch: int,
    depth: int = 2,
    first: int | None = None,
    as_list: bool = False,
) -> Iterator[tuple[list[int], np.ndarray | list[np.ndarray]]]:
    """Yield ``(indices, frames)`` batches, decoded ``depth`` batches ahead in a thread.

    ``first``: the first batch's size, doubling up to ``batch`` (:func:`ramped_chunks`): the
    consumer starts on a few frames while the thread decodes on, instead of waiting for a whole
    batch at the start of every video. ``as_list``: the frames as a list of arrays
    (:meth:`VideoSource.get_frames`, the same bytes, cheaper on large frames) instead of one
    ``[B, H, W, 3]`` array. A decoding error is re-raised in the caller's thread.
    """
    get = src.get_frames if as_list else src.get_batch
    chunks = ramped_chunks(indices, batch, first)
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def worker() -> None:
        for chunk in chunks:
            if stop.is_set():
                return
            try:
                item = (chunk, get(chunk))
            except BaseException as exc:  # handed to the consumer
                q.put(exc)
                return
            q.put(item)
        q.put(None)

    t = threading.Thread(target=worker, name="mf-decode", daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while t.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                t.join(0.05)
