"""A tracklet whose class (the detector's) differs from its product's (``df2_class`` of
entries.jsonl, the dataset's truth) is exported with the product's class as its label and the
detector's beside it (CVAT/FiftyOne: the ``detector_class`` attribute; MOT: class column the
product's, ``detector_labels.txt`` the detector's); an unchanged CVAT import changes nothing,
and a relabel in CVAT still sets the tracklet's class."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from annotations.exchange import export_dataset
from annotations.exchange.common import LABELS
from annotations.exchange.importer import import_cvat
from annotations.tracklet_files import read_video_tracklets, tracklet_file
from schemas.taxonomy import DF2_CLASSES
from tests.annotations.review.review_dataset import make_review_dataset


def _attrs(track: ET.Element, name: str) -> set[str | None]:
    return {a.text for a in track.iter("attribute") if a.get("name") == name}


def test_the_label_is_the_products_class_and_the_detectors_an_attribute(gt_dataset, tmp_path):
    ds = tmp_path / "dataset"
    facts = make_review_dataset(gt_dataset, ds, tmp_path / "catalog.sqlite")
    stem = facts["videos"][2]
    vp = facts["video_path"][stem]
    path = tracklet_file(ds, vp)
    vt = read_video_tracklets(path)
    rows = [json.loads(line) for line in (ds / "entries.jsonl").read_text().splitlines() if line.strip()]
    row = next(r for r in rows if r["product_id"] == vt.product_id)
    own = vt.tracklets[vt.ground_truth].class_id
    product = next(c for c in sorted(DF2_CLASSES) if c not in (own, row["df2_class"]))
    row["df2_class"] = product  # the product's class now differs from the tracklet's
    (ds / "entries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    before = path.read_bytes()

    export_dataset(ds, "cvat", tmp_path / "cvat", videos=[stem])
    xml = tmp_path / "cvat" / f"{stem}.xml"
    (track,) = ET.parse(xml).getroot().findall("track")
    assert track.get("label") == DF2_CLASSES[product]
    assert _attrs(track, "detector_class") == {DF2_CLASSES[own]}
    assert _attrs(track, "product_class") == {DF2_CLASSES[product]}

    export_dataset(ds, "mot", tmp_path / "mot", videos=[stem])
    seq = tmp_path / "mot" / stem
    classes = {line.split(",")[7] for line in (seq / "gt" / "gt.txt").read_text().splitlines()}
    assert classes == {str(LABELS.index(DF2_CLASSES[product]) + 1)}
    assert (seq / "detector_labels.txt").read_text() == f"{vt.ground_truth + 1},{DF2_CLASSES[own]}\n"

    # the round trip stays exact: an unchanged file changes nothing (the class comes from the attribute)
    res = import_cvat(ds, xml)
    assert path.read_bytes() == before, res
    # a relabel in CVAT still sets the tracklet's class
    third = next(c for c in sorted(DF2_CLASSES) if c not in (own, product))
    text = xml.read_text().replace(f'label="{DF2_CLASSES[product]}"', f'label="{DF2_CLASSES[third]}"')
    xml.write_text(text)
    import_cvat(ds, xml)
    assert read_video_tracklets(path).tracklets[vt.ground_truth].class_id == third
