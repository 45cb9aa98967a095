"""Read, validate and write the official MovingFashion annotation JSON, losslessly.

An official file is an object keyed by product id; each value holds ``video_paths``,
``img_path``, ``source`` and ``tracklets`` (one dict per video, string frame index ->
``[x1, y1, x2, y2]``). Unknown keys are kept, ints stay ints, floats stay floats and key order
is preserved, so read -> write gives identical data, not identical bytes: the writer has one
style (UTF-8 rather than ``\\u`` escapes, its own spacing, a final newline, ``10.0`` for ``1e1``),
so a downloaded file that a tool rewrites (``mf-tracklets build`` merging tracklets into it) gets
another SHA-256; keep a copy of the originals to check them against the archive's checksums.

**Both layouts read alike.** The real archive writes ``source`` 0 = Hard, 1 = Regular, shop
images under ``imgs/`` (``.png`` Hard, ``.jpg`` Regular) and videos under ``videos/``; this
project's older datasets wrote 2 for Hard and ``shop/<id>.jpg``. Readers never branch on the
layout: paths are followed as written, and :attr:`OfficialEntry.partition` maps ``source`` with
:func:`schemas.taxonomy.partition_from_source_code` (1 = Regular, anything else Hard, as the
authors' evaluation code counts). Writers use the archive's layout (:func:`shop_relpath`,
:func:`video_relpath`, :data:`schemas.taxonomy.PARTITION_SOURCE_CODE`).
"""

from __future__ import annotations

import codecs
import contextlib
import gc
import json
import logging
import math
import os
import re
import secrets
import stat
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictInt,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
    field_validator,
)

from schemas.atomic import atomic_write_bytes, atomic_write_json, json_bytes, sample_digest, write_if_changed
from schemas.errors import ConfigError, DataFormatError, MFError, validation_text
from schemas.geometry import Box, plain_boxes_valid, valid_box_array
from schemas.naming import has_control_char
from schemas.paths import MAX_NAME, MAX_PATH, PathEscapeError, UnsafePathValue, check_relpath
from schemas.redact import redacted_logger
from schemas.taxonomy import Partition, partition_from_source_code
from schemas.text_input import decode_utf8, has_surrogate, load_json

log = redacted_logger(__name__)

# The JSON Schema forms of the reader's rules, for ``mf schema export``. Patterns are written for
# both ECMA 262 and Python's ``re`` (what jsonschema uses): the end of the string is
# ``(?![\s\S])``, since Python's ``$`` also matches before a trailing newline.
_END = r"(?![\s\S])"
# a part that is not '.' or '..', no '/' or '\', at most MAX_NAME characters (check_relpath
# counts UTF-8 bytes, which a pattern cannot: the description says so)
_SEGMENT = rf"(?!\.\.?(?:/|(?![\s\S])))[^/\\]{{1,{MAX_NAME}}}"
#: A canonical relative path (:func:`schemas.paths.check_relpath`): no control character, not
#: absolute (``/``, ``C:``), no backslash, no empty, ``.`` or ``..`` part, no part over
#: :data:`~schemas.paths.MAX_NAME` characters.
#: The first part holds no ':' (FFmpeg and URL readers take ``tcp:``, ``concat:`` as protocols),
#: and the file name's stem is not '.' or '..' (``..jpg``, ``...jpg``).
RELPATH_PATTERN = (
    rf"^(?![\s\S]*[\x00-\x1f\x7f])(?![A-Za-z]:)(?![^/]*:)(?![\s\S]*(?:^|/)\.\.?\.[^./]+{_END})"
    rf"{_SEGMENT}(?:/{_SEGMENT})*{_END}"
)
#: What to do with a split file (``train.json``, ``test.json``) that is no JSON object a reader
#: can take: the readers' and ``mf verify``'s hint.
SPLIT_FILE_HINT = (
    "a split file is one JSON object keyed by product id: restore this one (a backup, the "
    "archive's), or move it away, rerun mf publish to write it again, then mf-tracklets build "
    "(it puts back the tracklets of tracklets/, building none again)"
)
#: The most digits a frame key has: frames under 10**9 (over 190 days of video at 60 fps). A
#: longer key is no frame of any video, and past 19 digits no array index could hold it.
MAX_FRAME_DIGITS = 9
#: The most frames a video has: its frames are ``0 .. MAX_FRAMES - 1``, each named by a key of at
#: most :data:`MAX_FRAME_DIGITS` digits. A frame count past it (a tracklet file's ``frames``, a
#: CVAT task's ``size``, a downloaded video's probed count) is refused (:func:`frame_count_problem`):
#: it would let a box through on a frame no key can name. The one frame limit: the samplers
#: (:mod:`movingfashion.sampling`) refuse a frame at or past it too.
MAX_FRAMES = 10**MAX_FRAME_DIGITS
#: A tracklet frame key (:func:`is_frame_key`): a non-negative integer without sign or leading
#: zeros, of at most :data:`MAX_FRAME_DIGITS` digits.
FRAME_KEY_PATTERN = rf"^(?:0|[1-9][0-9]{{0,{MAX_FRAME_DIGITS - 1}}}){_END}"
#: A box as far as JSON Schema can state it: the order rule is in the description only.
BOX_JSON_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {"type": "number"},
    "minItems": 4,
    "maxItems": 4,
    "description": "[x1, y1, x2, y2] in pixels, finite numbers with x1 <= x2 and y1 <= y2",
}

#: A file path inside the dataset folder, in canonical form (see :func:`schemas.paths.check_relpath`).
RelPath = Annotated[
    str,
    AfterValidator(check_relpath),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_PATH,
            "pattern": RELPATH_PATTERN,
            "description": "a relative '/'-separated path inside the dataset folder: not absolute, "
            f"no '.', '..' or empty part, no backslash or control character, no ':' in its first part, "
            f"no file name whose stem is '.' or '..', no file or folder name over {MAX_NAME} bytes (UTF-8)",
        }
    ),
]
#: One video's tracklet: frame key -> box (the keys are checked by :class:`OfficialEntry`).
TrackletBoxes = Annotated[
    dict[str, Box],
    WithJsonSchema(
        {
            "type": "object",
            "propertyNames": {"pattern": FRAME_KEY_PATTERN},
            "additionalProperties": BOX_JSON_SCHEMA,
            "description": "frame index (a non-negative integer without leading zeros) -> box",
        }
    ),
]

#: Folder of the videos in the archive's layout.
VIDEO_DIR = "videos"
#: Folder of the shop images in the archive's layout.
SHOP_DIR = "imgs"
#: Folder of the shop images in this project's older datasets (read, never written).
LEGACY_SHOP_DIR = "shop"
#: Suffix of a shop image by partition in the archive's layout.
SHOP_SUFFIX: dict[Partition, str] = {Partition.REGULAR: ".jpg", Partition.HARD: ".png"}


def video_relpath(product_id: str, n: int) -> str:
    """Where the archive's layout puts video ``n`` of a product: ``videos/<id>_<n>.mp4``."""
    return f"{VIDEO_DIR}/{product_id}_{n}.mp4"


def shop_relpath(product_id: str, partition: Partition | str) -> str:
    """Where the archive's layout puts a product's shop image: ``imgs/<id>.jpg`` (Regular) or ``.png`` (Hard)."""
    return f"{SHOP_DIR}/{product_id}{SHOP_SUFFIX[Partition(partition)]}"


class VideoChoice(NamedTuple):
    """What decides which video a test product keeps."""

    frames: int
    width: int
    height: int
    key: str  #: a stable name (source item and path) breaking the last ties


def pick_test_video(videos: Sequence[VideoChoice]) -> int:
    """Index of the one video a test product keeps (the archive's test has one video per product).

    The longest (most frames), then the largest frame (width x height), then the smallest key;
    the same preference as the duplicate keep rule. The others are published in neither split.
    """
    if not videos:
        raise ValueError("a product needs at least one video")
    return min(
        range(len(videos)),
        key=lambda i: (-videos[i].frames, -videos[i].width * videos[i].height, videos[i].key),
    )


#: validation context key of :func:`parse_official` callers that hand over parsed JSON no one
#: else holds: its box lists are kept, not copied
_OWNED = "owned"


#: validation context key of :func:`_parse` callers that keep each tracklet's boxes as the array
#: the one-pass check built (:meth:`OfficialEntry.box_array`): a list, given ``(tracklets, arrays)``
_BOX_ARRAYS = "box_arrays"


def _plain_tracklet(trk: Any, arrays: list[Any] | None = None) -> bool:
    """Whether one tracklet surely validates unchanged: a dict of str keys to boxes that pass
    :func:`~schemas.geometry.plain_boxes_valid` (its frame keys are checked after, as always);
    ``arrays``: their ``[N, 4]`` array appended to it when they do."""
    if not (type(trk) is dict and set(map(type, trk)) <= {str}):
        return False
    if arrays is None:
        return plain_boxes_valid(list(trk.values()))
    xy = valid_box_array(list(trk.values()))
    if xy is not None:
        arrays.append(xy)
    return xy is not None


def _tracklets_at_once(
    value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
) -> list[dict[str, list[int | float]]]:
    """``tracklets`` checked a tracklet at a time in one numpy pass; when that cannot vouch for
    one of them, box by box (:data:`~schemas.geometry.Box`), whose error names the bad box. Both
    give new lists (equal values and types), unless the caller owns the input (:data:`_OWNED`)."""
    kept = info.context.get(_BOX_ARRAYS) if info.context else None
    arrays: list[Any] | None = None if kept is None else []
    if type(value) is not list or not all(
        _plain_tracklet(trk) if arrays is None else _plain_tracklet(trk, arrays) for trk in value
    ):
        return handler(value)
    if info.context and info.context.get(_OWNED):
        out = value
    else:
        out = [dict(zip(trk, map(list, trk.values()), strict=True)) for trk in value]
    if kept is not None:
        kept.append((out, arrays))
    return out


