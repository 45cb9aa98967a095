"""CVAT for video 1.1 XML: write one file per video (one task each), read corrected tracks back.

Written per video (``OUT/<video stem>.xml``)::

    <annotations>
      <version>1.1</version>
      <meta><task> id, name (the video stem), size (frames), mode=interpolation, overlap,
        start_frame, stop_frame, labels (13 DeepFashion2 classes + "item", each with the
        checkbox attribute ground_truth and the text attributes tracklet, revision,
        detector_class and product_class, all immutable),
        original_size (width, height), source (file name)
      </task></meta>
      <track id="I" label="CLASS" source="auto|manual">   one per tracklet, I = its index;
        CLASS: the product's class (df2_class of entries.jsonl) for the ground-truth track when
        the dataset records one, else the tracklet's own class
        <box frame="F" keyframe="1" outside="0" occluded="0" xtl ytl xbr ybr z_order="0">
          <attribute name="ground_truth">true|false</attribute>
          <attribute name="tracklet">I</attribute>
          <attribute name="revision">rR</attribute>   R: the tracklet's revision
          <attribute name="detector_class">OWN</attribute>   the tracklet's own class
          <attribute name="product_class">CLASS|</attribute></box>   the label, when it is the product's
        ... and after every run of consecutive frames, an outside="1" keyframe box on the
        next frame, so CVAT neither extends a track past its end nor interpolates across a gap
        (a run ending on the video's last frame needs none: no frame follows it).
      </track>

CVAT renumbers the tracks 0..n-1 when it exports (a deleted track shifts the ids of those after
it), but keeps the attributes of each track's boxes: the ``tracklet`` attribute is the key the
import matches a track on (empty: a track drawn in CVAT, a new tracklet). A CVAT task keeps the
attributes when its labels declare them as ``<meta>`` does (each label: a checkbox
``ground_truth``, default false, and texts ``tracklet`` and ``revision``, default empty). The
``revision`` (:func:`tracklet_revision`, a digest of the tracklet's class and boxes as exported)
lets an import tell a file made before another import changed that tracklet. It is written
after an ``r`` (:func:`revision_text`), so FiftyOne, which reads a value that parses as a number
as one, never reads an all-digit digest as an int; the import takes it with or without the ``r``.

A reviewer sees the truth as the label and the detector's class beside it. An import takes a
track's class from ``detector_class`` while its label is still the ``product_class`` it was
exported with (so an unchanged file changes no class), and from the label once it was changed
in CVAT (a relabel sets the tracklet's class, as before); a file without the attributes (an
older export) takes the label.

The boxes written are those :func:`annotations.exchange.common.export_videos` kept: on a frame
of the video (``0 <= F < size``) and inside the frame (clipped to it).

Coordinates are written so they read back exactly: ints as ints, floats in Python's shortest
round-trip form, so export -> import gives identical boxes (and types). CVAT itself writes
two decimals when it exports, so a box that went through CVAT comes back rounded to 0.01 px.
Reading keeps every box with outside="0" (keyframes and the boxes CVAT interpolated), and refuses
two tracks with one id or one ``tracklet`` key, and a frame given twice in one track.

A file covers the frames ``start_frame .. stop_frame`` of its ``<meta><task>`` or, for a CVAT
job export (CVAT splits a long task into jobs), of its ``<meta><job>`` (video frame numbers, as
the box frames are; ``frame_filter`` ``step=N``: every Nth of them): :attr:`CvatVideo.frame_range`.
The import replaces a tracklet's boxes on those frames only.
"""

from __future__ import annotations

import codecs
import json
import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

from annotations.exchange.common import (
    LABELS,
    ExportVideo,
    export_label,
    label_of,
    number_text,
    number_value,
    refuse_unwritable_name,
    runs,
    sort_written,
    tracklet_revision,
)
from schemas.atomic import write_if_changed
from schemas.dataset import VideoTracklets
from schemas.errors import DataFormatError
from schemas.official import frame_count_problem
from schemas.taxonomy import DF2_CLASSES
from schemas.text_input import decode_utf8

