"""Frame samplers: which frames of a video make a clip.

A sampler is a small object chosen by name from :data:`SAMPLERS`. It receives the sorted
*candidate* frame indices (every frame of the video, or only the frames that have a tracklet
box when the loader crops tracklets), the clip length ``T``, whether this is training, a
``numpy.random.Generator`` (training randomness only) and optional per-frame quality scores,
and returns the chosen frame indices in temporal order. Evaluation never uses the generator,
so the same video always gives the same frames.

* ``rrs``: Restricted Random Sampling (the MovingFashion protocol): the candidates are cut
  into ``T`` equal chunks and one frame is taken from each, uniformly at random in training
  and the chunk centre in evaluation.
* ``uniform``: ``T`` evenly spaced frames including the first and last candidate.
* ``all``: every candidate (``T`` is ignored; the clip length varies).
* ``salient``: frames ranked by a quality score (see :func:`frame_quality`) and picked so that
  they stay spread over time: the best frame of each chunk, ties broken towards the chunk
  centre (evaluation), or one frame per chunk drawn with probability rising with its score
  (training).

With fewer candidates than ``T``, the fixed-length samplers repeat frames (evenly, in order)
so that a clip always has exactly ``T`` frames.
Adding a sampler = one class with a ``name`` and one line in :data:`SAMPLERS`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from schemas.errors import ConfigError, DataFormatError
from schemas.official import MAX_FRAMES
from schemas.registry import lookup


class FrameSampler(ABC):
    """Choose frame indices among candidates."""

    name: str = ""
    #: True when the sampler returns exactly ``T`` frames for any non-empty candidate list.
    fixed_length: bool = True
    #: what the dataset passes as ``scores``: ``"quality"`` each frame's expressiveness score
    #: (:func:`frame_quality`), ``"confidence"`` the tracklet's detection confidences, None nothing
    scores_from: str | None = None

    @abstractmethod
    def __call__(
        self,
        candidates: Sequence[int],
        num: int,
        *,
        train: bool = False,
        generator: np.random.Generator | None = None,
        scores: Mapping[int, float] | None = None,
    ) -> list[int]:
        """Return the chosen frame indices (temporal order, repeats only when too few candidates)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def chunk_bounds(n: int, num: int) -> np.ndarray:
    """``num + 1`` boundaries cutting ``range(n)`` into ``num`` chunks of (nearly) equal length."""
    return (np.arange(num + 1) * n) // num


def _check(candidates: Sequence[int], num: int) -> np.ndarray:
    if num < 1:
        raise ConfigError(f"clip length T must be >= 1, got {num}", where="frames")
    frames = _sorted_frames(candidates)
    if len(frames) and (frames[0] < 0 or frames[-1] >= MAX_FRAMES):  # frames of a video: 0 .. MAX_FRAMES - 1
        bad = int(frames[0] if frames[0] < 0 else frames[-1])
        raise DataFormatError(
            f"frame {bad} is not a frame of any video (0..{MAX_FRAMES - 1})",
            where="candidates",
            hint="drop that frame's box from the tracklet",
        )
    cand = np.asarray(frames, dtype=np.int64)
    if cand.size == 0:
        raise ValueError("no candidate frames to sample from")
    return cand


def _sorted_frames(candidates: Sequence[int]) -> np.ndarray | list[int]:
    """The candidates sorted: a list or array of integers (what the dataset passes) as an int64
    array sorted by numpy, ~2x faster than ``int()`` on each for a video's ~100 frames; anything
    else (floats, bools, ints past int64) as a list of ``int()`` of each, as before."""
    try:
        given = np.asarray(candidates)
    except ValueError:  # a ragged list: int() below says which value is not a frame
        given = None
    if given is not None and given.ndim == 1 and given.dtype.kind == "i":
        return np.sort(given).astype(np.int64, copy=False)
    return sorted(int(c) for c in candidates)


