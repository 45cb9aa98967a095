"""Compact per-frame tables of a video's tracklet: boxes and scores as two numpy arrays.

A split file of the real archive holds ~5.85M boxes. Kept as ``dict[int, list[float]]`` (one
dict entry, one list and four float objects per box) they cost ~350 B each, ~2 GB per process
that opens the train split, and every DataLoader worker touches those pages. These tables
hold the same values in ~40 B per box (frame keys int64, coordinates float64: every value a
JSON split file can hold is kept exactly, so fingerprints of the boxes do not change) and read
like the dicts they replace: ``Mapping[int, list[float]]`` / ``Mapping[int, float]``, frames
in increasing order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from schemas.geometry import plain_box_array, plain_float_array

__all__ = ["FrameBoxes", "FrameScores"]


class _FrameTable(Mapping[int, Any]):
    """Sorted frame keys and one row of values per frame (read-only)."""

    __slots__ = ("_frames", "_values")
    _width: int

    def __init__(self, frames: np.ndarray, values: np.ndarray) -> None:
        """``frames``: strictly increasing int64 [n]; ``values``: float64 rows [n, width]."""
        self._frames = frames
        self._values = values

    @classmethod
    def of(cls, table: Mapping[int, Any] | None) -> Any:
        """``table`` as this type (itself when it already is one; ``None`` reads as empty)."""
        if isinstance(table, cls):
            return table
        if type(table) is dict and (fast := cls._of_plain(table)) is not None:
            return fast
        items = sorted((int(f), v) for f, v in (table or {}).items())
        frames = np.fromiter((f for f, _ in items), dtype=np.int64, count=len(items))
        values = np.asarray([cls._row(v) for _, v in items], dtype=np.float64).reshape(len(items), cls._width)
        return cls._frozen(frames, values)

    @classmethod
    def _frozen(cls, frames: np.ndarray, values: np.ndarray) -> Any:
        frames.setflags(write=False)
        values.setflags(write=False)
        return cls(frames, values)

    @classmethod
    def _of_plain(cls, table: dict[Any, Any]) -> Any:
        """:meth:`of` in a few numpy passes for a dict of int frames to plain values (what a
        split file gives); None for anything else, which :meth:`of` reads value by value."""
        if not set(map(type, table)) <= {int}:
            return None
        values = cls._plain_rows(list(table.values()))
        if values is None:
            return None
        try:
            frames = np.fromiter(table, dtype=np.int64, count=len(table))
        except OverflowError:
            return None
        order = np.argsort(frames, kind="stable")
        return cls._frozen(frames[order], values[order])

    @classmethod
    def of_frame_keys(cls, table: Mapping[str, Any], values: np.ndarray | None = None) -> Any:
        """A split file's tracklet, frame key strings as validated (canonical digits) -> value,
        as this type: what ``of({int(k): v for k, v in table.items()})`` gives, without that dict
        of int keys in between (one per box of a 15K-product split: seconds at construction).
        ``values``: the table's values as float64 rows in its order, already built (the split
        reader's :meth:`~schemas.official.OfficialEntry.box_array`), taken instead of building
        them again."""
        if type(table) is dict:
            if values is None or values.shape != (len(table), cls._width):
                values = cls._plain_rows(list(table.values()))
            if values is not None:
                try:
                    frames = np.fromiter(map(int, table), dtype=np.int64, count=len(table))
                except (OverflowError, ValueError):
                    frames = None
                if frames is not None:
                    order = np.argsort(frames, kind="stable")
                    return cls._frozen(frames[order], values[order])
        return cls.of({int(k): v for k, v in table.items()})

    @staticmethod
    def _plain_rows(values: list[Any]) -> np.ndarray | None:
        """``values`` as float64 rows ``[n, width]`` when all are plain, else None."""
        raise NotImplementedError

    @classmethod
    def empty(cls) -> Any:
        """A table without frames."""
        return cls.of(None)

    @staticmethod
    def _row(value: Any) -> Sequence[float]:
        raise NotImplementedError

    def _find(self, frame: object) -> int:
        if not isinstance(frame, (int, np.integer)) or isinstance(frame, bool):
            return -1
        i = int(np.searchsorted(self._frames, frame))
        return i if i < len(self._frames) and self._frames[i] == frame else -1

    def __contains__(self, frame: object) -> bool:
        return self._find(frame) >= 0

    def __len__(self) -> int:
        return len(self._frames)

    def __iter__(self) -> Iterator[int]:
        return iter(self._frames.tolist())

    @property
    def frames(self) -> np.ndarray:
        """The frame keys, increasing (a read-only int64 array)."""
        return self._frames

    def __eq__(self, other: object) -> bool:
        if isinstance(other, type(self)):
            return np.array_equal(self._frames, other._frames) and np.array_equal(
                self._values, other._values, equal_nan=True
            )
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._frames, self._values))

    def __repr__(self) -> str:
        head = ", ".join(f"{f}: {v!r}" for f, v in list(self.items())[:3])
        more = f", ... ({len(self)} frames)" if len(self) > 3 else ""
        return f"{type(self).__name__}({{{head}{more}}})"


class FrameBoxes(_FrameTable):
    """Frame index -> ``[x1, y1, x2, y2]`` (a fresh list of floats on every read)."""

    __slots__ = ()
    _width = 4

    @staticmethod
    def _plain_rows(values: list[Any]) -> np.ndarray | None:
        return plain_box_array(values) if values else np.zeros((0, 4))

    @staticmethod
    def _row(value: Any) -> Sequence[float]:
        if len(value) != 4:
            raise ValueError(f"a box has 4 values [x1, y1, x2, y2], got {list(value)!r:.80}")
        return [float(v) for v in value]

    def __getitem__(self, frame: int) -> list[float]:
        i = self._find(frame)
        if i < 0:
            raise KeyError(frame)
        return self._values[i].tolist()

    def items(self) -> Any:
        return list(zip(self._frames.tolist(), self._values.tolist(), strict=True))

    def values(self) -> Any:
        return self._values.tolist()

    def rows(self, frames: Iterable[int]) -> np.ndarray:
        """float32 ``[len(frames), 4]`` boxes of ``frames`` in that order, NaN where unboxed."""
        want = np.fromiter((int(f) for f in frames), dtype=np.int64)
        out = np.full((len(want), 4), np.nan, dtype=np.float32)
        if len(self._frames) and len(want):
            pos = np.searchsorted(self._frames, want).clip(max=len(self._frames) - 1)
            hit = self._frames[pos] == want
            out[hit] = self._values[pos[hit]]
        return out

    @property
    def coords(self) -> np.ndarray:
        """The boxes, one row per frame of :attr:`frames` (a read-only float64 ``[n, 4]`` array)."""
        return self._values


class FrameScores(_FrameTable):
    """Frame index -> score (a float)."""

    __slots__ = ()
    _width = 1

    @staticmethod
    def _plain_rows(values: list[Any]) -> np.ndarray | None:
        flat = plain_float_array(values)
        return None if flat is None else flat.reshape(-1, 1)

    @staticmethod
    def _row(value: Any) -> Sequence[float]:
        return [float(value)]

    def __getitem__(self, frame: int) -> float:
        i = self._find(frame)
        if i < 0:
            raise KeyError(frame)
        return float(self._values[i, 0])

    def items(self) -> Any:
        return list(zip(self._frames.tolist(), self._values[:, 0].tolist(), strict=True))

    def values(self) -> Any:
        return self._values[:, 0].tolist()