GT_ATTRIBUTE = "ground_truth"
#: the box attribute that carries the index of the tracklet a track was exported from
KEY_ATTRIBUTE = "tracklet"
#: the box attribute that carries the exported tracklet's revision (:func:`tracklet_revision`):
#: an import tells a file made before another import changed the tracklet
REV_ATTRIBUTE = "revision"
#: what the written revision starts with: FiftyOne reads an attribute value that parses as a
#: number as one (a digest of digits, or digits and one ``e``: ``1234e567...`` is a float), so
#: a bare digest could come back as another value; ``r`` + digest always reads back as itself
REV_PREFIX = "r"
_REVISION = re.compile(r"r?([0-9a-f]{16})")
#: the box attribute that carries the tracklet's own class (the detector's, or an import's): the
#: track's label is the product's class when the dataset records one (:func:`export_label`)
DETECTOR_ATTRIBUTE = "detector_class"
#: the box attribute that carries the product's class the label was written as (empty: the
#: label is the tracklet's own class): a track whose label still equals it was not relabelled,
#: and an import takes its class from ``detector_class``; another label is a relabel
PRODUCT_ATTRIBUTE = "product_class"


def revision_text(rev: str) -> str:
    """The ``revision`` attribute's text for the digest ``rev`` (:data:`REV_PREFIX` + ``rev``)."""
    return REV_PREFIX + rev


def revision_of(text: str) -> str:
    """The digest an exported ``revision`` attribute carries: written as ``r`` + digest, or bare
    (files exported before the prefix); another text is returned as it is (it then matches no
    tracklet's revision)."""
    m = _REVISION.fullmatch(text)
    return m.group(1) if m else text


MANUAL_MODES = ("ground-truth", "manual")


#: every label's attributes: (name, CVAT input type, default, values); immutable in CVAT. A text
#: attribute's values are its default, as CVAT stores one: CVAT's label editor refuses an
#: attribute whose values are empty ("attribute values must be a non-empty array")
LABEL_ATTRIBUTES: tuple[tuple[str, str, str, list[str]], ...] = (
    (GT_ATTRIBUTE, "checkbox", "false", ["false", "true"]),
    (KEY_ATTRIBUTE, "text", "", [""]),
    (REV_ATTRIBUTE, "text", "", [""]),
    (DETECTOR_ATTRIBUTE, "text", "", [""]),
    (PRODUCT_ATTRIBUTE, "text", "", [""]),
)
#: the label spec written beside the XML files, to paste into a CVAT task's label editor ("Raw")
LABEL_SPEC_FILE = "cvat-labels.json"


def label_spec() -> list[dict[str, object]]:
    """The task's labels as CVAT's label editor ("Raw") and its API take them: every export label
    as a rectangle with the three attributes. CVAT does not create labels from uploaded annotations,
    and a label or attribute the task lacks fails the upload or is dropped from it."""
    return [
        {
            "name": name,
            "type": "rectangle",
            "attributes": [
                {"name": a, "mutable": False, "input_type": kind, "default_value": default, "values": values}
                for a, kind, default, values in LABEL_ATTRIBUTES
            ],
        }
        for name in LABELS
    ]


def _sub(parent: ET.Element, tag: str, text: str | int | None = None, **attrib: str) -> ET.Element:
    e = ET.SubElement(parent, tag, attrib)
    if text is not None:
        e.text = str(text)
    return e


