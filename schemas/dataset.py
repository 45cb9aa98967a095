"""Contracts for products, splits, detections, tracklets and published dataset entries."""

from __future__ import annotations

import functools
import os
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
)

from schemas.errors import DataFormatError, validation_text
from schemas.geometry import Box
from schemas.items import SourceName
from schemas.official import (
    MAX_FRAMES,
    FrameCount,
    RelPath,
    is_frame_key,
    past_any_video,
    past_any_video_problem,
)
from schemas.render import web_url_problem
from schemas.taxonomy import DF2_CLASSES, Partition
from schemas.text_input import decode_utf8, load_json


class Split(StrEnum):
    TRAIN = "train"
    TEST = "test"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_class(v: int | None) -> int | None:
    if v is not None and v not in DF2_CLASSES:
        raise ValueError(f"DeepFashion2 class must be 1..13, got {v}")
    return v


class Product(_Model):
    """A shop product with its DeepFashion2 class and partition."""

    product_id: str
    df2_class: int | None = None
    partition: Partition
    source: SourceName | None = None
    split: Split | None = None

    _cls = field_validator("df2_class")(classmethod(lambda cls, v: _check_class(v)))


class Detection(_Model):
    """One detection in one frame."""

    frame: int = Field(ge=0)
    box: Box
    score: float = Field(ge=0, le=1)
    class_id: int
    feature: list[float] | None = None

    _cls = field_validator("class_id")(classmethod(lambda cls, v: _check_class(v)))


def _frame_key(v: Any) -> Any:
    """Refuse a frame written in a non-canonical form: ``"07"``, ``"+7"``, ``" 7"`` or ``"7_0"``
    would otherwise be read as 7 (or 70) and merge with frame 7 without a word, and ``true`` as 1.
    The official split files' rule (:func:`schemas.official.is_frame_key`); a negative frame
    (``"-3"``) is left to the ``>= 0`` check, which names it."""
    if type(v) is str and is_frame_key(v):  # fast path: a canonical key, what every file writes
        return v
    negative = isinstance(v, str) and v.startswith("-") and v != "-0" and is_frame_key(v[1:])
    if isinstance(v, str) and past_any_video(v):
        raise ValueError(past_any_video_problem(v, "frame"))
    if isinstance(v, bool) or (isinstance(v, str) and not (is_frame_key(v) or negative)):
        fix = (
            f" (write {v.lstrip('0') or '0'!r})" if isinstance(v, str) and v.isascii() and v.isdigit() else ""
        )
        raise ValueError(
            f"frame {v!r} is not a non-negative integer written without sign, spaces or leading zeros{fix}"
        )
    return v


#: A frame index of a video: 0 is its first frame, never negative; as a JSON key, written as the
#: official files write it ("7", not "07").
FrameIndex = Annotated[int, BeforeValidator(_frame_key), Field(ge=0, lt=MAX_FRAMES)]