def _positions_few(n: int, num: int) -> np.ndarray:
    """Evenly repeated positions when there are fewer candidates than frames wanted."""
    return np.minimum((np.arange(num) * n) // num, n - 1)


class RestrictedRandomSampler(FrameSampler):
    """``T`` equal chunks, one frame from each: random in training, centre in evaluation."""

    name = "rrs"

    def __call__(self, candidates, num, *, train=False, generator=None, scores=None):
        cand = _check(candidates, num)
        n = cand.size
        if n < num:
            return cand[_positions_few(n, num)].tolist()
        b = chunk_bounds(n, num)
        if train:
            rng = generator if generator is not None else np.random.default_rng()
            pos = rng.integers(b[:-1], b[1:])
        else:
            pos = b[:-1] + (b[1:] - b[:-1]) // 2
        return cand[pos].tolist()


class UniformSampler(FrameSampler):
    """``T`` evenly spaced frames from the first to the last candidate (deterministic)."""

    name = "uniform"

    def __call__(self, candidates, num, *, train=False, generator=None, scores=None):
        cand = _check(candidates, num)
        n = cand.size
        if n < num:
            return cand[_positions_few(n, num)].tolist()
        pos = np.round(np.linspace(0, n - 1, num)).astype(np.int64)
        return cand[pos].tolist()


class AllFramesSampler(FrameSampler):
    """Every candidate frame; the clip length varies from video to video."""

    name = "all"
    fixed_length = False

    def __call__(self, candidates, num, *, train=False, generator=None, scores=None):
        return _check(candidates, max(num, 1)).tolist()


class SalientSampler(FrameSampler):
    """Best-quality frames, spread over time (one per chunk).

    Evaluation takes the highest-scoring frame of each of the ``T`` chunks (ties: the one
    nearest the chunk centre RRS takes, the earlier of two as near); training draws one frame
    per chunk with probability ``softmax(score / temperature)``. Without scores (or with equal
    ones) every frame scores the same, which makes it a plain RRS: RRS's very frames in
    evaluation, its distribution in training.
    """

    name = "salient"
    scores_from = "quality"

    def __init__(self, temperature: float = 0.1) -> None:
        self.temperature = temperature

    def __call__(self, candidates, num, *, train=False, generator=None, scores=None):
        cand = _check(candidates, num)
        n = cand.size
        if n < num:
            return cand[_positions_few(n, num)].tolist()
        s = _finite_scores(cand, scores)
        b = chunk_bounds(n, num)
        rng = generator if generator is not None else np.random.default_rng()
        out = []
        for lo, hi in zip(b[:-1], b[1:], strict=True):
            chunk = s[lo:hi]
            if train:
                w = np.exp((chunk - chunk.max()) / max(self.temperature, 1e-6))
                out.append(cand[lo + int(rng.choice(hi - lo, p=w / w.sum()))])
            else:  # ties: nearest RRS's chunk centre (argmin keeps the earlier of two as near)
                best = np.flatnonzero(chunk == chunk.max())
                centre = (hi - lo) // 2
                out.append(cand[lo + int(best[np.argmin(np.abs(best - centre))])])
        return [int(x) for x in out]


def _finite_scores(cand: np.ndarray, scores: Mapping[int, float] | None) -> np.ndarray:
    """The quality score of each candidate (0 without one); a NaN or infinite one is a
    DataFormatError naming its frame (the caller names the video), never numpy's bare error."""
    s = np.array([float((scores or {}).get(int(c), 0.0)) for c in cand], dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(s))
    if bad.size:
        raise DataFormatError(
            f"frame {int(cand[bad[0]])}: quality score {s[bad[0]]} is not a finite number",
            where="scores",
            hint="check the tracklet file's detector scores (mf verify --deep)",
        )
    return s


#: Samplers by name.
SAMPLERS: dict[str, type[FrameSampler]] = {
    RestrictedRandomSampler.name: RestrictedRandomSampler,
    UniformSampler.name: UniformSampler,
    AllFramesSampler.name: AllFramesSampler,
    SalientSampler.name: SalientSampler,
}


def get_sampler(sampler: str | FrameSampler) -> FrameSampler:
    """A sampler instance from its name (or the instance itself)."""
    if isinstance(sampler, FrameSampler):
        return sampler
    return lookup(SAMPLERS, sampler, what="frame sampler", where="sampler")()


class QualityConfig(BaseModel):
    """Weights of the per-frame expressiveness score used by the ``salient`` sampler.

    The terms (each in [0, 1]) follow SF-CLIP's idea of fashion expressiveness: how visible
    the item is (detector confidence, box area against the largest box of the video), whether
    it is cut by the frame border (truncation), and how good the view is (box shape against the
    tracklet's typical shape, a box that jumps away from its neighbours, crop sharpness when
    the caller measured it). The score is their weighted mean; a term without its input (no
    frame size, no sharpness) is left out of the mean.
    """

    model_config = ConfigDict(extra="forbid")  # a misspelt weight is refused, not ignored

    w_confidence: float = Field(0.5, ge=0, description="weight of the detector confidence (1.0 if unknown)")
    w_complete: float = Field(0.3, ge=0, description="weight of box completeness (not cut by the border)")
    w_size: float = Field(0.2, ge=0, description="weight of box area relative to the largest in the video")
    w_shape: float = Field(
        0.2, ge=0, description="weight of the box shape: aspect ratio against the tracklet's median"
    )
    w_steady: float = Field(
        0.3, ge=0, description="weight of steadiness: the box stays near its neighbours (a jump = drift)"
    )
    w_sharp: float = Field(
        0.3, ge=0, description="weight of crop sharpness, relative to the video's sharpest"
    )
    border_margin: float = Field(2.0, ge=0, description="px: a box side this close to the frame edge is cut")
    steady_window: int = Field(2, ge=1, description="neighbours on each side compared for steadiness")


def _steadiness(boxes: Mapping[int, Sequence[float]], window: int) -> dict[int, float]:
    """1 when a box's centre sits on the median centre of its ``window`` neighbours on each side
    (in frame order), falling to 0 at one box diagonal away. The window is kept symmetric (it
    shrinks near the ends), so steady motion scores 1 on every frame, the first and last too."""
    keys = sorted(boxes)
    arr = np.asarray([boxes[k] for k in keys], dtype=np.float64)
    centre = np.stack([(arr[:, 0] + arr[:, 2]) / 2, (arr[:, 1] + arr[:, 3]) / 2], 1)
    diag = np.hypot(arr[:, 2] - arr[:, 0], arr[:, 3] - arr[:, 1]).clip(min=1e-6)
    out = {}
    for i, k in enumerate(keys):
        w = min(window, i, len(keys) - 1 - i)
        nb = [j for j in range(i - w, i + w + 1) if j != i]
        if not nb:
            out[int(k)] = 1.0
            continue
        ref = np.median(centre[nb], 0)
        out[int(k)] = float(max(0.0, 1.0 - np.hypot(*(centre[i] - ref)) / diag[i]))
    return out


def frame_quality(
    boxes: Mapping[int, Sequence[float]],
    width: int | None,
    height: int | None,
    confidences: Mapping[int, float] | None = None,
    config: QualityConfig | None = None,
    sharpness: Mapping[int, float] | None = None,
) -> dict[int, float]:
    """Expressiveness in [0, 1] of every boxed frame (see :class:`QualityConfig`).

    Completeness is the share of the four box sides that stay ``border_margin`` pixels away
    from the frame edge (1.0 when the frame size is unknown); size is the box area divided by
    the largest box area of the video; shape is 1 minus the |log| ratio of the box's aspect
    ratio to the median one (0 at a factor 2); ``sharpness`` (frame -> e.g. Laplacian variance of
    the crop, see :func:`crop_sharpness`) counts relative to the sharpest frame given.
    """
    cfg = config or QualityConfig()
    if not boxes:
        return {}
    areas = {f: max(0.0, (b[2] - b[0]) * (b[3] - b[1])) for f, b in boxes.items()}
    amax = max(areas.values()) or 1.0
    aspect = {f: max(b[2] - b[0], 1e-6) / max(b[3] - b[1], 1e-6) for f, b in boxes.items()}
    med_aspect = float(np.median(list(aspect.values())))
    steady = _steadiness(boxes, cfg.steady_window) if cfg.w_steady > 0 else {}
    smax = max(sharpness.values(), default=0.0) if sharpness else 0.0
    weights = cfg.w_confidence + cfg.w_complete + cfg.w_size + cfg.w_shape + cfg.w_steady
    m = cfg.border_margin
    out: dict[int, float] = {}
    for f, b in boxes.items():
        conf = float(confidences.get(f, 1.0)) if confidences else 1.0
        if width and height:
            cut = (b[0] <= m) + (b[1] <= m) + (b[2] >= width - m) + (b[3] >= height - m)
            complete = 1.0 - cut / 4.0
        else:
            complete = 1.0
        size = areas[f] / amax
        shape = max(0.0, 1.0 - abs(np.log(aspect[f] / med_aspect)) / np.log(2.0))
        total = (
            cfg.w_confidence * conf
            + cfg.w_complete * complete
            + cfg.w_size * size
            + cfg.w_shape * shape
            + cfg.w_steady * steady.get(f, 1.0)
        )
        norm = weights
        if sharpness and smax > 0 and f in sharpness:
            total += cfg.w_sharp * float(sharpness[f]) / smax
            norm += cfg.w_sharp
        out[int(f)] = total / (norm or 1.0)
    return out


def crop_sharpness(crops: np.ndarray) -> np.ndarray:
    """Variance of the Laplacian of each crop's grey image, ``[N, 3, H, W]`` or ``[N, H, W, 3]``
    (any scale) -> ``[N]``: low for blurred crops."""
    x = np.asarray(crops, dtype=np.float32)
    if x.ndim != 4:
        raise ValueError(f"expected [N, 3, H, W] or [N, H, W, 3] crops, got shape {x.shape}")
    grey = x.mean(1) if x.shape[1] == 3 else x.mean(-1)
    lap = (
        -4 * grey[:, 1:-1, 1:-1]
        + grey[:, :-2, 1:-1]
        + grey[:, 2:, 1:-1]
        + grey[:, 1:-1, :-2]
        + grey[:, 1:-1, 2:]
    )
    return lap.reshape(len(x), -1).var(1)