def video_xml(
    vt: VideoTracklets, tracks: list[int], name: str | None = None, product_class: int | None = None
) -> bytes:
    """The CVAT for video 1.1 document of one video with the tracklets ``tracks`` (``name``: the
    task's name, default the video's stem; ``<video stem>@<product>`` for one product's tracklets
    of a video several products list). The ground-truth track is labelled ``product_class`` (the
    product's class; None: the tracklet's own), every track carries its tracklet's own class in
    ``detector_class`` (:func:`~annotations.exchange.common.export_label`). A name XML cannot hold, or would read back as another (a
    CR comes back as LF), is a :class:`DataFormatError` naming the field
    (:func:`~annotations.exchange.common.refuse_unwritable_name`)."""
    stem = name or Path(vt.video).stem
    refuse_unwritable_name(stem, vt.video, "meta/task/name", "CVAT XML")
    refuse_unwritable_name(vt.video, vt.video, "meta/task/source", "CVAT XML")
    root = ET.Element("annotations")
    _sub(root, "version", "1.1")
    task = _sub(_sub(root, "meta"), "task")
    for tag, value in (
        ("id", 0),
        ("name", stem),
        ("size", vt.frames),
        ("mode", "interpolation"),
        ("overlap", 0),
        ("bugtracker", ""),
        ("flipped", "False"),
        ("start_frame", 0),
        ("stop_frame", max(0, vt.frames - 1)),
        ("frame_filter", ""),
    ):
        _sub(task, tag, value)
    labels = _sub(task, "labels")
    for name in LABELS:
        lab = _sub(labels, "label")
        _sub(lab, "name", name)
        _sub(lab, "type", "rectangle")
        attrs = _sub(lab, "attributes")
        for attr_name, kind, default, values in LABEL_ATTRIBUTES:
            attr = _sub(attrs, "attribute")
            for tag, value in (
                ("name", attr_name),
                ("mutable", "False"),
                ("input_type", kind),
                ("default_value", default),
                ("values", "\n".join(values)),
            ):
                _sub(attr, tag, value)
    size = _sub(task, "original_size")
    _sub(size, "width", vt.width)
    _sub(size, "height", vt.height)
    _sub(task, "source", Path(vt.video).name)
    last = vt.frames - 1
    ev = ExportVideo(vt, tracks, product_class=product_class)
    for i in tracks:
        t = vt.tracklets[i]
        label, own = export_label(ev, i), label_of(t)
        from_product = i == vt.ground_truth and product_class in DF2_CLASSES
        track = _sub(
            root,
            "track",
            id=str(i),
            label=label,
            source="manual" if t.mode in MANUAL_MODES else "auto",
        )
        gt = "true" if i == vt.ground_truth else "false"
        rev = tracklet_revision(t, vt)
        closing = {b + 1 for _, b in runs(t.boxes) if b < last}
        for f in sorted(set(t.boxes) | closing):
            outside = f not in t.boxes
            x1, y1, x2, y2 = t.boxes[f - 1] if outside else t.boxes[f]
            box = _sub(
                track,
                "box",
                frame=str(f),
                keyframe="1",
                outside="1" if outside else "0",
                occluded="0",
                xtl=number_text(x1),
                ytl=number_text(y1),
                xbr=number_text(x2),
                ybr=number_text(y2),
                z_order="0",
            )
            _sub(box, "attribute", gt, name=GT_ATTRIBUTE)
            _sub(box, "attribute", str(i), name=KEY_ATTRIBUTE)
            _sub(box, "attribute", revision_text(rev), name=REV_ATTRIBUTE)
            _sub(box, "attribute", own, name=DETECTOR_ATTRIBUTE)
            _sub(box, "attribute", label if from_product else "", name=PRODUCT_ATTRIBUTE)
    ET.indent(root, space="  ")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def write_cvat(
    videos: Iterable[ExportVideo], out: str | os.PathLike[str], unchanged: list[Path] | None = None
) -> list[Path]:
    """``OUT/<stem>.xml`` per video and the label spec ``OUT/cvat-labels.json`` (for the task's
    labels), each written only when its bytes change (a rerun with nothing changed touches
    nothing); returns the files written. A file that already held its bytes is appended to
    ``unchanged`` when given."""
    paths: list[Path] = []
    for v in videos:
        p = Path(out) / f"{v.stem}.xml"
        sort_written(
            p, write_if_changed(p, video_xml(v.vt, v.tracks, v.stem, v.product_class)), paths, unchanged
        )
    spec = Path(out) / LABEL_SPEC_FILE
    changed = write_if_changed(spec, (json.dumps(label_spec(), indent=1) + "\n").encode())
    sort_written(spec, changed, paths, unchanged)
    return paths