#: A finite number: JSON's ``NaN``, ``Infinity`` and a number past a float's range (``1e400``)
#: refused, as :class:`~schemas.geometry.Box` refuses them.
Finite = Annotated[float, Field(allow_inf_nan=False)]
#: A detector confidence: finite, in 0..1 (as :attr:`Detection.score`; the detectors give
#: sigmoid / softmax scores).
Confidence = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class Tracklet(_Model):
    """Detections of one object across frames of one video (frame indices are >= 0; the
    video's frame count is :class:`VideoTracklets`' to know)."""

    video: RelPath
    boxes: dict[FrameIndex, Box] = Field(description="frame index -> box")
    scores: dict[FrameIndex, Confidence] = Field(
        default_factory=dict, description="frame -> detector confidence"
    )
    match_scores: dict[FrameIndex, Finite] = Field(
        default_factory=dict, description="frame -> match score with the pivot / shop"
    )
    class_id: int | None = None
    pivot_frame: FrameIndex | None = None
    shop_score: Finite | None = Field(default=None, description="match score with the shop image")
    mode: str | None = Field(default=None, description="'inference' or 'training'")
    noise: dict[FrameIndex, str] = Field(
        default_factory=dict,
        description="frame -> how its box is known to be wrong (synthetic ground truth, e.g. "
        "'other_garment', 'occlusion'); empty when unknown. Left out of the JSON when empty",
    )

    @model_serializer(mode="wrap")
    def _omit_empty_noise(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if not data.get("noise", 1):
            del data["noise"]
        return data

    def official(self) -> dict[str, list[float]]:
        """The official form: string frame index -> box."""
        return {str(k): list(v) for k, v in sorted(self.boxes.items())}


def _ground_truth_index(v: int | None, info: ValidationInfo) -> int | None:
    """A tracklet file's ``ground_truth``: an index of one of its tracklets (checked when they
    validated: they come first)."""
    n = len(info.data["tracklets"]) if "tracklets" in info.data else None
    if v is not None and n is not None and v >= n:
        raise ValueError(
            f"index {v} but the file has {n} tracklets"
            + (f" (0..{n - 1}, or null for none)" if n else " (null for none)")
        )
    return v


class TrackletFileHead(BaseModel):
    """The identifying fields of a tracklet file (``tracklets/<video stem>[@<product>].json``, a
    :class:`VideoTracklets`): whose tracklets of which video. The one home of the light views of
    the file: each reads these and what it needs on top (:class:`TrackletFileSummary`,
    :class:`TrackletFileScores`), so 15K files read fast. Unknown keys are ignored here (a light
    view skips what it does not read); :class:`VideoTracklets` and its subclasses refuse them."""

    model_config = ConfigDict(extra="ignore")

    product_id: str
    video: RelPath


class TrackletFileFrame(TrackletFileHead):
    """:class:`TrackletFileHead` and the video's frame count and frame size."""

    frames: FrameCount
    width: int = Field(ge=0)
    height: int = Field(ge=0)


class VideoTracklets(TrackletFileFrame):
    """Everything the tracklet builder found in one video (the project's richer file)."""

    model_config = ConfigDict(extra="forbid")

    tracklets: list[Tracklet]
    ground_truth: int | None = Field(default=None, ge=0, description="index of the ground-truth tracklet")
    detector: str | None = None
    matcher: str | None = None
    needs_review: bool = False
    review_reason: str | None = None
    signals: dict[str, Finite] = Field(
        default_factory=dict,
        description="confidence signals of the ground-truth tracklet the review flag was decided on",
    )

    _ground_truth_in_range = field_validator("ground_truth")(
        classmethod(lambda cls, v, info: _ground_truth_index(v, info))
    )

    def ground_truth_tracklet(self) -> Tracklet | None:
        """The tracklet chosen as ground truth, or None when the builder chose none."""
        return self.tracklets[self.ground_truth] if self.ground_truth is not None else None

    def official(self) -> dict[str, list[float]]:
        """The ground-truth tracklet as the official JSON writes it (``{}`` when there is none)."""
        gt = self.ground_truth_tracklet()
        return gt.official() if gt is not None else {}


class TrackletVideo(BaseModel):
    """A tracklet as :class:`TrackletFileSummary` reads it: its video (boxes, scores unread)."""

    model_config = ConfigDict(extra="ignore")

    video: RelPath


class TrackletScores(BaseModel):
    """A tracklet as :class:`TrackletFileScores` reads it: every field of :class:`Tracklet`
    checked as it checks them, except its frame keys (left as written: the caller checks the
    ground truth's, :func:`check_ground_truth`) and its boxes, thousands of numbers per video,
    left unread; so are unknown keys (reading them would build every box: about 2.5 times the
    cost of the read)."""

    model_config = ConfigDict(extra="ignore")

    video: RelPath
    scores: dict[str, Confidence] = Field(default_factory=dict)
    match_scores: dict[str, Finite] = Field(default_factory=dict)
    class_id: int | None = None
    pivot_frame: FrameIndex | None = None
    shop_score: Finite | None = None
    mode: str | None = None
    noise: dict[str, str] = Field(default_factory=dict)


class TrackletFileSummary(TrackletFileFrame):
    """What the review queue shows of a tracklet file: :class:`TrackletFileFrame`, each
    tracklet's video, the ground truth and the review flag, without validating every box, score
    and frame key; unknown keys ignored (a file that does not read is worded by the full read)."""

    tracklets: list[TrackletVideo]
    ground_truth: int | None = Field(default=None, ge=0)
    needs_review: bool = False
    review_reason: str | None = None

    _ground_truth_in_range = field_validator("ground_truth")(
        classmethod(lambda cls, v, info: _ground_truth_index(v, info))
    )

    @classmethod
    def of(cls, vt: VideoTracklets) -> TrackletFileSummary:
        """The summary of a file read in full."""
        return cls.model_validate(vt.model_dump(include=set(cls.model_fields)))


class TrackletFileFlags(TrackletFileSummary):
    """What the end-of-build pass reads of a tracklet file (:mod:`annotations.settle`):
    :class:`TrackletFileSummary` and the signals its review flag was decided on, so deciding the
    flags of 15K files does not validate (and hold) every box and score."""

    signals: dict[str, Finite] = Field(default_factory=dict)


class TrackletFileBuild(TrackletFileFlags):
    """What a rerun of the build reads of a done tracklet file (whether to build its video
    again, its ground truth for the split files): :class:`TrackletFileFlags` and the weights and
    matcher it was built with."""

    detector: str | None = None
    matcher: str | None = None


class TrackletFileScores(VideoTracklets):
    """What the dataset reads of a tracklet file: every field of :class:`VideoTracklets`, checked
    as it checks them and unknown keys refused (strict), each tracklet as
    :class:`TrackletScores` reads it. What it does not check, and the full read does: each
    tracklet's boxes and unknown keys, and the frame keys of a tracklet other than the ground
    truth (the caller checks the ground truth's once it is known, :func:`check_ground_truth`;
    the dataset takes the boxes from the split file). A file broken only there reads here;
    ``mf verify --deep`` and the review's full read refuse it (the builder's rerun check and the
    flag pass read light too, so such a file counts as done there; ``--force`` rebuilds it). Its
    errors are titled ``VideoTracklets``."""

    model_config = ConfigDict(extra="forbid", title="VideoTracklets")

    tracklets: list[TrackletScores]  # type: ignore[assignment]


_GT_KEYS: TypeAdapter[dict[int, Any]] = TypeAdapter(dict[FrameIndex, Any])


def check_ground_truth(t: TrackletScores) -> dict[int, float]:
    """The detector scores by frame of the ground-truth tracklet of a :class:`TrackletFileScores`,
    its frame keys (scores, match scores, noise) checked as :class:`Tracklet` checks them
    (:class:`pydantic.ValidationError` naming the first bad one)."""
    for keyed in (t.scores, t.match_scores, t.noise):
        if not all(map(is_frame_key, keyed)):
            _GT_KEYS.validate_python(keyed)
    return {int(k): v for k, v in t.scores.items()}


class DatasetEntry(_Model):
    """One product in the published dataset: the richer JSONL row beside the official JSON."""

    product_id: str
    df2_class: int
    partition: Partition
    split: Split
    source: SourceName | None = None
    video_paths: list[RelPath]
    img_path: RelPath
    front_path: RelPath | None = None
    rear_path: RelPath | None = None
    fabric_path: RelPath | None = None
    video_crops: list[Box | None] = Field(
        default_factory=list, description="per video crop applied by the loader"
    )
    tracklets: list[dict[str, Box]] = Field(default_factory=list)
    sha256: dict[str, str] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)

    _cls = field_validator("df2_class")(classmethod(lambda cls, v: _check_class(v)))


