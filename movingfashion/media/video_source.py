"""Video frame access for the builder: decord (batch decoding) with an OpenCV fallback, and a
prefetching thread that decodes the next batch while the current one is being detected."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from schemas.errors import MediaError


class VideoSource:
    """An opened video: ``frames``, ``fps``, ``width``, ``height``, ``get_batch``, ``key_indices``."""

    def __init__(self, path: str | os.PathLike[str], backend: str = "auto") -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise MediaError("video file not found", where=str(self.path))
        self.backend = ""
        self._vr = None
        self._cap = None
        errors = []
        if backend in ("auto", "decord"):
            try:
                import decord

                self._vr = decord.VideoReader(str(self.path), ctx=decord.cpu(0), num_threads=1)
                self.frames = len(self._vr)
                first = self._vr[0].asnumpy() if self.frames else None
                if first is None:
                    raise MediaError("no frames", where=str(self.path))
                self.height, self.width = first.shape[:2]
                self.fps = float(self._vr.get_avg_fps() or 0.0)
                self.backend = "decord"
            except Exception as exc:  # decord raises its own error types
                self._vr = None
                errors.append(f"decord: {str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__}")
        if not self.backend and backend in ("auto", "cv2"):
            import cv2

            cap = cv2.VideoCapture(str(self.path))
            ok, frame = cap.read() if cap.isOpened() else (False, None)
            if ok:
                self._cap = cap
                self.frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
                self.height, self.width = frame.shape[:2]
                self.fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
                self.backend = "cv2"
                cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                self._pos = 0
            else:
                cap.release()
                errors.append("opencv: cannot read a frame")
        if not self.backend:
            raise MediaError(
                f"unreadable video ({'; '.join(errors)})",
                where=str(self.path),
                hint="the file is corrupt or not a video; re-download it or drop it from the dataset",
            )

    def key_indices(self) -> list[int]:
        """Indices of key frames (decord only; otherwise every frame)."""
        if self._vr is not None:
            return [int(i) for i in self._vr.get_key_indices()]
        return list(range(self.frames))

    def get_batch(self, indices: Sequence[int]) -> np.ndarray:
        """RGB uint8 ``[B,H,W,3]`` of the given (sorted) frame indices."""
        try:
            if self._vr is not None:
                return self._vr.get_batch(list(indices)).asnumpy()
            return self._cv2_batch(indices)
        except MediaError:
            raise
        except Exception as exc:
            raise MediaError(
                f"decoding failed at frames {indices[0]}..{indices[-1]}: {str(exc)[:160]}",
                where=str(self.path),
                hint="the file is probably truncated or corrupt",
            ) from None

    def _cv2_batch(self, indices: Sequence[int]) -> np.ndarray:
        import cv2

        out = []
        for i in indices:
            if i != self._pos:
                if i < self._pos or i - self._pos > 30:
                    self._cap.set(cv2.CAP_PROP_POS_FRAMES, i)
                    self._pos = i
                while self._pos < i:
                    self._cap.grab()
                    self._pos += 1
            ok, frame = self._cap.read()
            if not ok:
                raise MediaError(f"cannot read frame {i}", where=str(self.path))
            self._pos += 1
            out.append(frame[..., ::-1])
        return np.ascontiguousarray(np.stack(out))

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
        self._vr = None


def frame_indices(n_frames: int, stride: int = 1, key_indices: Sequence[int] | None = None) -> list[int]:
    """Frames to detect on: every ``stride``-th frame, or the key frames when given."""
    if key_indices is not None:
        return sorted({int(i) for i in key_indices if 0 <= int(i) < n_frames})
    return list(range(0, n_frames, max(1, stride)))


def prefetch_batches(
    src: VideoSource, indices: Sequence[int], batch: int, depth: int = 2
) -> Iterator[tuple[list[int], np.ndarray]]:
    """Yield ``(indices, frames)`` batches, decoded ``depth`` batches ahead in a thread.

    A decoding error is re-raised in the caller's thread.
    """
    chunks = [list(indices[i : i + batch]) for i in range(0, len(indices), batch)]
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def worker() -> None:
        for chunk in chunks:
            if stop.is_set():
                return
            try:
                item = (chunk, src.get_batch(chunk))
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