@dataclass
class CvatTrack:
    id: str
    label: str
    boxes: dict[int, list[int | float]] = field(default_factory=dict)
    ground_truth: bool = False
    closed: bool = False  #: an outside="1" box follows its last visible box
    key: int | None = None  #: the tracklet it was exported from (its ``tracklet`` attribute)
    outside: set[int] = field(default_factory=set)  #: frames of its outside="1" boxes
    #: the revision of the tracklet it was exported from (None: not written, or boxes disagree)
    revision: str | None = None
    #: what its boxes carry that a tracklet does not store (``occluded``, other attributes)
    ignored: set[str] = field(default_factory=set)
    #: its ``detector_class`` and ``product_class`` attributes (None: not in the file)
    detector_label: str | None = None
    product_label: str | None = None

    @property
    def class_label(self) -> str:
        """The label that gives the tracklet's class: ``detector_class`` when the track's label is
        still the product's class it was exported with (not relabelled), else the label."""
        if self.detector_label and self.product_label and self.label == self.product_label:
            return self.detector_label
        return self.label


@dataclass(frozen=True)
class FrameRange:
    """The video frames a CVAT task or job covers: ``start .. stop`` (None: to the video's end),
    every ``step``-th."""

    start: int = 0
    stop: int | None = None
    step: int = 1

    def covers(self, frame: int, frames: int) -> bool:
        """Whether ``frame`` is one of the range's frames in a video of ``frames`` frames; a range
        reaching the video's last frame covers the frames past it too (no tool shows them)."""
        last = frames - 1 if self.stop is None else self.stop
        if frame < self.start or (last < frames - 1 and frame > last):
            return False
        return (frame - self.start) % self.step == 0 or frame >= frames

    def whole(self, frames: int) -> bool:
        """Whether the range is every frame of a video of ``frames`` frames."""
        return self.start == 0 and self.step == 1 and (self.stop is None or self.stop >= frames - 1)

    def text(self) -> str:
        stop = "" if self.stop is None else str(self.stop)
        return f"{self.start}..{stop}" + (f" step {self.step}" if self.step > 1 else "")


@dataclass
class CvatVideo:
    """What a CVAT for video XML file holds for one video."""

    path: Path
    names: list[str]  #: candidate video stems: <source>, <name>, the file's stem
    frames: int | None
    width: int | None
    height: int | None
    tracks: list[CvatTrack]
    keyed: bool = False  #: the file has the ``tracklet`` attribute (declared or on a box)
    #: the frames the file covers (its task's or job's start_frame..stop_frame); None: all
    frame_range: FrameRange | None = None


def _int(text: str | None, where: str) -> int | None:
    if text is None or not text.strip():
        return None
    try:
        return int(text.strip())
    except ValueError:  # not digits, or more than Python converts (4300)
        raise DataFormatError(
            f"{_shown(text)} is not an integer",
            where=where,
            hint="write a whole number there (as CVAT writes it), or export the file from CVAT again",
        ) from None


def _shown(text: str, limit: int = 60) -> str:
    """``repr(text)``, cut to ``limit`` characters (a 5000-digit value stays readable)."""
    r = repr(text)
    return r if len(r) <= limit else r[: limit - 4] + "...'"


def _digits(text: str) -> int | None:
    """The integer ``text`` writes in decimal digits (a sign allowed); None for anything else,
    and for more digits than Python converts (over 4300: no frame or index has them)."""
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        return None
    try:
        return int(text)
    except ValueError:
        return None


class _DtdFound(Exception):
    pass