class SplitAssignment(_Model):
    product_id: str
    split: Split
    df2_class: int
    partition: Partition


#: Fields of :class:`DatasetEntry` whose type ``read_entry_rows`` checks when a row has them
#: (``tracklets`` is left to the split files' reader: checking every box here would cost seconds).
_ROW_CHECKED = tuple(f for f in DatasetEntry.model_fields if f not in ("product_id", "tracklets"))


@functools.cache
def _row_adapter(name: str) -> TypeAdapter[Any]:
    return TypeAdapter(DatasetEntry.model_fields[name].annotation)


def entry_row_problem(row: dict[str, Any]) -> str | None:
    """What is wrong with the type of a field an ``entries.jsonl`` row has (None: nothing; a
    null value is "unknown" and passes)."""
    for name in _ROW_CHECKED:
        if row.get(name) is not None:
            try:
                _row_adapter(name).validate_python(row[name])
            except ValidationError as exc:
                err = exc.errors()[0]
                at = ".".join(str(p) for p in (name, *err["loc"]))
                return f"field '{at}': {validation_text(err)} (got {row[name]!r:.60})"
    return None


#: what to do about a damaged ``entries.jsonl`` row (a truncated last line after a crash, say)
REPUBLISH_ENTRIES = "republish the dataset with mf publish (it writes entries.jsonl again), or fix the row"


def read_entry_rows(
    path: str | os.PathLike[str], *, bad: list[tuple[str, str]] | None = None
) -> dict[str, dict[str, Any]]:
    """Rows of a published ``entries.jsonl`` by product id (dicts, blank lines ignored), each
    field it has of the type :class:`DatasetEntry` gives it (fields it lacks are not required).

    Raises :class:`~schemas.errors.DataFormatError` naming the file and line of a malformed row;
    with a ``bad`` list, such a row is appended to it (``("line N", error)``) and left out instead.
    """
    rows: dict[str, dict[str, Any]] = {}
    end = 0  # where the next line starts in the file (a byte that is not UTF-8 is counted from the start)
    with open(path, "rb") as fh:  # each line decoded on its own: a non-UTF-8 line is that line's error
        for lineno, line in enumerate(fh, 1):
            start, end = end, end + len(line)
            if not line.strip():
                continue
            try:
                try:
                    row = load_json(decode_utf8(line, str(path), offset=start), str(path))
                except DataFormatError as exc:
                    raise DataFormatError(
                        f"line {lineno}: {exc.message}", where=str(path), hint=exc.hint or REPUBLISH_ENTRIES
                    ) from None
                if not isinstance(row, dict) or "product_id" not in row:
                    raise DataFormatError(
                        f"line {lineno}: expected an object with product_id",
                        where=str(path),
                        hint=REPUBLISH_ENTRIES,
                    )
                problem = entry_row_problem(row)
                if problem is not None:
                    raise DataFormatError(
                        f"line {lineno}: product {str(row['product_id'])!r}: {problem}",
                        where=str(path),
                        hint=REPUBLISH_ENTRIES,
                    )
            except DataFormatError as exc:
                if bad is None:
                    raise
                bad.append((f"line {lineno}", str(exc)))
                continue
            rows[str(row["product_id"])] = row
    return rows


