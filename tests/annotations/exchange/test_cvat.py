"""Reading CVAT XML: any DTD is refused, whatever the document's encoding."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from annotations.exchange import export_dataset
from annotations.exchange.cvat import read_cvat
from annotations.exchange.importer import import_cvat
from schemas.errors import DataFormatError
from tests.annotations.review.review_dataset import make_review_dataset
from tests.damage import assert_same_tree

DTD = '<!DOCTYPE annotations [<!ENTITY cls "trousers">]>\n'


@pytest.fixture
def export(gt_dataset, tmp_path) -> tuple[Path, Path]:
    """A dataset and the CVAT export (UTF-8) of its first video."""
    ds = tmp_path / "dataset"
    facts = make_review_dataset(gt_dataset, ds, tmp_path / "catalog.sqlite")
    export_dataset(ds, "cvat", tmp_path / "x", videos=[facts["videos"][0]])
    return ds, tmp_path / "x" / f"{facts['videos'][0]}.xml"


#: (Python codec, the name the XML declaration gives): encodings expat reads itself
ENCODINGS = [("utf-8", "utf-8"), ("utf-16", "UTF-16"), ("utf-16-be", "UTF-16BE"), ("utf-16-le", "UTF-16LE")]


def reencoded(xml: Path, codec: str, declared: str, dtd: str = "") -> Path:
    """``xml`` with ``dtd`` after its declaration, written with ``codec`` (declared ``declared``)."""
    text = xml.read_text(encoding="utf-8")
    head, body = text.split("\n", 1)
    assert head.startswith("<?xml")
    out = xml.with_name(f"{xml.stem}.{codec}.xml")
    out.write_bytes(f'<?xml version="1.0" encoding="{declared}"?>\n{dtd}{body}'.encode(codec))
    return out


@pytest.mark.parametrize(("codec", "declared"), ENCODINGS)
def test_other_encodings_read_like_utf8(export, codec, declared):
    _, xml = export
    want = read_cvat(xml)
    got = read_cvat(reencoded(xml, codec, declared))
    assert (got.tracks, got.frames, got.width, got.height) == (
        want.tracks,
        want.frames,
        want.width,
        want.height,
    )


@pytest.mark.parametrize(("codec", "declared"), ENCODINGS)
def test_a_dtd_is_refused_in_any_encoding(export, codec, declared):
    ds, xml = export
    evil = reencoded(xml, codec, declared, DTD)
    text = re.sub('label="[^"]*"', 'label="&cls;"', evil.read_bytes().decode(codec), count=1)  # in use
    evil.write_bytes(text.encode(codec))
    assert (b"<!DOCTYPE" in evil.read_bytes()) == (codec == "utf-8")  # a byte search misses the others
    before = {p.name: p.read_bytes() for p in (ds / "tracklets").glob("*.json")}
    with pytest.raises(DataFormatError, match="DOCTYPE/ENTITY declarations are not accepted") as exc:
        read_cvat(evil)
    assert exc.value.where == str(evil)
    with pytest.raises(DataFormatError, match="DOCTYPE"):
        import_cvat(ds, evil)
    assert_same_tree({p.name: p.read_bytes() for p in (ds / "tracklets").glob("*.json")}, before)


def test_a_doctype_without_entities_is_refused_too(tmp_path):
    p = tmp_path / "a.xml"
    p.write_bytes(b'<?xml version="1.0"?>\n<!DOCTYPE annotations SYSTEM "x.dtd">\n<annotations/>')
    with pytest.raises(DataFormatError, match="DOCTYPE") as exc:
        read_cvat(p)
    assert exc.value.where == str(p)


def test_an_encoding_expat_cannot_read_is_a_clear_error(tmp_path):
    p = tmp_path / "c.xml"
    p.write_bytes('<?xml version="1.0" encoding="utf-16-be"?><annotations/>'.encode("utf-16-be"))
    with pytest.raises(DataFormatError, match="encoding") as exc:
        read_cvat(p)
    assert exc.value.where == str(p) and exc.value.hint


def test_not_well_formed_xml_names_the_file(tmp_path):
    p = tmp_path / "b.xml"
    p.write_bytes(b"<annotations><track></annotations>")
    with pytest.raises(DataFormatError, match="not well-formed XML") as exc:
        read_cvat(p)
    assert exc.value.where == str(p)


def test_a_cvat_zip_download_is_named_as_one(tmp_path):
    """CVAT's "export annotations" downloads a ZIP holding annotations.xml; it was reported as
    XML that is not well-formed (audit_exchange D10)."""
    import zipfile

    from annotations.exchange.cvat import read_cvat
    from schemas.errors import DataFormatError

    z = tmp_path / "task_7.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("annotations.xml", "<annotations><version>1.1</version></annotations>")
    with pytest.raises(DataFormatError, match="ZIP archive") as exc:
        read_cvat(z)
    assert exc.value.where == str(z) and "annotations.xml" in exc.value.hint


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    """Parsing holds about 9x the file in memory: a wrong multi-GB file ran out of memory
    instead of giving one line (audit_exchange D9)."""
    from annotations.exchange import cvat
    from schemas.errors import DataFormatError

    big = tmp_path / "big.xml"
    big.write_text("<annotations>" + " " * 5000 + "</annotations>")
    monkeypatch.setattr(cvat, "MAX_XML_BYTES", 4096)
    monkeypatch.setattr(cvat.Path, "read_bytes", lambda self: pytest.fail("read before the size check"))
    with pytest.raises(DataFormatError, match="over the import's limit") as exc:
        cvat.read_cvat(big)
    assert exc.value.where == str(big)


@pytest.mark.parametrize("char", ["\ufffe", "\uffff", "\ud800", "\x0b"])
def test_a_video_name_xml_cannot_hold_is_refused_at_export(char):
    """ElementTree wrote such characters as they were, and neither CVAT nor the import could read
    the file back (audit_exchange D8)."""
    from annotations.exchange.cvat import video_xml
    from schemas.dataset import Tracklet, VideoTracklets
    from schemas.errors import DataFormatError

    video = f"videos/x{char}y.mp4"
    vt = VideoTracklets.model_construct(
        product_id="p", video=video, frames=2, width=8, height=8, ground_truth=0,
        tracklets=[Tracklet.model_construct(video=video, boxes={0: [1, 1, 4, 4]}, class_id=1)],
    )  # fmt: skip
    with pytest.raises(DataFormatError, match="XML cannot hold") as exc:
        video_xml(vt, [0])
    assert exc.value.where == ascii(video)


def test_the_cvat_export_writes_the_label_spec_its_files_need(tmp_path):
    """CVAT creates no label from uploaded annotations: the task needs every label with both
    attributes. The spec beside the files holds exactly what their <meta> declares
    (audit_exchange D12)."""
    import json
    import xml.etree.ElementTree as ET

    from annotations.exchange.common import ExportVideo
    from annotations.exchange.cvat import LABEL_SPEC_FILE, video_xml, write_cvat
    from schemas.dataset import Tracklet, VideoTracklets

    vt = VideoTracklets(
        product_id="p", video="videos/p_0.mp4", frames=3, width=8, height=8, ground_truth=0,
        tracklets=[Tracklet(video="videos/p_0.mp4", boxes={0: [1, 1, 4, 4]}, class_id=1)],
    )  # fmt: skip
    written = write_cvat([ExportVideo(vt, [0])], tmp_path)
    assert written == [tmp_path / "p_0.xml", tmp_path / LABEL_SPEC_FILE]
    spec = json.loads((tmp_path / LABEL_SPEC_FILE).read_text())
    meta = ET.fromstring(video_xml(vt, [0])).findall("meta/task/labels/label")
    declared = [
        (lab.findtext("name"), [(a.findtext("name"), a.findtext("input_type"), (a.findtext("values") or "").split("\n")) for a in lab.iter("attribute")])
        for lab in meta
    ]  # fmt: skip
    assert [
        (s["name"], [(a["name"], a["input_type"], a["values"]) for a in s["attributes"]]) for s in spec
    ] == declared
    assert len(spec) == 14 and all(s["type"] == "rectangle" for s in spec)


def test_the_label_spec_passes_cvats_label_editor():
    """CVAT's "Raw" label editor refuses an attribute whose ``values`` is empty ("attribute values
    must be a non-empty array"): the text attributes ``tracklet`` and ``revision`` were written
    with ``values: []``, so the spec the export wrote could not be pasted. CVAT stores a text
    attribute's default as its one value; the editor's other checks hold too."""
    from annotations.exchange.cvat import label_spec

    for label in label_spec():
        assert isinstance(label["name"], str) and label["name"].strip() and label["type"] == "rectangle"
        names = [a["name"].strip() for a in label["attributes"]]
        assert len(set(names)) == len(names) == 5
        for a in label["attributes"]:
            assert a["input_type"] in ("checkbox", "number", "text", "radio", "select")
            assert isinstance(a["mutable"], bool)
            values = a["values"]
            assert isinstance(values, list) and values, (label["name"], a["name"])
            assert all(isinstance(v, str) for v in values)
            assert len({v.strip() for v in values}) == len(values)
            if a["input_type"] == "checkbox":
                assert a["default_value"] in ("true", "false")
            if a["input_type"] == "text":
                assert values == [a["default_value"]]


_TRACK = '<track id="0" label="trousers">{}</track>'
_BOX = '<box frame="0" outside="0" occluded="0" xtl="1" ytl="2" xbr="30" ybr="40"/>'


@pytest.mark.parametrize(
    ("xml", "where", "words", "fix"),
    [
        ("<annotations><version>1.1</version", "", "not well-formed", "export the task from CVAT again"),
        ("<dataset/>", "", "root element is <dataset>", "CVAT for video 1.1"),
        ("<annotations><version>2.0</version></annotations>", "", "version 2.0", "CVAT for video 1.1"),
        (
            "<annotations><meta><task><size>many</size></task></meta></annotations>",
            ": meta/task/size",
            "'many' is not an integer",
            "write a whole number",
        ),
        (
            "<annotations>" + _TRACK.format('<polygon frame="0" points="1,2;3,4;5,6"/>') + "</annotations>",
            ": track 0",
            "<polygon> shapes",
            "draw it again with rectangles",
        ),
        (
            "<annotations>" + _TRACK.format(_BOX.replace(' ybr="40"', "")) + "</annotations>",
            ": track 0 frame 0",
            "ybr missing",
            "give the <box> its xtl",
        ),
        (
            "<annotations>" + _TRACK.format(_BOX.replace('xbr="30"', 'xbr="0"')) + "</annotations>",
            ": track 0 frame 0",
            "xbr < xtl",
            "swap the corners",
        ),
        (
            "<annotations>" + _TRACK.format(_BOX.replace('xtl="1"', 'xtl="one"')) + "</annotations>",
            ": track 0 frame 0",
            "'one' is not a number",
            "write a plain number",
        ),
    ],
)
def test_every_cvat_file_error_names_the_element_and_what_to_do(tmp_path, xml, where, words, fix):
    """Eight errors of reading a CVAT file (XML not well-formed, another root element or version,
    a size that is no integer, a polygon track, a box missing a corner or with its corners
    reversed, a coordinate that is no number) gave no hint of what to do."""
    p = tmp_path / "task.xml"
    p.write_text(xml)
    with pytest.raises(DataFormatError, match=re.escape(words)) as err:
        read_cvat(p)
    assert err.value.where == f"{p}{where}"
    assert fix in (err.value.hint or ""), err.value.hint


def test_every_error_of_the_cvat_import_says_what_to_do():
    """Each error the CVAT import modules raise carries a hint (the source checked, so that an
    error added later without one is caught too): seven of them had none."""
    import ast

    import annotations.exchange as pkg

    missing = []
    for path in sorted(Path(pkg.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and ast.unparse(node.func).endswith("Error")):
                continue
            if not any(k.arg in ("hint", None) for k in node.keywords):
                missing.append(f"{path.name}:{node.lineno}: {ast.unparse(node)[:80]}")
    assert missing == [], missing