#: the encoding an XML declaration names (``<?xml version="1.0" encoding="..."?>``)
_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def _refuse_not_utf8(data: bytes, where: str) -> None:
    """For XML that did not parse: when it is to be read as UTF-8 (no byte order mark of UTF-16
    or UTF-32, no declaration naming another encoding) and is not, say so, with the byte and
    what to do (a Latin-1 export), rather than expat's "not well-formed (invalid token)"."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # UTF-32's start with these too
        return
    m = _DECLARED_ENCODING.match(data)
    if m and m.group(1).decode("ascii").lower().replace("_", "-") not in ("utf-8", "utf8"):
        return
    decode_utf8(data, where, "CVAT XML")  # raises, naming the first byte that is not UTF-8


def _refuse_dtd(data: bytes, where: str) -> None:
    """Refuse any DOCTYPE (and so any ENTITY) declaration, whatever the document's encoding.

    Expat itself decodes the bytes and reports the declaration, so UTF-16 or any other
    encoding cannot hide one from the check.
    """

    def found(*_: object) -> None:
        raise _DtdFound

    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = found
    parser.EntityDeclHandler = found
    try:
        parser.Parse(data, True)
    except _DtdFound:
        raise DataFormatError(
            "DOCTYPE/ENTITY declarations are not accepted",
            where=where,
            hint="remove the DOCTYPE, or export the file from CVAT again",
        ) from None
    except expat.ExpatError as exc:
        _refuse_not_utf8(data, where)
        raise DataFormatError(f"not well-formed XML: {exc}", where=where, hint=_XML_HINT) from None
    except ValueError as exc:  # an encoding expat cannot read ("multi-byte encodings are not supported")
        raise DataFormatError(
            f"unreadable XML encoding: {exc}", where=where, hint="save it as UTF-8"
        ) from None


#: what to do about a file that is not well-formed XML
_XML_HINT = "fix the XML at that line, or export the task from CVAT again (CVAT for video 1.1)"
#: what to do about XML that is not a CVAT for video 1.1 export
_EXPORT_HINT = "export the task from CVAT as CVAT for video 1.1 and import its annotations.xml"


#: largest XML file :func:`read_cvat` reads (bytes): parsing holds about 9 times the file in
#: memory, so a wrong multi-GB file would exhaust it (an export writes about 350 bytes a box:
#: the limit is some 1.5 million boxes)
MAX_XML_BYTES = 512 * 2**20


def read_cvat(path: str | os.PathLike[str]) -> CvatVideo:
    """Parse a CVAT for video 1.1 file (clear errors naming the file, track and frame)."""
    p = Path(path)
    size = p.stat().st_size if p.is_file() else 0
    if size > MAX_XML_BYTES:  # ElementTree holds about 9x the file in memory
        raise DataFormatError(
            f"{size / 2**20:.0f} MiB, over the import's limit of {MAX_XML_BYTES // 2**20} MiB",
            where=str(p),
            hint="export the task in parts (CVAT's jobs) and import each",
        )
    data = p.read_bytes()
    if data[:4] == b"PK\x03\x04":
        raise DataFormatError(
            "this is a ZIP archive (CVAT's download), not its XML",
            where=str(p),
            hint="unzip it and import the annotations.xml inside",
        )
    _refuse_dtd(data, str(p))
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        _refuse_not_utf8(data, str(p))
        raise DataFormatError(f"not well-formed XML: {exc}", where=str(p), hint=_XML_HINT) from None
    if root.tag != "annotations":
        raise DataFormatError(
            f"root element is <{root.tag}>, not <annotations>: not a CVAT annotations file",
            where=str(p),
            hint=_EXPORT_HINT,
        )
    version = (root.findtext("version") or "").strip()
    if version and version != "1.1":
        raise DataFormatError(f"CVAT XML version {version}, expected 1.1", where=str(p), hint=_EXPORT_HINT)
    if root.find("image") is not None:
        raise DataFormatError(
            "this is CVAT for images (<image> elements)", where=str(p), hint="export as CVAT for video 1.1"
        )
    task = root.find("meta/task")
    if task is None:
        task = root.find("meta/job")
    names = []
    frames = width = height = None
    keyed = False
    frame_range = None
    if task is not None:
        frame_range = _frame_range(task, f"{p}: meta/{task.tag}")
        for tag in ("source", "name"):
            text = (task.findtext(tag) or "").strip()
            if text:
                names.append(Path(text).stem)
        frames = _int(task.findtext("size"), f"{p}: meta/task/size")
        problem = None if frames is None else frame_count_problem(frames)
        if problem is not None:
            raise DataFormatError(
                problem, where=f"{p}: meta/task/size", hint="export the file from CVAT again"
            )
        width = _int(task.findtext("original_size/width"), f"{p}: original_size/width")
        height = _int(task.findtext("original_size/height"), f"{p}: original_size/height")
        keyed = any(
            (a.findtext("name") or "").strip() == KEY_ATTRIBUTE
            for a in task.iterfind("labels/label/attributes/attribute")
        )
    src = (root.findtext("meta/source") or "").strip()
    if src:
        names.insert(0, Path(src).stem)
    names.append(p.stem)
    tracks = [_read_track(te, str(p)) for te in root.findall("track")]
    _refuse_duplicates(tracks, str(p))
    keyed = keyed or any(
        ae.get("name") == KEY_ATTRIBUTE
        for te in root.iterfind("track")
        for ae in te.iterfind("box/attribute")
    )
    return CvatVideo(p, names, frames, width, height, tracks, keyed, frame_range)


def _frame_range(task: ET.Element, where: str) -> FrameRange | None:
    """``start_frame .. stop_frame`` and ``frame_filter`` (``step=N``) of a task or job (None:
    neither frame given)."""
    start = _int(task.findtext("start_frame"), f"{where}/start_frame")
    stop = _int(task.findtext("stop_frame"), f"{where}/stop_frame")
    if start is None and stop is None:
        return None
    if (start or 0) < 0 or (stop is not None and stop < (start or 0)):
        raise DataFormatError(
            f"frame range {start}..{stop} is not frames counted from 0, start <= stop",
            where=where,
            hint="export the file from CVAT again",
        )
    flt = (task.findtext("frame_filter") or "").strip()
    m = re.fullmatch(r"step\s*=\s*([0-9]+)", flt)
    if flt and (m is None or int(m.group(1)) < 1):
        raise DataFormatError(
            f"frame_filter {flt!r} is not step=N",
            where=f"{where}/frame_filter",
            hint="create the task with step=N",
        )
    return FrameRange(start or 0, stop, int(m.group(1)) if m else 1)


def _frame(be: ET.Element, where: str) -> int:
    """The frame of a ``<box>``: an integer >= 0 (an error names the track and the value)."""
    raw = be.get("frame")
    f = None if raw is None else _digits(raw.strip())
    if f is None or f < 0:
        got = "no frame attribute" if raw is None else f"frame={_shown(raw)}"
        raise DataFormatError(
            f"a box without a valid frame ({got}; a frame is an integer >= 0)",
            where=where if raw is None else f"{where} frame {_shown(raw)[1:-1]}",
            hint="give every <box> of the track the frame it is on, counted from 0",
        )
    return f


def _read_track(te: ET.Element, file: str) -> CvatTrack:
    """One ``<track>``: its visible boxes by frame, its ground-truth mark and its key."""
    tid = te.get("id", "")
    where = f"{file}: track {tid}"
    track = CvatTrack(id=tid, label=te.get("label", ""))
    shape = next((s for s in ("polygon", "points", "polyline") if te.find(s) is not None), None)
    if shape is not None:
        raise DataFormatError(
            f"the track holds <{shape}> shapes: only box tracks can be imported",
            where=where,
            hint="delete that track in CVAT (or draw it again with rectangles) and export again",
        )
    seen: set[int] = set()
    keys: set[str] = set()
    revs: set[str] = set()
    last_visible = last_outside = -1
    for be in te.findall("box"):
        f = _frame(be, where)
        at = f"{where} frame {f}"
        if f in seen:
            raise DataFormatError(
                f"frame {f} is given twice in the track",
                where=at,
                hint="keep one box per frame in each track: delete the other, or split the track",
            )
        seen.add(f)
        keys |= {(ae.text or "").strip() for ae in be.findall("attribute") if ae.get("name") == KEY_ATTRIBUTE}
        revs |= {
            revision_of((ae.text or "").strip())
            for ae in be.findall("attribute")
            if ae.get("name") == REV_ATTRIBUTE
        }
        if be.get("outside", "0") == "1":
            last_outside = max(last_outside, f)
            track.outside.add(f)
            continue
        try:
            box = [number_value(be.attrib[k], at) for k in ("xtl", "ytl", "xbr", "ybr")]
        except KeyError as exc:
            raise DataFormatError(
                f"box attribute {exc.args[0]} missing",
                where=at,
                hint="give the <box> its xtl, ytl, xbr and ybr, or export the file from CVAT again",
            ) from None
        if not all(math.isfinite(v) for v in box):  # inf: before the order check, which it passes or fails
            raise DataFormatError(
                f"box {box} has a coordinate that is not a finite number",
                where=at,
                hint="set xtl, ytl, xbr and ybr to pixel positions inside the frame",
            )
        if box[2] < box[0] or box[3] < box[1]:
            raise DataFormatError(
                f"box {box} has xbr < xtl or ybr < ytl",
                where=at,
                hint="swap the corners so that xtl <= xbr and ytl <= ybr, or draw the box again in CVAT",
            )
        rotation = number_value(be.get("rotation") or "0", at)
        if rotation % 360:
            raise DataFormatError(
                f"box rotated {rotation:g} degrees: tracklet boxes are upright rectangles",
                where=at,
                hint="set the box's rotation back to 0 in CVAT (or draw it again upright) and export again",
            )
        track.boxes[f] = box
        last_visible = max(last_visible, f)
        if be.get("occluded", "0") == "1":
            track.ignored.add("occluded marks")
        for ae in be.findall("attribute"):
            name = ae.get("name")
            if name == GT_ATTRIBUTE and (ae.text or "").strip().lower() == "true":
                track.ground_truth = True
            elif name == DETECTOR_ATTRIBUTE:
                track.detector_label = (ae.text or "").strip() or track.detector_label
            elif name == PRODUCT_ATTRIBUTE:
                track.product_label = (ae.text or "").strip() or track.product_label
            elif name not in (GT_ATTRIBUTE, KEY_ATTRIBUTE, REV_ATTRIBUTE):
                track.ignored.add(f"attribute {name!r}")
    track.closed = last_outside > last_visible
    track.key = _key(keys - {""}, where)
    revs.discard("")
    track.revision = revs.pop() if len(revs) == 1 else None
    return track


def _key(values: set[str], where: str) -> int | None:
    """The tracklet index a track's ``tracklet`` attribute names (None: empty, a new track)."""
    if not values:
        return None
    if len(values) > 1:
        raise DataFormatError(
            f"the boxes of the track name different tracklets ({', '.join(map(_shown, sorted(values)))})",
            where=where,
            hint=f"give every box of the track one {KEY_ATTRIBUTE} value, or empty it for a new tracklet",
        )
    (value,) = values
    index = _digits(value) if re.fullmatch(r"[0-9]+", value) else None
    if index is None:
        raise DataFormatError(
            f"{KEY_ATTRIBUTE} attribute {_shown(value)} is not a tracklet index",
            where=where,
            hint="keep the value the export wrote, or empty it for a new tracklet",
        )
    return index


def _refuse_duplicates(tracks: list[CvatTrack], where: str) -> None:
    """Two tracks with one id, or exported from one tracklet (a track copied or split in CVAT)."""
    by_id: dict[str, CvatTrack] = {}
    by_key: dict[int, CvatTrack] = {}
    for t in tracks:
        if t.id in by_id:
            raise DataFormatError(
                f"two tracks have id {t.id!r}", where=where, hint="export the file from CVAT again"
            )
        by_id[t.id] = t
        if t.key is None:
            continue
        if t.key in by_key:
            raise DataFormatError(
                f"tracks {by_key[t.key].id} and {t.id} both have {KEY_ATTRIBUTE}={t.key}",
                where=where,
                hint=f"keep one track per tracklet: merge them, or empty the {KEY_ATTRIBUTE} "
                "attribute of the copy (it then becomes a new tracklet)",
            )
        by_key[t.key] = t