def canonical_frame_keys(trk: Mapping[str, Any]) -> bool:
    """Whether every key of tracklet ``trk`` (frame key -> box) is surely a canonical frame key
    (:func:`is_frame_key`: digits only, no leading zero, at most :data:`MAX_FRAME_DIGITS` of
    them), in a few string operations over all keys at once instead of one call per key: what
    the split reader and ``mf verify`` ask before checking a tracklet key by key. True for an
    empty tracklet; False decides nothing (a key may be bad: check each with :func:`is_frame_key`)."""
    if not trk:
        return True
    joined = "".join(trk)
    if not (joined.isascii() and joined.isdigit()) or "" in trk:
        return False
    if max(map(len, trk)) > MAX_FRAME_DIGITS:
        return False
    return ("," + ",".join(trk)).count(",0") == ("0" in trk)  # "0" only: no leading zeros


def is_frame_key(key: object) -> bool:
    """Whether ``key`` is a tracklet frame key in canonical form: a non-negative integer written
    without sign or leading zeros (``"7"``, not ``"07"`` or ``"+7"``), so one frame has one key,
    of at most :data:`MAX_FRAME_DIGITS` digits."""
    return (
        isinstance(key, str)
        and key.isascii()
        and key.isdigit()
        and (key == "0" or key[0] != "0")
        and len(key) <= MAX_FRAME_DIGITS
    )


def past_any_video(key: str) -> bool:
    """Whether ``key`` is digits naming a frame past any video's (more than
    :data:`MAX_FRAME_DIGITS` significant digits)."""
    return key.isascii() and key.isdigit() and len(key.lstrip("0")) > MAX_FRAME_DIGITS


def past_any_video_problem(key: str, what: str = "frame key") -> str:
    """What a key :func:`past_any_video` says is wrong, the key cut to 24 characters."""
    shown = f"{key[:24]!r}{'...' if len(key) > 24 else ''}"
    return f"{what} {shown} is no frame of a video (at most {MAX_FRAME_DIGITS} digits)"


def frame_count_problem(count: int) -> str | None:
    """What is wrong with ``count`` as a video's frame count (None: nothing): below 0, or over
    :data:`MAX_FRAMES` (the count cut to 24 digits); the caller names the field."""
    if 0 <= count <= MAX_FRAMES:
        return None
    shown = f"{str(count)[:24]}{'...' if len(str(count)) > 24 else ''}"
    if count < 0:
        return f"{shown} frames is no frame count (0 or more)"
    return (
        f"{shown} frames is more than any video has (at most {MAX_FRAMES}: a frame key has at most "
        f"{MAX_FRAME_DIGITS} digits)"
    )


def _frame_count(v: int) -> int:
    """Refuse a frame count past :data:`MAX_FRAMES` (:func:`frame_count_problem`)."""
    problem = frame_count_problem(v)
    if problem is not None:
        raise ValueError(problem)
    return v


#: A video's frame count: 0 .. :data:`MAX_FRAMES`, as many frames as keys of at most
#: :data:`MAX_FRAME_DIGITS` digits name (a forged larger count would let a box through on a frame
#: :data:`schemas.dataset.FrameIndex` then refuses): a tracklet file's ``frames``
#: (:class:`schemas.dataset.TrackletFileFrame`), a downloaded video's probed ``frames``
#: (:class:`schemas.items.VideoProbe`).
FrameCount = Annotated[
    int, Field(ge=0, json_schema_extra={"maximum": MAX_FRAMES}), AfterValidator(_frame_count)
]


def frame_key_problem(key: str) -> str:
    """What is wrong with ``key``, a frame key :func:`is_frame_key` refuses, and how to write it."""
    if past_any_video(key):
        return past_any_video_problem(key)
    if key.isascii() and key.isdigit():
        return f"frame key {key!r} is not a non-negative integer written without leading zeros (write {key.lstrip('0') or '0'!r})"
    return f"frame key {key!r} is not a non-negative integer string"


class OfficialEntry(BaseModel):
    """One product of an official split file. Extra keys are kept as they are, and an entry read
    by :func:`parse_official` remembers the order of its keys (:func:`dump_official` keeps it)."""

    model_config = ConfigDict(extra="allow")

    video_paths: list[RelPath] = Field(min_length=1)
    img_path: RelPath
    #: an integer in the JSON ("1", 1.0 or true are refused, as mf verify does)
    source: Annotated[
        StrictInt,
        WithJsonSchema(
            {
                "type": "integer",
                "description": "partition code: 1 Regular, any other integer Hard; written as an integer "
                "(1.0, which JSON Schema counts as an integer, is refused by the reader)",
            }
        ),
    ]
    tracklets: Annotated[list[TrackletBoxes], WrapValidator(_tracklets_at_once)] = Field(default_factory=list)
    _key_order: tuple[str, ...] = PrivateAttr(default=())
    _box_arrays: tuple[Any, ...] | None = PrivateAttr(default=None)

    @field_validator("tracklets")
    @classmethod
    def _frame_keys(cls, v: list[dict[str, Box]]) -> list[dict[str, Box]]:
        for i, trk in enumerate(v):
            if canonical_frame_keys(trk):
                continue
            for key in trk:
                if not is_frame_key(key):
                    raise ValueError(f"tracklet {i}: {frame_key_problem(key)}")
        return v

    def __eq__(self, other: object) -> bool:
        """Same fields and extra keys (the key order an entry was read with is no part of it)."""
        if not isinstance(other, OfficialEntry):
            return NotImplemented
        return self.__dict__ == other.__dict__ and self.model_extra == other.model_extra

    @property
    def partition(self) -> Partition:
        return partition_from_source_code(self.source)

    def box_array(self, video_index: int) -> Any:
        """The boxes of ``tracklets[video_index]``, in its order, as the ``[N, 4]`` float64 array
        the reader's one-pass check built (read with ``box_arrays=True``: :func:`read_official`,
        :func:`read_official_rows`); None when it was not kept (another read, a tracklet the
        check left to the per-box validators, or one changed since)."""
        arrays = self._box_arrays
        if arrays is None or video_index >= len(arrays) or video_index >= len(self.tracklets):
            return None
        xy = arrays[video_index]
        return xy if len(xy) == len(self.tracklets[video_index]) else None

    def tracklet_boxes(self, video_index: int) -> dict[int, list[float]]:
        """Frame index (int) -> box of the ground-truth tracklet of one video; {} if none."""
        if video_index >= len(self.tracklets):
            return {}
        trk = self.tracklets[video_index]
        return dict(zip(map(int, trk), trk.values(), strict=True))


OfficialSplit = dict[str, OfficialEntry]


def _field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _not_finite(value: Any) -> bool:
    """Whether ``value`` (parsed JSON) holds a NaN or an infinity anywhere (walked with a stack:
    an extra field nested 600 deep, which JSON parses, overflowed the recursion that was here)."""
    todo = [value]
    while todo:
        v = todo.pop()
        if isinstance(v, float):
            if not math.isfinite(v):
                return True
        elif isinstance(v, dict):
            todo.extend(v.values())
        elif isinstance(v, list):
            todo.extend(v)
    return False


#: What is wrong with a field holding NaN or an infinity, and what to do (reader and mf verify).
NONFINITE = (
    "NaN or Infinity is no JSON number",
    "write a finite number or null there: rewriting this file would fail",
)


def nonfinite_field(fields: Mapping[str, Any]) -> str | None:
    """The first of ``fields`` (an entry's extra keys) holding NaN or an infinity: read, but no
    writer could write it back (the reader refuses the file; ``mf verify`` reports it)."""
    return next((key for key, value in fields.items() if _not_finite(value)), None)


def parse_official(data: Any, *, where: str = "<json>") -> OfficialSplit:
    """Validate already-parsed JSON; errors name the file, the product id and the field.

    Raises :class:`DataFormatError`, or its subclass :class:`PathEscapeError` when a path is
    not canonical (absolute, ``..``, ``./``, backslash, NUL): nothing in a split file may name a
    file outside the dataset folder.
    """
    return _parse(data, where, owned=False)


def _parse(data: Any, where: str, *, owned: bool, box_arrays: bool = False) -> OfficialSplit:
    """:func:`parse_official`; ``owned``: ``data`` is the caller's alone (parsed from a file), so
    the entries keep its box lists instead of copies; ``box_arrays``: each entry keeps the arrays
    the one-pass check built of its tracklets (:meth:`OfficialEntry.box_array`)."""
    if not isinstance(data, dict):
        raise DataFormatError(
            f"top level must be an object keyed by product id, got {type(data).__name__}",
            where=where,
            hint="a split file maps each product id to {video_paths, img_path, source, tracklets}: "
            "`mf schema export --out DIR` writes its JSON Schema",
        )
    out: OfficialSplit = {}
    for pid, value in data.items():
        if not isinstance(value, dict):
            raise DataFormatError(
                f"product '{pid}': value must be an object, got {type(value).__name__}", where=where
            )
        _refuse_surrogates(pid, value, where)
        if has_control_char(pid):
            raise DataFormatError(
                f"product {pid!r}: its id holds a control character (NUL, a line break, a tab ...):"
                " no file name nor log line can show it",
                where=where,
                hint="rename that product in the split file with an id of printable characters",
            )
        kept: list[Any] = []
        context = {_OWNED: owned, _BOX_ARRAYS: kept} if box_arrays else {_OWNED: owned}
        try:
            out[pid] = OfficialEntry.model_validate(value, context=context)
            out[pid]._key_order = tuple(value)
            if kept and kept[-1][0] is out[pid].tracklets:
                out[pid]._box_arrays = tuple(kept[-1][1])
            if (key := nonfinite_field(out[pid].model_extra or {})) is not None:
                raise DataFormatError(
                    f"product '{pid}': field '{key}': {NONFINITE[0]}", where=where, hint=NONFINITE[1]
                )
        except ValidationError as exc:
            err = exc.errors()[0]
            field = _field_path(err["loc"])
            named = next((k for k in value if not field and isinstance(k, str) and has_surrogate(k)), None)
            if named is not None:  # pydantic names no field: the field's own name is not text
                raise DataFormatError(
                    f"product '{pid}': field '{named}': its name holds a lone surrogate (not UTF-8 text)",
                    where=where,
                    hint="rename or remove that field",
                ) from None
            cause = (err.get("ctx") or {}).get("error")
            if isinstance(cause, UnsafePathValue):
                raise PathEscapeError(
                    f"product '{pid}': field '{field}': {cause}",
                    value=cause.value,
                    what=field,
                    where=where,
                    hint="fix or remove that entry",
                ) from None
            raise DataFormatError(
                f"product '{pid}': field '{field}': {validation_text(err)}",
                where=where,
                hint=_fix_hint(value, err["loc"]),
            ) from None
    return out