def read_entry_classes(path: str | os.PathLike[str]) -> dict[str, int]:
    """Product id -> DeepFashion2 class from a published ``entries.jsonl`` (rows without a class skipped)."""
    out: dict[str, int] = {}
    for pid, row in read_entry_rows(path).items():
        cls = row.get("df2_class")
        if cls is None:
            continue
        if cls not in DF2_CLASSES:
            raise DataFormatError(f"product '{pid}': df2_class {cls!r} is not 1..13", where=str(path))
        out[pid] = int(cls)
    return out


#: How to cite MovingFashion (the paper that introduced the dataset and its format).
MOVINGFASHION_CITATION = """@inproceedings{godi2022movingfashion,
  title     = {MovingFashion: a Benchmark for the Video-to-Shop Challenge},
  author    = {Godi, Marco and Joppi, Christian and Skenderi, Geri and Cristani, Marco},
  booktitle = {IEEE/CVF Winter Conference on Applications of Computer Vision (WACV)},
  year      = {2022}
}"""


def _web_url(v: str) -> str:
    """An ``http(s)://`` URL the card and Croissant can link to (``javascript:``, a bare word or
    HTML refused, with what to write instead)."""
    problem = web_url_problem(v)
    if problem is not None:
        raise ValueError(f"{v!r} {problem}; give the web address, like https://example.org/dataset")
    return v


#: A web address (:func:`_web_url`): the dataset's urls are published as links.
WebUrl = Annotated[str, AfterValidator(_web_url)]


class Creator(_Model):
    """A person or an organisation credited with a published dataset."""

    name: str
    kind: Literal["Organization", "Person"] = "Organization"
    url: WebUrl | None = None


class DatasetInfo(_Model):
    """What a published dataset says about itself: Croissant metadata and the dataset card.

    ``mf publish`` takes it from the ``dataset:`` section of its config; the defaults describe a
    MovingFashion-format dataset rebuilt with this toolkit. ``date_published`` (``YYYY-MM-DD``)
    left empty is taken from ``SOURCE_DATE_EPOCH`` when set, else from the data (the date of
    the newest accepted catalog row), so a rerun on the same input writes the same bytes.
    ``url``, ``license_url`` and a creator's ``url`` are web addresses (``http(s)://host/...``):
    the card and Croissant publish them as links.
    """

    name: str = Field("movingfashion", description="machine name (Croissant name, dataset id)")
    pretty_name: str = Field("MovingFashion (rebuilt)", description="title of the card and Croissant")
    description: str = Field(
        "Video-to-shop retrieval: social and e-commerce videos, each paired with the shop image "
        "of the exact garment worn, in the format of the MovingFashion benchmark (WACV 2022). "
        "Regular pairs come from e-commerce product pages (one model indoors), Hard pairs from "
        "social media posts (street scenes, several people, cuts). Each video's ground-truth "
        "tracklet (the shop item's boxes) is in its split file; the summary says how many have one.",
        description="the dataset card's summary (Croissant description)",
    )
    license: str = Field("cc-by-nc-sa-4.0", description="SPDX-style id, as the Hugging Face card wants it")
    license_url: WebUrl = Field(
        "https://creativecommons.org/licenses/by-nc-sa/4.0/", description="where the license text is"
    )
    url: WebUrl = Field("https://arxiv.org/abs/2110.02627", description="where the dataset is described")
    creators: list[Creator] = Field(
        default_factory=lambda: [Creator(name="MovingFashion toolkit")],
        description="who made the dataset (name, optional url)",
    )
    version: str = Field("1.0.0", description="the dataset's own version")
    date_published: str | None = Field(
        None,
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="YYYY-MM-DD; empty: SOURCE_DATE_EPOCH, else the newest accepted row's date",
    )
    keywords: list[str] = Field(
        default_factory=lambda: [
            "fashion",
            "video-to-shop",
            "street-to-shop",
            "retrieval",
            "video",
            "tracking",
            "deepfashion2",
        ],
        description="Croissant and card keywords",
    )
    citation: str = Field(MOVINGFASHION_CITATION, description="BibTeX the card asks users to cite")
    synthetic: bool = Field(False, description="the media are rendered (a synthetic world), not collected")
