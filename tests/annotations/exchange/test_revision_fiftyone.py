"""The ``revision`` a FiftyOne (or CVAT) export writes reads back as the same string: FiftyOne
parses an attribute value that parses as a number as one, so a bare all-digit digest (about 0.1%
of them) came back as an int (a leading 0 lost). The import still takes the older bare form."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

import annotations.exchange.cvat as cvat
import annotations.exchange.importer as importer
from annotations.exchange import export_dataset
from annotations.exchange.common import tracklet_revision
from annotations.exchange.cvat import read_cvat
from annotations.exchange.importer import import_cvat
from annotations.tracklet_files import read_video_tracklets, tracklet_file
from schemas.errors import DataFormatError
from tests.annotations.review.review_dataset import make_review_dataset


def fiftyone_value(text: str) -> Any:
    """An attribute's text as FiftyOne's CVAT importer reads it: an int, else a float, else the
    text (its true/false/None cases aside)."""
    for number in (int, float):
        try:
            return number(text)
        except ValueError:
            pass
    return text


def digit_revision(t, vt) -> str:
    """An all-digit digest, a different one per tracklet (a leading 0, which an int drops)."""
    return ("0" + str(int(tracklet_revision(t, vt), 16)))[:16]


def _revisions(xml) -> list[ET.Element]:
    return [a for a in ET.parse(xml).getroot().iter("attribute") if a.get("name") == "revision"]


def test_an_all_digit_revision_reads_back_as_the_same_string(gt_dataset, tmp_path, monkeypatch):
    monkeypatch.setattr(cvat, "tracklet_revision", digit_revision)
    monkeypatch.setattr(importer, "tracklet_revision", digit_revision)
    ds = tmp_path / "dataset"
    facts = make_review_dataset(gt_dataset, ds, tmp_path / "catalog.sqlite")
    stem = facts["videos"][2]
    export_dataset(ds, "fiftyone", tmp_path / "fo", tracks="all", videos=[stem])
    xml = tmp_path / "fo" / "labels" / f"{stem}.xml"
    vt = read_video_tracklets(tracklet_file(ds, facts["video_path"][stem]))
    digests = {digit_revision(t, vt) for t in vt.tracklets}
    assert all(d.isdigit() for d in digests)
    written = _revisions(xml)
    assert written
    for a in written:  # FiftyOne keeps it a string, equal to what was written
        assert isinstance(fiftyone_value(a.text), str) and fiftyone_value(a.text) == a.text
    assert {t.revision for t in read_cvat(xml).tracks} == digests

    # a file exported before the prefix (the bare digest) is still read, and still refused once
    # its tracklet changed since
    tree = ET.parse(xml)
    for a in tree.getroot().iter("attribute"):
        if a.get("name") == "revision":
            a.text = cvat.revision_of(a.text)
    tree.write(xml, encoding="utf-8", xml_declaration=True)
    assert {t.revision for t in read_cvat(xml).tracks} == digests
    import_cvat(ds, xml, tracks="all")  # the tracklets are as exported: taken
    first = tree.getroot().find("track")
    for dx in (2.0, 1.0):  # two edits of the same file: the second one's tracklet changed since
        for b in first.iter("box"):
            b.set("xtl", str(float(b.get("xtl")) + dx))
        tree.write(xml, encoding="utf-8", xml_declaration=True)
        if dx == 2.0:
            import_cvat(ds, xml, tracks="all")
    with pytest.raises(DataFormatError, match="changed after this file was exported"):
        import_cvat(ds, xml, tracks="all")