def _not_text(value: object) -> bool:
    """Whether ``value`` is a string holding a lone UTF-16 surrogate (valid JSON ``"\\udc80"``, a
    file name that is not UTF-8): no file can be named by it, nor a tracklet file written for it."""
    return isinstance(value, str) and not value.isascii() and has_surrogate(value)


def _refuse_surrogates(pid: str, value: Mapping[str, Any], where: str) -> None:
    """Refuse product ``pid`` of split file ``where`` when its id, a video path or its shop image
    path holds a lone surrogate, naming the file, the product and the field."""
    videos = value.get("video_paths")
    named = [
        ("video_paths", f"video_paths[{i}]", v)
        for i, v in enumerate(videos if isinstance(videos, list) else ())
    ]
    for what, field, text in [
        ("product id", "", pid),
        *named,
        ("img_path", "img_path", value.get("img_path")),
    ]:
        if not _not_text(text):
            continue
        if not field:
            raise DataFormatError(
                f"product '{pid}': its id holds a lone surrogate (a name that is not UTF-8 text)",
                where=where,
                hint="rename that product with a UTF-8 id in the split file",
            )
        raise DataFormatError(
            f"product '{pid}': field '{field}': '{text}' holds a lone surrogate (a name that is not"
            " UTF-8 text)",
            where=where,
            hint=f"rename that {'video' if what == 'video_paths' else 'shop image'} file with a UTF-8 name and"
            " write its new path into the split file",
        )


def _fix_hint(value: Mapping[str, Any], loc: tuple[Any, ...]) -> str:
    """What to do about a field of entry ``value`` that does not validate: for a tracklet's box,
    the video it belongs to is named (``tracklets[i]`` is ``video_paths[i]``)."""
    if len(loc) > 1 and loc[0] == "tracklets" and isinstance(loc[1], int):
        videos = value.get("video_paths")
        if isinstance(videos, list) and loc[1] < len(videos):
            return f"tracklets[{loc[1]}] is video {videos[loc[1]]!r}: fix that box or remove the entry"
    return "fix or remove that entry"


#: The split files of a published dataset folder.
SPLIT_FILES = ("train.json", "test.json")


def no_splits_hint(root: str | os.PathLike[str], default: str) -> str:
    """What to do about a folder without train.json or test.json: for a synthetic world (its
    ``world.json``) or a collection folder (its ``catalog.sqlite``), the command that makes a
    dataset of it; else ``default``."""
    folder = Path(root)
    if (folder / "world.json").is_file():
        return (
            "this is a synthetic world, not a dataset: `mf world export-gt --world "
            f"{folder} --out DATASET` writes the dataset it stands for"
        )
    if (folder / "catalog.sqlite").is_file():
        return (
            "this is a collection folder, not a dataset: `mf publish --catalog "
            f"{folder / 'catalog.sqlite'} --root {folder} --out DATASET` writes one"
        )
    return default


def split_files(dataset: str | os.PathLike[str], *, option: str = "--dataset") -> list[Path]:
    """The split files present in a published dataset folder (at least one), or a
    :class:`DataFormatError` naming the folder."""
    root = Path(dataset)
    if not root.is_dir():
        raise DataFormatError(
            "dataset folder not found", where=str(root), hint=f"{option} takes the folder mf publish wrote"
        )
    found = [root / name for name in SPLIT_FILES if (root / name).is_file()]
    if not found:
        raise DataFormatError(
            "no train.json or test.json",
            where=str(root),
            hint=no_splits_hint(root, "pass a dataset in the official MovingFashion format"),
        )
    return found


def split_json(root: str | os.PathLike[str], split: str | os.PathLike[str]) -> Path:
    """The file a split argument names: a path ending in ``.json`` as given (a relative one that
    is not there but is inside ``root``: ``root``'s), else ``<root>/<split>.json``. When ``root``
    is a folder without that file, a :class:`DataFormatError` naming the folder and the splits it
    has (train, test); when ``root`` is a file, one saying to pass its folder."""
    split = os.fspath(split)
    if Path(root).is_file():
        raise DataFormatError(
            "this is a file, not a dataset folder",
            where=str(root),
            hint=f"pass the folder that holds it as the root ({Path(root).parent}) and the split by name"
            " (train, test) or as this file's path",
        )
    if split.endswith(".json"):
        given = Path(split)
        in_root = Path(root) / given
        if not given.is_absolute() and not given.exists() and in_root.is_file():
            return in_root
        return given
    folder = Path(root)
    path = folder / f"{split}.json"
    if not folder.exists():  # was "ROOT/train.json: file not found (pass the dataset root ...)"
        raise DataFormatError(
            "dataset folder not found",
            where=str(folder),
            hint="pass the folder mf publish wrote (relative paths start at the working directory, "
            f"{os.getcwd()})",
        )
    if folder.is_dir() and not path.is_file():
        have = [Path(name).stem for name in SPLIT_FILES if (folder / name).is_file()]
        missing = (
            f"; {split}.json is missing: restore it (a backup, the archive's), or rerun mf publish to "
            "write it again, then mf-tracklets build (it puts back the tracklets of tracklets/); for a "
            "synthetic world, rerun mf world export-gt"
            if f"{split}.json" in SPLIT_FILES
            else ""
        )
        raise DataFormatError(
            f"no split {split!r}",
            where=str(folder),
            hint=f"its splits: {', '.join(have)}{missing}"
            if have
            else "it has no train.json or test.json: "
            + no_splits_hint(folder, "pass the folder mf publish wrote, or a split JSON"),
        )
    return path


class _RepeatedKey(ValueError):
    """A key that appears twice in one JSON object (the reader would keep only the last)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)
    return obj


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: parsing a split makes millions of lists, none of them
    garbage, and the collector would walk them again and again (a third of the read's time); a
    caller that goes on building from them (the dataset's records) pauses it around both."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _load(path: str | os.PathLike[str]) -> tuple[Path, Any]:
    """The parsed JSON of a split file; DataFormatError naming the file when it cannot be read,
    and when one object holds a key twice (a product id or a frame: JSON readers keep the last
    and lose the first without a word). A UTF-8 byte order mark is dropped. When what does not
    decode is inside one product's entry (a malformed number or a frame key twice in its
    tracklet), the file is read entry by entry (:func:`_entries_apart`): that product's value
    is a :class:`_Broken` naming the product and the field, the others as they decode, for
    the caller to hold it out or refuse the file with its error (:func:`_refuse_broken`)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise DataFormatError(
            "file not found", where=str(p), hint="pass the dataset root or a split JSON"
        ) from None
    except OSError as exc:
        raise DataFormatError(f"cannot read: {exc.strerror or exc}", where=str(p)) from None
    text = decode_utf8(data, str(p))
    try:
        return p, json.loads(text, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as exc:  # _RepeatedKey is a ValueError
        error = exc
    # one product's entry may be what does not decode (a malformed number, a frame key twice):
    # the file read entry by entry says which
    apart = _entries_apart(text, str(p)) if isinstance(error, (json.JSONDecodeError, _RepeatedKey)) else None
    if apart is not None:
        return p, apart
    if isinstance(error, _RepeatedKey):
        raise DataFormatError(
            f"key {error.args[0]!r} appears twice in one object",
            where=str(p),
            hint="keep one of them: a reader would silently drop the first (a product or a frame's box)",
        ) from None
    return p, load_json(text, str(p), hint=SPLIT_FILE_HINT)  # raises, saying why


class _Broken(NamedTuple):
    """A product whose entry is no JSON a reader can take (:func:`_entries_apart`), in place of
    its value: the error naming the file, the product and the field."""

    error: DataFormatError
    #: the entry's text as the file holds it (what a writer keeping the entry writes back)
    text: str
    #: where the entry starts in the file's text
    start: int = 0


def _refuse_broken(data: Any) -> None:
    """Raise the error of the first :class:`_Broken` entry of ``data`` (:func:`_load`'s), if any:
    what a reader that takes the file whole does."""
    if isinstance(data, dict):
        broken = next((v for v in data.values() if isinstance(v, _Broken)), None)
        if broken is not None:
            raise broken.error


#: the closing bracket of each opening one
_CLOSING = {"[": "]", "{": "}"}


def _value_end(text: str, i: int) -> int:
    """Where the object or array at ``text[i]`` ends (past its closing bracket), strings skipped
    and each bracket closed by its own kind; ValueError when it does not close so (the entry's
    bounds are not known: a reader does not guess them)."""
    if text[i] not in _CLOSING:
        raise ValueError("not an object or array")
    stack: list[str] = []
    m = _NESTING.search(text, i)
    while m is not None:
        c, at = m.group(), m.end()
        if c == '"':
            at = json.decoder.scanstring(text, at)[1]  # a bad string: ValueError
        elif c in _CLOSING:
            stack.append(_CLOSING[c])
        elif not stack or stack.pop() != c:
            raise ValueError("a bracket closed by another kind")
        elif not stack:
            return at
        m = _NESTING.search(text, at)
    raise ValueError("an unclosed value")


def _object_opened(text: str) -> tuple[int, bool] | None:
    """Where the first entry of the JSON object ``text`` starts and whether it has one (past the
    closing brace when it is empty); None when ``text`` is not an object. IndexError on a text
    that ends early."""
    ws = _WS.match
    i = ws(text, 0).end()
    if text[i] != "{":
        return None
    i = ws(text, i + 1).end()
    more = text[i] != "}"
    return (i if more else i + 1), more


def _entries_apart(text: str, where: str) -> dict[str, Any] | None:
    """The split file ``text`` read entry by entry: product id -> its decoded value, or
    :class:`_Broken` for an entry that does not decode (a malformed number, a key twice inside
    it), in the file's order. None when the file is not an object of entries whose bounds are
    sure (brackets that close, a product id twice, something between entries) or when no entry
    is broken: then the file as a whole is what is wrong."""
    decoder = json.JSONDecoder(object_pairs_hook=_unique_keys)
    ws = _WS.match
    out: dict[str, Any] = {}
    try:
        opened = _object_opened(text)
        if opened is None:
            return None
        i, more = opened
        while more:
            pid, i = _key_at(text, i)
            if pid is None or pid in out:  # no key, or a product id twice: the file's fault
                return None
            start = i
            try:
                out[pid], i = decoder.raw_decode(text, i)
            except (json.JSONDecodeError, _RepeatedKey):  # this entry's, when its bounds are sure
                i = _value_end(text, start)
                out[pid] = _Broken(_entry_break(text, start, pid, where), text[start:i], start)
            more, i = _after_value(text, i)
            if more is None:
                return None
        if ws(text, i).end() != len(text):
            return None
    except (ValueError, IndexError, RecursionError):
        return None
    return out if any(isinstance(v, _Broken) for v in out.values()) else None


def _entry_break(text: str, start: int, pid: str, where: str) -> DataFormatError:
    """What is wrong with the entry of ``pid`` at ``text[start]`` that does not decode: the
    field (for ``tracklets``, the video and frame key: :func:`_decoded_tracklets`), the line and
    column, and what to do."""
    decoder = json.JSONDecoder(object_pairs_hook=_unique_keys)
    fields: dict[str, Any] = {}
    key: str | None = None
    try:
        i = _WS.match(text, start + 1).end()
        more = text[i] != "}"
        while more:
            key, i = _key_at(text, i)
            if key is None:
                break
            if key in fields:
                return DataFormatError(
                    f"product '{pid}': field '{key}' appears twice in its entry",
                    where=where,
                    hint="keep one of them: a reader would silently drop the first",
                )
            if key == "tracklets":
                videos = fields.get("video_paths")
                videos = videos if isinstance(videos, list) else ()
                problems: list[BadVideo] = []
                fields[key], i = _decoded_tracklets(text, i, pid, videos, where, problems=problems)
                if problems:
                    return problems[0].error
            else:
                fields[key], i = decoder.raw_decode(text, i)
            more, i = _after_value(text, i)
            if more is None:
                break
    except _RepeatedKey as exc:
        return DataFormatError(
            f"product '{pid}': field '{key}': key {exc.args[0]!r} appears twice in one object",
            where=where,
            hint="keep one of them: a reader would silently drop the first; or remove the entry",
        )
    except (ValueError, IndexError, RecursionError):
        pass
    try:
        decoder.raw_decode(text, start)
    except json.JSONDecodeError as exc:
        at = f"field '{key}': " if key is not None else ""
        return DataFormatError(
            f"product '{pid}': {at}malformed JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
            where=where,
            hint="fix that value (numbers as JSON writes them, e.g. 12.5) or remove the entry",
        )
    except (ValueError, RecursionError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return DataFormatError(
            f"product '{pid}': its entry does not read: {detail}", where=where, hint="fix or remove the entry"
        )
    return DataFormatError(
        f"product '{pid}': its entry does not read", where=where, hint="fix or remove the entry"
    )


class SplitListing(NamedTuple):
    """What a split file lists (:func:`split_listing`): small and immutable."""

    #: ``(product id, video_paths, img_path)`` of each valid product, in the file's order
    products: tuple[tuple[str, tuple[str, ...], str], ...]
    #: ``(product id, error)`` of each invalid one (:func:`read_official_rows`' second part)
    bad: tuple[tuple[str, str], ...]


#: split listings kept per process (a few kB per thousand products), the oldest dropped first
LISTINGS_KEPT = 16
_listings: OrderedDict[tuple[Any, ...], SplitListing] = OrderedDict()
_listings_lock = threading.Lock()


def _file_identity(path: Path) -> tuple[Any, ...] | None:
    """What tells a file's version apart: its real path, device, inode, size, modification and
    change times (an atomic rewrite is a new inode) and its first and last 64 kB (a rewrite in
    place within one tick of the file system's clock); None when it cannot be read, or is no
    regular file (a pipe, ``<(...)``, is read once: by the reader)."""
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            return None
        digest = sample_digest(path)
    except OSError:
        return None
    return (os.path.realpath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, digest)


def _listing_of(good: OfficialSplit, bad: list[tuple[str, str]]) -> SplitListing:
    return SplitListing(tuple((pid, tuple(e.video_paths), e.img_path) for pid, e in good.items()), tuple(bad))


def _remember(identity: tuple[Any, ...] | None, good: OfficialSplit, bad: list[tuple[str, str]]) -> None:
    """Keep the listing of a split just read, under the identity it was stat'ed with before."""
    if identity is None:
        return
    listing = _listing_of(good, bad)
    with _listings_lock:
        _listings[identity] = listing
        while len(_listings) > LISTINGS_KEPT:
            _listings.popitem(last=False)


def split_listing(path: str | os.PathLike[str], *, stored: bool = False) -> SplitListing:
    """The products a split file lists (:func:`read_official_rows`' valid rows: ids, video and
    shop image paths; and the invalid rows' errors), read once per process while the file stays
    the same (size, times, inode): what the dataset and the feature bank ask of the other split,
    or again of one already read, without parsing its boxes again. Raises like
    :func:`read_official_rows`.

    ``stored``: also look in the file's :func:`listing_file` (taken when it was written for this
    version of the file, :func:`split_identity`), and write it after a parse (see
    :func:`store_listing`): the dataset's other split, whose boxes it never uses, then costs a
    small read instead of a whole parse (seconds at the archive's size)."""
    p = Path(path)
    identity = _file_identity(p)
    with _listings_lock:
        if identity in _listings:
            _listings.move_to_end(identity)
            return _listings[identity]
    if stored and identity is not None:
        kept = _stored_listing(p, identity)
        if kept is not None:
            with _listings_lock:
                _listings[identity] = kept
                while len(_listings) > LISTINGS_KEPT:
                    _listings.popitem(last=False)
            return kept
    listing = _listing_of(*read_official_rows(p))
    if stored:
        _store(p, identity, listing)
    return listing


#: the version of :func:`listing_file`'s content: raise it when what :func:`read_official_rows`
#: accepts changes (a stored listing of another version is not taken)
LISTING_VERSION = 1


def listing_file(path: str | os.PathLike[str]) -> Path:
    """Where the listing of split file ``path`` is kept (:func:`split_listing` with ``stored``):
    beside it, hidden (``.train.json.listing.json``: in no manifest or zip of the folder), with
    the identity of the version it lists (:func:`split_identity`: real path, inode, size,
    modification and change times, first and last 64 kB)."""
    p = Path(path)
    return p.with_name(f".{p.name}.listing.json")


def _stored_listing(p: Path, identity: tuple[Any, ...]) -> SplitListing | None:
    """The listing kept in ``p``'s :func:`listing_file` for version ``identity`` of ``p``; None
    when there is none, it is of another version (or another :data:`LISTING_VERSION`) or it
    does not read as one."""
    try:
        data = json.loads(listing_file(p).read_bytes())
        if not (
            type(data) is dict
            and data.get("version") == LISTING_VERSION
            and type(data.get("identity")) is list
            and tuple(data["identity"]) == identity
        ):
            return None
        products = tuple(
            (pid, tuple(videos), img)
            for pid, videos, img in data["products"]
            if type(pid) is str and type(img) is str and all(type(v) is str for v in videos)
        )
        bad = tuple((pid, err) for pid, err in data["bad"] if type(pid) is str and type(err) is str)
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if len(products) != len(data["products"]) or len(bad) != len(data["bad"]):
        return None
    return SplitListing(products, bad)


def _store(p: Path, identity: tuple[Any, ...] | None, listing: SplitListing) -> None:
    """Write ``listing`` of version ``identity`` of ``p`` to its :func:`listing_file`; nothing
    when the folder cannot be written (a read-only copy: the file is parsed at each open)."""
    if identity is None:
        return
    data = {
        "version": LISTING_VERSION,
        "identity": list(identity),
        "products": [[pid, list(videos), img] for pid, videos, img in listing.products],
        "bad": [list(row) for row in listing.bad],
    }
    target = listing_file(p)
    with contextlib.suppress(OSError, MFError):
        write_if_changed(target, json_bytes(target, data, indent=None))


def store_listing(path: str | os.PathLike[str]) -> None:
    """Write the listing of split file ``path`` just read (by :func:`read_official` or
    :func:`read_official_rows`, which keep it in the process) to its :func:`listing_file`, so
    that a later process that needs only the listing (a dataset of the other split) reads that
    instead of parsing the file. Nothing when the file changed since it was read, or the
    folder cannot be written."""
    p = Path(path)
    identity = _file_identity(p)
    with _listings_lock:
        listing = _listings.get(identity) if identity is not None else None
    if listing is not None:
        _store(p, identity, listing)


def read_official(path: str | os.PathLike[str], *, box_arrays: bool = False) -> OfficialSplit:
    """Read and validate an official split file: a :class:`DataFormatError` (an *error*) for what a
    loader cannot use correctly. What it reads but the real archive never holds (``source`` 2, a
    zero-width box, a video listed twice, ...) is tolerated here and reported as a *finding* by
    :func:`schemas.official_checks.split_findings` (``mf schema validate``, ``mf verify``).
    ``box_arrays``: each entry keeps its boxes as arrays too (:meth:`OfficialEntry.box_array`:
    what a caller that builds arrays of them takes instead of building them again)."""
    identity = _file_identity(Path(path))
    with gc_paused():
        p, data = _load(path)
        _refuse_broken(data)
        split = _parse(data, str(p), owned=True, box_arrays=box_arrays)
        _remember(identity, split, [])
    return split


class OfficialHead(NamedTuple):
    """One product of a split file without its boxes (:func:`read_official_heads`)."""

    video_paths: tuple[str, ...]
    img_path: str
    source: int
    #: per tracklet of ``tracklets``, in order: whether it holds any box
    with_boxes: tuple[bool, ...]


def _head_of(entry: OfficialEntry) -> OfficialHead:
    return OfficialHead(
        tuple(entry.video_paths), entry.img_path, entry.source, tuple(map(bool, entry.tracklets))
    )


_W = r"[ \t\n\r]*"
#: a JSON number (RFC 8259), whitespace around it
_NUM = rf"{_W}-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?{_W}"
_PAIR = rf'"(?:0|[1-9][0-9]{{0,{MAX_FRAME_DIGITS - 1}}})"{_W}:{_W}\[{_NUM}(?:,{_NUM}){{3}}\]'
_TRK = rf"\{{{_W}(?:{_PAIR}(?:{_W},{_W}{_PAIR})*)?{_W}\}}"
#: a ``tracklets`` value of the usual shape: tracklets of canonical frame keys to four JSON numbers
#: (whether a key is there twice and whether the numbers make a box: :func:`_unvouched`)
_TRACKLETS = re.compile(rf"\[{_W}(?:{_TRK}(?:{_W},{_W}{_TRK})*)?{_W}\]")
#: a tracklet's start inside a :data:`_TRACKLETS` match; group 1 set when it is empty
_TRK_START = re.compile(rf"\{{{_W}(\}})?")
_WS = re.compile(_W)
#: the last frame key before a point of a tracklet (what a malformed number's error names)
_LAST_KEY = re.compile(rf'"([^"\\]*)"{_W}:{_W}\[[^\[\]{{}}]*\Z')
#: the separators of a :data:`_TRACKLETS` match, read as spaces between its numbers
_TO_SPACES = bytes.maketrans(b'[]{}":,\t\n\r', b"          ")
#: characters of :data:`_TRACKLETS` matches checked at a time by :func:`_unvouched` (its memory)
_VOUCH_CHUNK = 1 << 24


class _Span(NamedTuple):
    """Where one product's entry and its ``tracklets`` value are in a split file's text."""

    product_id: str
    start: int  #: the entry's ``{``
    end: int  #: past its ``}``
    tracklets: tuple[int, int] | None  #: the ``tracklets`` value of the usual shape, if any


def read_official_heads(path: str | os.PathLike[str]) -> dict[str, OfficialHead]:
    """Each product's ids, video and shop paths, source and which tracklets hold boxes, without
    building the boxes: a scan of the file that decodes every field but ``tracklets``, whose
    value is matched against its usual shape (canonical frame keys to lists of four JSON numbers)
    and whose numbers are then checked all at once (finite, ``x1 <= x2``, ``y1 <= y2``, no frame
    key twice in a tracklet). A frame key twice, a box with reversed corners or a malformed number
    (``1e``, ``--1``) raises a :class:`DataFormatError` naming the file, the product, the video
    (``tracklets[i]``) and the frame key, as a whole read would refuse the file. The other fields
    are validated as :func:`read_official` does. Anything unexpected (another shape, a key twice
    outside a tracklet, a field that does not validate, a file that does not read) reads the file
    whole with :func:`read_official` instead, raising as it does. What the scan found and where
    each entry is in the file are kept per version of the file (:func:`split_identity`, the
    last :data:`SPANS_KEPT` files): the same file read again (the review page's queue rebuilt
    after a tracklet build) is not scanned again, and :func:`read_official_entry` finds an entry
    without a search."""
    got = _scanned_heads(Path(path))
    if got is None:
        return {pid: _head_of(e) for pid, e in read_official(path).items()}
    heads, bad = got
    if bad:
        raise bad[0].error
    return heads


def read_official_heads_rows(
    path: str | os.PathLike[str],
) -> tuple[dict[str, OfficialHead], tuple[BadVideo, ...]]:
    """:func:`read_official_heads` that goes on past a video whose tracklet the reader refuses (a
    box with reversed corners, a frame key twice, a malformed number): (the heads, every such
    video, :class:`BadVideo`, naming the file, product, video and frame key). The bad video's
    product keeps its head; what a reader of it does is its own to decide (the review queue holds
    the video out). A file the scan cannot read goes through :func:`read_official_rows`: an
    invalid product is then left out of the heads and listed whole (``video`` None). Kept per
    version of the file as :func:`read_official_heads` keeps its heads."""
    p = Path(path)
    got = _scanned_heads(p)
    if got is not None:
        return got
    good, rows = read_official_rows(p)
    return {pid: _head_of(e) for pid, e in good.items()}, tuple(
        BadVideo(str(p), pid, None, None, DataFormatError(problem)) for pid, problem in rows
    )


def _scanned_heads(p: Path) -> tuple[dict[str, OfficialHead], tuple[BadVideo, ...]] | None:
    """The heads of split file ``p`` and its bad videos, from what was kept for this version of
    the file or from a scan (:func:`read_official_heads`); None when the scan cannot read it."""
    identity = _file_identity(p)
    with _listings_lock:
        if identity is not None and identity in _entry_spans:
            _entry_spans.move_to_end(identity)
            heads, _, bad = _entry_spans[identity]
            return dict(heads), bad
    problems: list[BadVideo] = []
    try:
        raw = p.read_bytes()
        text = raw.decode("utf-8-sig")
        scanned = _scan_heads(text, str(p), problems)
    except (OSError, ValueError, IndexError, RecursionError):
        scanned = None
    if scanned is None:
        return None
    heads, spans = scanned
    for k in _unvouched(text, spans):  # what a whole read refuses: its videos added to problems
        pid, videos = spans[k].product_id, heads[spans[k].product_id].video_paths
        at = spans[k].tracklets
        if at is not None:
            _decoded_tracklets(text, at[0], pid, videos, str(p), validate=True, problems=problems)
    bad = tuple(problems)
    _remember_spans(identity, heads, text, spans, bom=raw.startswith(codecs.BOM_UTF8), bad=bad)
    return dict(heads), bad


def _scan_heads(
    text: str, where: str, problems: list[BadVideo] | None = None
) -> tuple[dict[str, OfficialHead], list[_Span]] | None:
    """:func:`read_official_heads` of ``text`` and where its entries are; None when it is anything
    but a plain split. A ``tracklets`` value of another shape is decoded: a malformed number, a
    frame key twice or a bad box in it raises (:func:`_decoded_tracklets`), or, with
    ``problems``, is added to it (that tracklet read as ``{}``)."""
    decoder = json.JSONDecoder(object_pairs_hook=_unique_keys)
    ws = _WS.match
    out: dict[str, OfficialHead] = {}
    spans: list[_Span] = []
    opened = _object_opened(text)
    if opened is None:
        return None
    i, more = opened
    while more:
        pid, i = _key_at(text, i)
        if pid is None or pid in out or text[i] != "{":
            return None
        start, trk_span, m = i, None, None
        fields: dict[str, Any] = {}
        with_boxes: tuple[bool, ...] = ()
        i = ws(text, i + 1).end()
        more_fields = text[i] != "}"
        i = i if more_fields else i + 1
        while more_fields:
            key, i = _key_at(text, i)
            if key is None or key in fields:
                return None
            if key == "tracklets":
                m = _TRACKLETS.match(text, i)
                if m is None:  # another shape: decoded, a malformed number or a key twice named
                    videos = fields.get("video_paths")
                    videos = videos if isinstance(videos, list) else ()
                    fields[key], i = _decoded_tracklets(text, i, pid, videos, where, problems=problems)
                else:
                    with_boxes = tuple(s.group(1) is None for s in _TRK_START.finditer(text, i, m.end()))
                    fields[key], i, trk_span = [], m.end(), (m.start(), m.end())
            else:
                fields[key], i = decoder.raw_decode(text, i)
            more_fields, i = _after_value(text, i)
            if more_fields is None:
                return None
        if m is None and isinstance(fields.get("tracklets"), list):
            with_boxes = tuple(map(bool, fields["tracklets"]))
        try:
            entry = _parse({pid: fields}, where, owned=True)[pid]
        except DataFormatError:
            return None
        out[pid] = OfficialHead(tuple(entry.video_paths), entry.img_path, entry.source, with_boxes)
        spans.append(_Span(pid, start, i, trk_span))
        more, i = _after_value(text, i)
        if more is None:
            return None
    return (out, spans) if ws(text, i).end() == len(text) else None


def _decoded_tracklets(
    text: str,
    i: int,
    product_id: str,
    videos: Sequence[str],
    where: str,
    *,
    validate: bool = False,
    problems: list[BadVideo] | None = None,
) -> tuple[Any, int]:
    """The ``tracklets`` value at ``text[i]`` decoded a tracklet at a time (another shape is
    returned as it decodes), and where it ends; a malformed number or a frame key twice in a
    tracklet raises a :class:`DataFormatError` naming the product, the video (``tracklets[n]``
    is ``videos[n]``) and the frame key. ``validate``: its boxes are validated too
    (:class:`OfficialEntry`), a bad one raising. With ``problems``, a bad tracklet is added to it
    (:class:`BadVideo`) and read as ``{}`` instead of raising, so the other videos of the file
    still read. Anything else that is no JSON raises ValueError."""
    decoder = json.JSONDecoder(object_pairs_hook=_unique_keys)
    ws = _WS.match
    if text[i] != "[":
        return decoder.raw_decode(text, i)
    out: list[Any] = []
    i = ws(text, i + 1).end()
    while text[i] != "]":
        n = len(out)
        field = f"product '{product_id}': field 'tracklets[{n}]'" + (
            f" (video {videos[n]!r})" if n < len(videos) else ""
        )
        start = i
        try:
            try:
                trk, i = decoder.raw_decode(text, i)
            except _RepeatedKey as exc:
                raise _BadTracklet(
                    str(exc.args[0]),
                    DataFormatError(
                        f"{field}: frame key {exc.args[0]!r} appears twice",
                        where=where,
                        hint="keep one of them: a reader would silently drop the first box",
                    ),
                ) from None
            except json.JSONDecodeError as exc:
                key = _LAST_KEY.search(text, i, exc.pos)
                at = f"frame key {key.group(1)!r}" if key else "a box"
                raise _BadTracklet(
                    key.group(1) if key else None,
                    DataFormatError(
                        f"{field}: {at}: malformed number ({exc.msg} at line {exc.lineno} column {exc.colno})",
                        where=where,
                        hint="write each box as four JSON numbers, e.g. [10, 20.5, 110, 220]",
                    ),
                ) from None
            if validate or problems is not None:
                _check_tracklet(trk, n, product_id, videos, where)
        except _BadTracklet as bad:
            if problems is None:
                raise bad.error from None
            problems.append(
                BadVideo(where, product_id, videos[n] if n < len(videos) else None, bad.key, bad.error)
            )
            trk, i = {}, _past_value(text, start)
        out.append(trk)
        i = ws(text, i).end()
        if text[i] == ",":
            i = ws(text, i + 1).end()
            if text[i] == "]":
                raise ValueError("a comma before ]")
        elif text[i] != "]":
            raise ValueError("expected , or ]")
    return out, i + 1


class BadVideo(NamedTuple):
    """A video of a split file whose tracklet holds what the reader refuses (a box with reversed
    corners, a frame key twice, a malformed number): held out by the readers that go on without
    it (:func:`read_official_heads_rows`). ``video`` None: the whole product's entry."""

    path: str  #: the split file
    product_id: str
    video: str | None
    frame_key: str | None  #: the frame key of the bad box, when known
    error: DataFormatError  #: what a strict read raises for it

    def line(self) -> str:
        """One line naming the file, product, video and frame key, and what is wrong."""
        if self.error.where is None:  # a whole read's row error: it names the file and product
            return self.error.render()
        at = [f"product {self.product_id!r}"]
        if self.video is not None:
            at.append(f"video {self.video!r}")
        if self.frame_key is not None:
            at.append(f"frame key {self.frame_key!r}")
        return f"{self.path}: {', '.join(at)}: {self.error.message}" + (
            f" ({self.error.hint})" if self.error.hint else ""
        )


class _BadTracklet(Exception):
    """One tracklet the reader refuses: the frame key at fault (when known) and the error."""

    def __init__(self, key: str | None, error: DataFormatError) -> None:
        super().__init__(key, error)
        self.key, self.error = key, error


def _check_tracklet(trk: Any, n: int, product_id: str, videos: Sequence[str], where: str) -> None:
    """Validate tracklet ``n`` (video ``videos[n]``) of ``product_id`` as :class:`OfficialEntry`
    does; :class:`_BadTracklet` naming the frame key when it does not."""
    if _plain_tracklet(trk) and canonical_frame_keys(trk):
        return
    fields = {
        "video_paths": list(videos) or ["x"],
        "img_path": "x",
        "source": 0,
        "tracklets": [{}] * n + [trk],
    }
    try:
        OfficialEntry.model_validate(fields, context={_OWNED: True})
        return
    except ValidationError as exc:
        loc = exc.errors()[0]["loc"]
        key = str(loc[2]) if len(loc) > 2 and loc[:2] == ("tracklets", n) else None
    if key is None and isinstance(trk, dict):
        key = next((k for k in trk if not is_frame_key(k)), None)
    try:
        _parse({product_id: fields}, where, owned=True)
    except DataFormatError as exc:
        raise _BadTracklet(key, exc) from None


#: a character that opens or closes a JSON value, or starts a string
_NESTING = re.compile(r'[\[\]{}"]')


def _past_value(text: str, i: int) -> int:
    """Where the object or array at ``text[i]`` ends (past its closing bracket), strings skipped:
    how a tracklet that does not decode is stepped over. ValueError when it does not close."""
    depth = 0
    m = _NESTING.search(text, i)
    while m is not None:
        c, at = m.group(), m.end()
        if c == '"':
            at = json.decoder.scanstring(text, at)[1]  # a bad string: ValueError
        else:
            depth += 1 if c in "[{" else -1
            if depth == 0:
                return at
        m = _NESTING.search(text, at)
    raise ValueError("an unclosed value")


def _unvouched(text: str, spans: Sequence[_Span]) -> list[int]:
    """The indices of ``spans`` whose ``tracklets`` value (of the usual shape) may hold a box
    :class:`OfficialEntry` refuses or a frame key twice in a tracklet, found in a few numpy passes
    over all their numbers at once (a chunk of :data:`_VOUCH_CHUNK` characters at a time): each
    box finite with ``x1 <= x2`` and ``y1 <= y2``, each tracklet's keys distinct. The others hold
    none of these."""
    import numpy as np

    out: list[int] = []
    todo = [(k, s.tracklets) for k, s in enumerate(spans) if s.tracklets is not None]
    while todo:
        size, n = 0, 0
        while n < len(todo) and (n == 0 or size < _VOUCH_CHUNK):
            size, n = size + todo[n][1][1] - todo[n][1][0], n + 1
        parts = [text[lo:hi] for _, (lo, hi) in todo[:n]]
        chunk, todo = [k for k, _ in todo[:n]], todo[n:]
        blob = "".join(parts).encode("ascii").replace(b"{", b" nan ").translate(_TO_SPACES)
        try:
            numbers = np.fromstring(blob, sep=" ")  # C's number reader: no object per number
        except ValueError:  # a number it cannot read (the shape's match lets none through)
            out += chunk
            continue
        starts = np.flatnonzero(np.isnan(numbers))  # each tracklet's "{"
        per_trk = np.diff(np.append(starts, numbers.size)) - 1
        trk_per_entry = [p.count("{") for p in parts]
        if starts.size != sum(trk_per_entry) or (per_trk % 5).any():
            out += chunk  # not what the shape promised: every entry is decoded on its own
            continue
        rows = np.delete(numbers, starts).reshape(-1, 5)  # frame key, x1, y1, x2, y2
        trk = np.repeat(np.arange(starts.size), per_trk // 5)
        bad_rows = ~(np.isfinite(rows).all(axis=1) & (rows[:, 1] <= rows[:, 3]) & (rows[:, 2] <= rows[:, 4]))
        bad = np.zeros(starts.size, bool)
        bad[trk[bad_rows]] = True
        keys = rows[:, 0]
        same = trk[1:] == trk[:-1]
        if not (keys[1:] > keys[:-1])[same].all():  # frames out of order somewhere: sort to compare
            order = np.lexsort((keys, trk))
            t, k = trk[order], keys[order]
            bad[t[1:][(t[1:] == t[:-1]) & (k[1:] == k[:-1])]] = True
        entry_of = np.repeat(np.arange(len(chunk)), trk_per_entry)
        out += [chunk[e] for e in np.unique(entry_of[bad])]
    return sorted(out)


def _key_at(text: str, i: int) -> tuple[str | None, int]:
    """The object key at ``text[i]`` and where its value starts (after ``:`` and whitespace);
    None when no key and colon are there."""
    if text[i] != '"':
        return None, i
    key, i = json.decoder.scanstring(text, i + 1)
    i = _WS.match(text, i).end()
    if text[i] != ":":
        return None, i
    return key, _WS.match(text, i + 1).end()


def _after_value(text: str, i: int) -> tuple[bool | None, int]:
    """After a member's value at ``i``: (True, the next key's start) after a ``,``; (False, past
    it) after the ``}`` closing the object; (None, i) after anything else."""
    i = _WS.match(text, i).end()
    if text[i] == ",":
        return True, _WS.match(text, i + 1).end()
    if text[i] == "}":
        return False, i + 1
    return None, i


#: split files whose heads and entries' places are kept (:func:`read_official_heads`), the oldest
#: dropped first
SPANS_KEPT = 4
_entry_spans: OrderedDict[
    tuple[Any, ...], tuple[dict[str, OfficialHead], dict[str, tuple[int, int]], tuple[BadVideo, ...]]
] = OrderedDict()


def _remember_spans(
    identity: tuple[Any, ...] | None,
    heads: dict[str, OfficialHead],
    text: str,
    spans: Sequence[_Span],
    *,
    bom: bool,
    bad: tuple[BadVideo, ...] = (),
) -> None:
    """Keep the ``heads`` of the split file ``identity`` names, its ``bad`` videos and where each
    entry is: product id -> (first byte, past the last byte), counted in the file's bytes (UTF-8,
    after a byte order mark ``bom``)."""
    if identity is None:
        return
    base = 3 if bom else 0
    places: dict[str, tuple[int, int]] = {}
    if text.isascii():
        places = {s.product_id: (base + s.start, base + s.end) for s in spans}
    else:  # characters to bytes, counted once along the file
        at, byte = 0, base
        for s in spans:
            start = byte + len(text[at : s.start].encode("utf-8", "surrogatepass"))
            end = start + len(text[s.start : s.end].encode("utf-8", "surrogatepass"))
            places[s.product_id] = (start, end)
            at, byte = s.end, end
    _keep_spans(identity, heads, places, bad)


def _keep_spans(
    identity: tuple[Any, ...],
    heads: dict[str, OfficialHead],
    places: dict[str, tuple[int, int]],
    bad: tuple[BadVideo, ...],
) -> None:
    with _listings_lock:
        _entry_spans[identity] = (heads, places, bad)
        while len(_entry_spans) > SPANS_KEPT:
            _entry_spans.popitem(last=False)


def _entry_place(
    p: Path, identity: tuple[Any, ...], product_id: str, video: str | None = None
) -> tuple[int, int] | None:
    """Where ``product_id``'s entry is in the split file version ``identity``: from the places
    :func:`read_official_heads` kept, the file scanned once when they are not kept yet. None
    when not known (a file the scan does not read, an id it does not list); the error of a
    product whose entry holds a bad box (:class:`BadVideo`) is raised, unless ``video`` is given
    and is not the bad one."""
    with _listings_lock:
        kept = _entry_spans.get(identity)
    if kept is None:
        read_official_heads_rows(p)  # raises for a file that does not read
        with _listings_lock:
            kept = _entry_spans.get(identity)
    if kept is None:
        return None
    for bad in kept[2]:  # its entry holds what the reader refuses: said as the heads' read says it
        if bad.product_id == product_id and (video is None or bad.video in (None, video)):
            raise bad.error
    return kept[1].get(product_id)


def split_identity(path: str | os.PathLike[str]) -> tuple[Any, ...] | None:
    """What tells this version of a split file apart from any other (real path, inode, size, times
    and a sample of its bytes); None when it cannot be read: give it to
    :func:`read_official_entry` to read one product of the file read whole before."""
    return _file_identity(Path(path))


#: bytes of a split file decoded first around one product's entry (:func:`read_official_entry`);
#: an entry of the real archive holds ~400 boxes, ~15 kB
_ENTRY_WINDOW = 1 << 16


def read_official_entry(
    path: str | os.PathLike[str],
    product_id: str,
    video: str,
    *,
    identity: tuple[Any, ...] | None = None,
    hold_out_bad: bool = False,
) -> OfficialEntry | None:
    """The entry of ``product_id`` in a split file (the one listing ``video``), None when the file
    lists no such entry. When the file is still the version ``identity`` names
    (:func:`split_identity`, taken before the file was read and validated whole), only that entry's
    bytes are read, decoded and validated: where each entry is was kept by
    :func:`read_official_heads` (the file scanned once if not), so reading every entry of a
    15K-product file this way reads it about once, not once per entry. Otherwise, or when the
    entry is not found that way, the file is read whole (:func:`read_official`, raising as it
    does). ``hold_out_bad``: an entry whose *other* video's tracklet holds a bad box
    (:class:`BadVideo`) is returned with that tracklet read as ``{}`` (to show ``video``'s boxes;
    never to write back) instead of raising."""
    p = Path(path)
    if identity is not None and _file_identity(p) == identity:
        place = _entry_place(p, identity, product_id, video if hold_out_bad else None)
        with contextlib.suppress(OSError, ValueError):
            entry = (
                _entry_at(p, place, product_id, lenient=hold_out_bad)
                if place is not None
                else _entry_alone(p, product_id, video)
            )
            if entry is not None and video in entry.video_paths:
                return entry
    entry = read_official(p).get(product_id)
    return entry if entry is not None and video in entry.video_paths else None


def _entry_at(
    p: Path, place: tuple[int, int], product_id: str, *, lenient: bool = False
) -> OfficialEntry | None:
    """The entry of ``product_id`` at bytes ``place`` of ``p`` (:func:`_entry_place`), decoded
    and validated (a bad box raises as :func:`read_official_heads` does; ``lenient``: its
    tracklet reads as ``{}``)."""
    start, end = place
    with p.open("rb") as f:
        f.seek(start)
        text = f.read(end - start).decode("utf-8")
    if lenient:
        return _parse({product_id: _lenient_fields(text, product_id, str(p))}, str(p), owned=True)[product_id]
    decoder = json.JSONDecoder(object_pairs_hook=_unique_keys)
    value, _ = decoder.raw_decode(text)
    if not isinstance(value, dict):
        return None
    return _parse({product_id: value}, str(p), owned=True)[product_id]


def _lenient_fields(
    text: str,
    product_id: str,
    where: str,
    problems: list[BadVideo] | None = None,
    start: int = 0,
    *,
    partial: bool = False,
) -> dict[str, Any]:
    """The fields of the entry object at ``text[start]``, each tracklet the reader refuses read as
    ``{}`` (:func:`_decoded_tracklets` with problems, added to ``problems`` when given);
    ValueError when it is no object. ``partial``: a field that does not decode ends the read,
    the fields before it returned."""
    decoder = json.JSONDecoder(object_pairs_hook=_unique_keys)
    fields: dict[str, Any] = {}
    i = _WS.match(text, start).end()
    if text[i] != "{":
        raise ValueError("not an object")
    i = _WS.match(text, i + 1).end()
    more = text[i] != "}"
    if partial:
        with contextlib.suppress(ValueError, IndexError, RecursionError):
            _lenient_fields_into(fields, text, i, more, product_id, where, problems, decoder)
        return fields
    _lenient_fields_into(fields, text, i, more, product_id, where, problems, decoder)
    return fields


def _lenient_fields_into(
    fields: dict[str, Any],
    text: str,
    i: int,
    more: bool,
    product_id: str,
    where: str,
    problems: list[BadVideo] | None,
    decoder: json.JSONDecoder,
) -> None:
    """:func:`_lenient_fields`' loop over the fields from ``text[i]``, each added to ``fields``
    as it decodes."""
    while more:
        key, i = _key_at(text, i)
        if key is None or key in fields:
            raise ValueError("not a plain entry")
        if key == "tracklets":
            videos = fields.get("video_paths")
            videos = videos if isinstance(videos, list) else ()
            found: list[BadVideo] = [] if problems is None else problems
            value, i = _decoded_tracklets(text, i, product_id, videos, where, problems=found)
        else:
            value, i = decoder.raw_decode(text, i)
        fields[key] = value
        more, i = _after_value(text, i)
        if more is None:
            raise ValueError("not a plain entry")


#: A product's entry of a split file that does not decode as JSON (a malformed number, a key
#: written twice inside it), in place of its value in :func:`split_entries_apart`: ``error``
#: names the file, the product and the field; ``text`` is the entry as the file holds it.
BrokenEntry = _Broken


def split_entries_apart(text: str, where: str) -> dict[str, Any] | None:
    """The split file ``text`` (named ``where``) that does not decode as a whole, read entry by
    entry as every reader of this module does: product id -> its decoded value, or a
    :class:`BrokenEntry` for the entry that does not decode. None when what is wrong is the file
    itself (not an object of entries, brackets that do not close, a product id twice) or when no
    entry is broken: the file is then refused whole."""
    return _entries_apart(text, where)


def broken_entry_fields(
    text: str, entry: BrokenEntry, product_id: str, where: str
) -> tuple[dict[str, Any] | None, list[BadVideo]]:
    """What a :class:`BrokenEntry` of ``product_id`` in the split file ``text`` (as given to
    :func:`split_entries_apart`) still says: its fields with each tracklet that does not decode
    read as ``{}`` (None when the break is outside the tracklets: the entry does not read at
    all), and each problem (:class:`BadVideo`: the video and frame key when known, else the
    whole entry's error), its line and column those of the file."""
    problems: list[BadVideo] = []
    try:
        fields: dict[str, Any] | None = _lenient_fields(text, product_id, where, problems, entry.start)
    except (ValueError, IndexError, RecursionError):
        fields, problems = None, []
    return fields, problems or [BadVideo(where, product_id, None, None, entry.error)]


def broken_entry_videos(text: str, entry: BrokenEntry, product_id: str, where: str) -> list[str]:
    """The videos a :class:`BrokenEntry` of ``product_id`` in the split file ``text`` lists, when
    its ``video_paths`` decodes as a list (the strings in it), even where another field does not
    (a malformed ``source``): the videos of a product held out, whose files stay; else none."""
    fields = _lenient_fields(text, product_id, where, [], entry.start, partial=True)
    listed = fields.get("video_paths")
    return [v for v in listed if isinstance(v, str)] if isinstance(listed, list) else []


def _entry_alone(p: Path, product_id: str, video: str) -> OfficialEntry | None:
    """The first object in ``p`` keyed ``product_id`` that validates as an entry listing
    ``video`` (the file was validated whole before: its top-level entry is the only such one but
    for an extra key built to look like it, which the video and shop paths then tell apart)."""
    import mmap

    decoder = json.JSONDecoder(object_pairs_hook=_unique_keys)  # a key twice: the whole read says so
    keys = {json.dumps(product_id).encode(), json.dumps(product_id, ensure_ascii=False).encode()}
    with p.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        for key in keys:
            at = mm.find(key)
            while at >= 0:
                value = _object_after(mm, at + len(key), decoder)
                if isinstance(value, dict) and video in (value.get("video_paths") or ()):
                    try:
                        return OfficialEntry.model_validate(value, context={_OWNED: True})
                    except ValidationError:
                        return None
                at = mm.find(key, at + 1)
    return None


def _object_after(mm: Any, at: int, decoder: json.JSONDecoder) -> Any:
    """The JSON object whose ``:`` and ``{`` follow byte ``at`` of ``mm`` (whitespace between),
    decoded; None when something else follows (the key was a value, a frame key of a box...)."""
    head = mm[at : at + 64].lstrip()
    if not head.startswith(b":") or not head[1:].lstrip().startswith(b"{"):
        return None
    start = at + (len(mm[at : at + 64]) - len(head))  # the colon
    size = _ENTRY_WINDOW
    while True:
        text = mm[start + 1 : start + 1 + size].decode("utf-8", "replace")
        try:
            return decoder.raw_decode(text.lstrip())[0]
        except json.JSONDecodeError:
            if start + 1 + size >= len(mm):
                return None
            size *= 4


def read_official_rows(
    path: str | os.PathLike[str], *, box_arrays: bool = False
) -> tuple[OfficialSplit, list[tuple[str, str]]]:
    """Read a split file product by product: (the valid products, ``(product id, error)`` of each
    invalid one: a missing or malformed field, a path leaving the dataset folder). ``box_arrays``
    as for :func:`read_official`.

    A file that is not a JSON object keyed by product id still raises :class:`DataFormatError`.
    """
    identity = _file_identity(Path(path))
    with gc_paused():
        p, data = _load(path)
        if not isinstance(data, dict):
            parse_official(data, where=str(p))  # raises, naming the file
        good: OfficialSplit = {}
        bad: list[tuple[str, str]] = []
        for pid, value in data.items():
            if isinstance(value, _Broken):  # no JSON a reader can take (a malformed number, a key twice)
                bad.append((pid, str(value.error)))
                continue
            try:
                good.update(_parse({pid: value}, str(p), owned=True, box_arrays=box_arrays))
            except DataFormatError as exc:
                bad.append((pid, str(exc)))
        _remember(identity, good, bad)
    return good, bad


#: What a reader of a split file does with a product whose entry it refuses (a bad box, a missing
#: or malformed field, a malformed number or a frame key twice in its tracklet): ``skip`` holds the
#: product out, names it and goes on with the others; ``raise`` refuses the file, naming it (the
#: :class:`~movingfashion.dataset.MovingFashionDataset` convention, ``on_bad``). The one home of
#: the policy: :func:`read_official_on_bad` applies it, :func:`warn_held_out` says what it held out.
OnBad = Literal["raise", "skip"]

#: what to do about a product held out (the warnings and the summaries say it)
HELD_OUT_HINT = (
    "fix the product's entry in the split file (mf verify names every break), then run the command again"
)


def check_on_bad(on_bad: str) -> None:
    """:class:`ConfigError` for an ``on_bad`` that is neither ``raise`` nor ``skip``."""
    if on_bad not in ("raise", "skip"):
        raise ConfigError(f"on_bad must be 'raise' or 'skip', got {on_bad!r}", where="on_bad")


def read_official_on_bad(
    path: str | os.PathLike[str], on_bad: OnBad = "skip", *, box_arrays: bool = False
) -> tuple[OfficialSplit, list[BadVideo]]:
    """A split file read under the ``on_bad`` policy (:data:`OnBad`): ``"skip"``, the valid
    products and each product held out (:class:`BadVideo`, one or more per product, naming the
    file, the product, the field and, when known, the video and frame key:
    :func:`read_official_rows`, named by :func:`read_official_heads_rows`' scan); ``"raise"``,
    :func:`read_official` (the first bad product refuses the file, named) and no held-out one.
    A file that does not read as a whole (not JSON, a product id twice) is refused either way."""
    check_on_bad(on_bad)
    if on_bad == "raise":
        return read_official(path, box_arrays=box_arrays), []
    p = Path(path)
    good, rows = read_official_rows(p, box_arrays=box_arrays)
    if not rows:
        return good, []
    # the scan names the video and frame key of a bad box; a row it does not name, as read
    _, scanned = read_official_heads_rows(p)
    held: list[BadVideo] = []
    for pid, problem in rows:
        held += [b for b in scanned if b.product_id == pid] or [
            BadVideo(str(p), pid, None, None, DataFormatError(problem))
        ]
    return good, held


def warn_held_out(held: Sequence[BadVideo], what: str, logger: logging.Logger | None = None) -> None:
    """One warning per product problem held out of ``what`` (``"the build"``, ``"the QA"``):
    the file, product, field (video, frame key) and :data:`HELD_OUT_HINT`."""
    for b in held:
        (logger or log).warning("held out of %s: %s (%s)", what, b.line(), HELD_OUT_HINT)


def _dump_entry(entry: OfficialEntry) -> dict[str, Any]:
    """One entry as plain JSON data: its keys in the order it was read with (an entry built in
    code: ``video_paths``, ``img_path``, ``source``, ``tracklets``, then its extra keys); keys it
    gained since it was read come last."""
    d: dict[str, Any] = {
        "video_paths": entry.video_paths,
        "img_path": entry.img_path,
        "source": entry.source,
    }
    if "tracklets" in entry.model_fields_set or entry.tracklets:
        d["tracklets"] = entry.tracklets
    d.update(entry.model_extra or {})
    order = [k for k in entry._key_order if k in d]
    known = set(order)
    return {k: d[k] for k in [*order, *(k for k in d if k not in known)]}


def dump_official(split: OfficialSplit) -> dict[str, Any]:
    """Plain JSON data of a split, extra keys, number types and key order preserved."""
    return {pid: _dump_entry(entry) for pid, entry in split.items()}


def write_official(path: str | os.PathLike[str], split: OfficialSplit, *, indent: int | None = None) -> None:
    """Write a split file atomically."""
    atomic_write_json(path, dump_official(split), indent=indent)


def write_official_keeping(path: str | os.PathLike[str], entries: Mapping[str, OfficialEntry]) -> None:
    """Put ``entries`` (product id -> its new entry) into the split file ``path`` atomically,
    keeping every other product as the file holds it, in its place: what a writer that went on
    past a row :func:`read_official_rows` refused (a bad box) writes, so the bad row stays in the
    file, untouched, for a person to fix. Only the new entries' bytes are rewritten
    (:func:`write_official_entries`) when the file's entries' places are known (:func:`read_official_heads`'
    scan reads it); else the file is rewritten from its JSON, every other entry as it decodes
    and an entry that does not decode (a key twice in it, a malformed number: held out by
    :func:`read_official_rows`) as the file holds it (raising as :func:`read_official_rows` does
    for a file that does not read as a whole)."""
    p = Path(path)
    got = _scanned_heads(p)  # where each entry is: kept, or one scan
    identity = _file_identity(p)
    with _listings_lock:
        kept = _entry_spans.get(identity) if identity is not None else None
    if got is not None and kept is not None and all(pid in kept[1] for pid in entries):
        write_official_entries(p, entries)
        return
    _write_whole_keeping(p, entries)


def _write_whole_keeping(p: Path, entries: Mapping[str, OfficialEntry]) -> None:
    """Rewrite the split file ``p`` whole with ``entries`` put in: every other entry as it
    decodes, one that does not decode (:class:`_Broken`: a malformed number, a key twice) as the
    file holds it, byte for byte (raising as :func:`read_official_rows` does for a file that does
    not read as a whole)."""
    _, data = _load(p)
    if not isinstance(data, dict):
        parse_official(data, where=str(p))  # raises, naming the file
    out = {pid: _dump_entry(entries[pid]) if pid in entries else value for pid, value in data.items()}
    out.update({pid: _dump_entry(e) for pid, e in entries.items() if pid not in data})
    # an entry that does not decode (:class:`_Broken`) is written back as the file holds it
    kept: dict[bytes, bytes] = {}
    token = secrets.token_hex(16)
    for pid, value in out.items():
        if isinstance(value, _Broken):
            out[pid] = mark = f"mf-kept-entry-{token}-{len(kept)}"
            kept[json.dumps(mark).encode()] = value.text.encode("utf-8")
    raw = json_bytes(p, out, indent=None)
    for mark_bytes, text in kept.items():
        raw = raw.replace(mark_bytes, text, 1)
    atomic_write_bytes(p, raw)


def write_official_entries(path: str | os.PathLike[str], entries: Mapping[str, OfficialEntry]) -> None:
    """Put ``entries`` (product id -> its new entry, each one the file lists) into the split file
    ``path`` atomically, rewriting only their bytes: every other entry keeps its bytes, and where
    each entry now is, with the file's heads, is kept for the new version of the file, so the
    next :func:`read_official_heads` (the review queue refreshed after a pick) checks no box
    again instead of scanning the whole file. Only the new entries are checked (decoded and
    validated from the bytes written). A file whose entries' places are not known (one the scan
    cannot read: a malformed number in another product's field, say) is written whole, every
    other entry kept as the file holds it (:func:`_write_whole_keeping`: an entry the readers hold
    out stays, byte for byte, for a person to fix)."""

    p = Path(path)
    got = _scanned_heads(p)  # where each entry is: kept, or one scan
    identity = _file_identity(p)
    with _listings_lock:
        kept = _entry_spans.get(identity) if identity is not None else None
    raw = p.read_bytes() if kept is not None else b""
    if got is None or kept is None or len(raw) != identity[3] or any(pid not in kept[1] for pid in entries):
        _write_whole_keeping(p, entries)
        return
    heads, places, bad = dict(kept[0]), kept[1], kept[2]
    new: dict[str, bytes] = {}
    for pid, entry in entries.items():
        data = json_bytes(p, _dump_entry(entry), indent=None).rstrip(b"\n")
        checked = _parse({pid: json.loads(data, object_pairs_hook=_unique_keys)}, str(p), owned=True)[pid]
        new[pid], heads[pid] = data, _head_of(checked)
    parts: list[bytes] = []
    at = shift = 0
    moved: dict[str, tuple[int, int]] = {}
    for pid in sorted(places, key=lambda k: places[k][0]):  # the file's order
        start, end = places[pid]
        if pid in new:
            parts += [raw[at:start], new[pid]]
            at = end
            moved[pid] = (start + shift, start + shift + len(new[pid]))
            shift += len(new[pid]) - (end - start)
        else:
            moved[pid] = (start + shift, end + shift)
    parts.append(raw[at:])
    atomic_write_bytes(p, b"".join(parts))
    after = _file_identity(p)
    if after is not None:
        _keep_spans(after, heads, moved, tuple(b for b in bad if b.product_id not in new))
