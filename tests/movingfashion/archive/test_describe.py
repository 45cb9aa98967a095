"""What a dataset folder says about itself: Croissant 1.1 (validated and read with ``mlcroissant``),
the dataset card, the manifest after a refresh, and the deterministic zip."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import zipfile

import pytest
import yaml

from movingfashion.archive.describe import describe, read_manifest, refresh
from movingfashion.archive.pack import pack_dataset
from movingfashion.archive.verify import dataset_files, verify_dataset
from schemas.atomic import sha256_file
from schemas.dataset import DatasetInfo
from schemas.errors import DataFormatError
from schemas.official import read_official


@pytest.fixture()
def dataset(gt_dataset, tmp_path):
    """A copy of the world's ground-truth export (written by :func:`describe`), free to change."""
    root = tmp_path / "MovingFashion-gt"
    shutil.copytree(gt_dataset, root)
    return root


def _official(root):
    return {s: read_official(root / f"{s}.json") for s in ("train", "test")}


def _text(v):
    return v.decode() if isinstance(v, bytes) else v


def test_croissant_validates_and_its_records_are_the_split_files(dataset):
    import mlcroissant as mlc

    doc = json.loads((dataset / "croissant.json").read_text())
    for key in ("@context", "name", "description", "license", "url", "creator", "datePublished", "citeAs"):
        assert doc[key], key
    assert doc["conformsTo"] == "http://mlcommons.org/croissant/1.1"
    for key in (
        "rai:dataLimitations",
        "rai:dataBiases",
        "rai:personalSensitiveInformation",
        "rai:dataUseCases",
        "rai:dataCollection",
        "rai:dataAnnotationProtocol",
    ):
        assert doc[key], key
    files = {d["@id"]: d for d in doc["distribution"] if d["@type"] == "cr:FileObject"}
    assert {"train.json", "test.json", "entries.jsonl", "pairs/train.jsonl", "boxes/test.jsonl"} <= set(files)
    for rel, d in files.items():
        assert d["sha256"] == sha256_file(dataset / rel), rel
    sets = {d["includes"] for d in doc["distribution"] if d["@type"] == "cr:FileSet"}
    assert {"videos/*.mp4", "imgs/*.jpg", "imgs/*.png"} <= sets

    ds = mlc.Dataset(jsonld=dataset / "croissant.json")
    assert not ds.metadata.issues.errors and not ds.metadata.issues.warnings, ds.metadata.issues.report()
    official = _official(dataset)
    pairs = list(itertools.islice(ds.records(record_set="pairs"), 8))
    assert len(pairs) == 8
    for r in pairs:
        split, pid = _text(r["pairs/split"]), _text(r["pairs/product_id"])
        e = official[split][pid]
        assert _text(r["pairs/video_path"]) == e.video_paths[r["pairs/video_index"]]
        assert _text(r["pairs/img_path"]) == e.img_path and r["pairs/source"] == e.source
        assert r["pairs/source"] == (1 if _text(r["pairs/partition"]) == "regular" else 0)
        assert 1 <= r["pairs/df2_class"] <= 13
    boxes = list(itertools.islice(ds.records(record_set="tracklet_boxes"), 5))
    for r in boxes:
        e = official[_text(r["tracklet_boxes/split"])][_text(r["tracklet_boxes/product_id"])]
        i = e.video_paths.index(_text(r["tracklet_boxes/video_path"]))
        assert list(r["tracklet_boxes/box"]) == e.tracklet_boxes(i)[r["tracklet_boxes/frame"]]


def test_a_dataset_without_boxes_has_a_croissant_that_reads(dataset):
    """Published before ``mf-tracklets build`` (the README's first publish), every box table is
    empty: ``tracklet_boxes`` over them made mlcroissant fail ("Column 'split' does not exist in
    node 'box-tables'"). It is left out until a video has a box; the pairs still read."""
    import mlcroissant as mlc

    shutil.rmtree(dataset / "tracklets", ignore_errors=True)
    for split in ("train", "test"):
        path = dataset / f"{split}.json"
        doc = json.loads(path.read_text())
        for entry in doc.values():
            entry["tracklets"] = [{} for _ in entry["video_paths"]]
        path.write_text(json.dumps(doc))
    describe(dataset, DatasetInfo(synthetic=True))
    assert (dataset / "boxes" / "train.jsonl").read_text() == ""
    doc = json.loads((dataset / "croissant.json").read_text())
    assert [r["@id"] for r in doc["recordSet"]] == ["splits", "pairs"]
    assert "box-tables" not in {d["@id"] for d in doc["distribution"]}
    ds = mlc.Dataset(jsonld=dataset / "croissant.json")
    assert not ds.metadata.issues.errors, ds.metadata.issues.report()
    n_pairs = sum(len(e.video_paths) for split in _official(dataset).values() for e in split.values())
    assert len(list(ds.records(record_set="pairs"))) == n_pairs


def test_a_split_without_boxes_is_left_out_of_the_box_record_set(dataset):
    """The test split's videos have no box yet, the train split's do: an empty table read beside
    one whose product ids are all numbers (Net-A-Porter, TikTok) turned those ids into floats in
    mlcroissant (b'1923649965303.0'). The record set reads the train table alone."""
    import mlcroissant as mlc

    path = dataset / "test.json"
    doc = json.loads(path.read_text())
    for entry in doc.values():
        entry["tracklets"] = [{} for _ in entry["video_paths"]]
    path.write_text(json.dumps(doc))
    shutil.rmtree(dataset / "tracklets", ignore_errors=True)
    describe(dataset, DatasetInfo(synthetic=True))
    doc = json.loads((dataset / "croissant.json").read_text())
    sets = {d["@id"]: d for d in doc["distribution"]}
    assert sets["box-tables"]["includes"] == "boxes/train.jsonl"
    row = {"product_id": "1923649965303", "split": "train", "video_path": "videos/1923649965303_0.mp4"}
    (dataset / "boxes" / "train.jsonl").write_text(
        json.dumps({**row, "frame": 0, "box": [1.0, 2.0, 3.0, 4.0]}) + "\n"
    )
    ds = mlc.Dataset(jsonld=dataset / "croissant.json")
    got = [_text(r["tracklet_boxes/product_id"]) for r in ds.records(record_set="tracklet_boxes")]
    assert got == ["1923649965303"]


def test_the_card_has_a_hub_header_and_the_datasheet(dataset):
    text = (dataset / "README.md").read_text()
    assert text.startswith("---\n")
    header_text, body = text[4:].split("\n---\n", 1)
    header = yaml.safe_load(header_text)
    assert header["license"] == "cc-by-nc-sa-4.0" and header["pretty_name"]
    assert header["task_categories"] and header["size_categories"] == ["n<1K"]
    assert "synthetic" in header["tags"]  # the world's export says what it is
    configs = {c["config_name"]: c for c in header["configs"]}
    assert configs["pairs"]["default"] is True
    for c in configs.values():
        assert {f["split"] for f in c["data_files"]} == {"train", "test"}
        for f in c["data_files"]:
            assert (dataset / f["path"]).is_file()
    n_pairs = sum(len(e.video_paths) for split in _official(dataset).values() for e in split.values())
    assert f"{n_pairs} video-shop pairs" in body
    for heading in ("## Layout", "## Datasheet", "## Limitations", "## Biases", "## Citation"):
        assert heading in body
    assert "| 13 | sling_dress |" in body and "@inproceedings{godi2022movingfashion" in body
    # every fenced block is closed, so the page renders as meant
    assert body.count("```") % 2 == 0


def test_the_card_shows_the_maintainers_text_and_runs_none_of_its_html(dataset):
    citation = "@misc{x, title={A}}\n```\n<script>alert('citation')</script>\n````"
    info = DatasetInfo(
        pretty_name="MF <script>alert(1)</script>",
        description="A **bold** claim <img src=x onerror=alert(1)>",
        license="cc-by<b onmouseover=alert(1)>",
        license_url="https://example.org/licence_(v2",  # an unbalanced ( would end the link early
        url="https://example.org/a)b",
        citation=citation,
    )
    describe(dataset, info)
    body = (dataset / "README.md").read_text().split("\n---\n", 1)[1]
    lines = body.splitlines()
    at = lines.index("## Citation") + 2
    fence = lines[at][: len(lines[at]) - len(lines[at].lstrip("`"))]
    assert lines[at] == fence + "bibtex" and len(fence) > 4  # longer than the citation's own ````
    end = next(i for i in range(at + 1, len(lines)) if lines[i].strip().startswith(fence))
    assert "\n".join(lines[at + 1 : end]) == citation  # shown whole, as code
    outside = "\n".join(lines[:at] + lines[end + 1 :])
    assert "<script>" not in outside and "<img" not in outside and "<b " not in outside
    assert "&lt;script&gt;" in body and "&lt;img src=x onerror=alert(1)&gt;" in body
    assert "A **bold** claim" in body  # the description's own Markdown is kept
    assert "Licence: [CC-BY&lt;B ONMOUSEOVER=ALERT(1)&gt;](https://example.org/licence_%28v2)." in body
    assert "More: [https://example.org/a)b](https://example.org/a%29b)" in body


def test_refresh_follows_new_tracklets_and_keeps_the_description(dataset):
    before = read_manifest(dataset)
    data = json.loads((dataset / "train.json").read_text())
    pid = sorted(data)[0]
    data[pid]["tracklets"][0] = {"0": [1.0, 2.0, 30.0, 40.0]}
    (dataset / "train.json").write_text(json.dumps(data))
    assert not verify_dataset(dataset).ok  # the manifest no longer matches
    assert refresh(dataset)
    assert verify_dataset(dataset).ok
    after = read_manifest(dataset)
    assert after["dataset"] == before["dataset"] and after["products"] == before["products"]
    rows = [json.loads(x) for x in (dataset / "boxes/train.jsonl").read_text().splitlines()]
    assert [r for r in rows if r["product_id"] == pid and r["video_path"] == data[pid]["video_paths"][0]] == [
        {
            "product_id": pid,
            "split": "train",
            "video_path": data[pid]["video_paths"][0],
            "frame": 0,
            "box": [1.0, 2.0, 30.0, 40.0],
        }
    ]
    assert not refresh(dataset / "boxes")  # not a published folder: untouched


def test_the_card_counts_the_pairs_with_a_tracklet_and_claims_none_it_lacks(dataset):
    """Right after a publish, before the tracklets are built, the card said "Every video has a
    ground-truth tracklet"; it now counts them, and says every pair has one only when it does."""
    body = (dataset / "README.md").read_text().split("\n---\n", 1)[1]
    assert "- every video-shop pair has a ground-truth tracklet" in body
    assert "Every video has a" not in body
    data = json.loads((dataset / "train.json").read_text())
    n_pairs = sum(len(e.video_paths) for split in _official(dataset).values() for e in split.values())
    pid = sorted(data)[0]
    data[pid]["tracklets"] = [{} for _ in data[pid]["video_paths"]]  # not built yet
    (dataset / "train.json").write_text(json.dumps(data))
    assert refresh(dataset)
    body = (dataset / "README.md").read_text().split("\n---\n", 1)[1]
    bare = len(data[pid]["video_paths"])
    assert f"- {n_pairs - bare} of the {n_pairs} video-shop pairs have a ground-truth tracklet so far" in body
    assert "every video-shop pair has" not in body


def test_refresh_of_a_folder_described_with_a_url_now_refused_names_the_field(dataset):
    """A folder published before urls were checked: refresh is one named error, no traceback."""
    doc = json.loads((dataset / "manifest.json").read_text())
    doc["dataset"]["url"] = "javascript:alert(1)"
    (dataset / "manifest.json").write_text(json.dumps(doc))
    with pytest.raises(DataFormatError) as err:
        refresh(dataset)
    assert "dataset.url" in str(err.value) and err.value.where == str(dataset / "manifest.json")


def test_refresh_told_what_changed_hashes_those_files_and_keeps_the_others(dataset):
    before = read_manifest(dataset)["files"]
    data = json.loads((dataset / "train.json").read_text())
    pid = sorted(data)[0]
    video = data[pid]["video_paths"][0]
    trk = next(r for r in before if r.startswith("tracklets/"))
    other = next(r for r in before if r.startswith("tracklets/") and r != trk)
    manifest_ns = (dataset / "manifest.json").stat().st_mtime_ns
    (dataset / trk).write_text((dataset / trk).read_text() + " ")  # the change the caller made
    # a change nobody reports, with the file's time set back before the manifest: trusted
    (dataset / video).write_bytes((dataset / video).read_bytes() + b"x")
    os.utime(dataset / video, ns=(manifest_ns - 10**9, manifest_ns - 10**9))
    # another file written after the manifest (a run killed before its refresh): hashed again
    (dataset / other).write_text((dataset / other).read_text() + " ")
    data[pid]["tracklets"][0] = {"0": [1.0, 2.0, 30.0, 40.0]}
    (dataset / "train.json").write_text(json.dumps(data))
    assert refresh(dataset, changed=[trk])
    after = read_manifest(dataset)["files"]
    assert after[trk] == sha256_file(dataset / trk) != before[trk]
    assert after[other] == sha256_file(dataset / other) != before[other]
    assert after["train.json"] == sha256_file(dataset / "train.json") != before["train.json"]
    assert after["boxes/train.jsonl"] == sha256_file(dataset / "boxes/train.jsonl")
    assert after[video] == before[video]  # not read again: the recorded hash is kept
    assert [b.field for b in verify_dataset(dataset).breaks if b.check == "manifest"] == [video]
    assert refresh(dataset)  # told nothing: every file is hashed again
    assert read_manifest(dataset)["files"][video] == sha256_file(dataset / video)
    assert verify_dataset(dataset).ok


def test_a_file_dated_in_the_manifests_own_tick_is_hashed_again(dataset):
    """On a filesystem of 1 s steps a file rewritten just after the manifest shows the manifest's
    own date: it may be newer, so neither the refresh nor publish's trusting audit keeps its hash."""
    before = read_manifest(dataset)["files"]
    image = next(r for r in before if r.startswith("imgs/"))
    tick = (dataset / "manifest.json").stat().st_mtime_ns // 10**9 * 10**9
    os.utime(dataset / "manifest.json", ns=(tick, tick))
    data = bytearray((dataset / image).read_bytes())
    data[-3] ^= 0xFF
    (dataset / image).write_bytes(bytes(data))
    os.utime(dataset / image, ns=(tick, tick))
    assert [
        b.field for b in verify_dataset(dataset, trust_manifest=True).breaks if b.check == "manifest"
    ] == [image]
    assert refresh(dataset, changed=["train.json"])
    assert read_manifest(dataset)["files"][image] == sha256_file(dataset / image) != before[image]


def test_the_date_is_stable(dataset, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    describe(dataset, DatasetInfo(synthetic=True))
    assert json.loads((dataset / "croissant.json").read_text())["datePublished"] == "2023-11-14"
    describe(dataset, DatasetInfo(synthetic=True, date_published="2026-05-01"))
    assert json.loads((dataset / "croissant.json").read_text())["datePublished"] == "2026-05-01"
    assert "published 2026-05-01" in (dataset / "README.md").read_text()


def test_the_zip_is_byte_identical_across_runs(dataset, tmp_path):
    first, digest = pack_dataset(dataset, tmp_path / "a.zip")
    # the same folder copied elsewhere (other inode order, other mtimes) zips to the same bytes
    other = tmp_path / "copy" / dataset.name
    shutil.copytree(dataset, other)
    (other / "train.json").touch()
    second, digest2 = pack_dataset(other, tmp_path / "b.zip")
    assert first.read_bytes() == second.read_bytes() and digest == digest2
    assert digest == hashlib.sha256(first.read_bytes()).hexdigest()
    assert (tmp_path / "a.zip.sha256").read_text() == f"{digest}  a.zip\n"
    with zipfile.ZipFile(first) as zf:
        names = zf.namelist()
        assert names == sorted(names)
        assert names == [
            f"{dataset.name}/{rel}" for rel in sorted([*dataset_files(dataset), "manifest.json"])
        ]
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert zf.read(f"{dataset.name}/train.json") == (dataset / "train.json").read_bytes()
        assert zf.testzip() is None


def test_a_dataset_without_multi_video_products_gives_no_maximum_of_them():
    """Every product with one video: the card and the datasheet said "0 products have several
    videos (up to 1)" and "Products with several videos: 0 (at most 1 videos)"; a maximum of
    products there are none of is no figure."""
    from movingfashion.archive.card import dataset_card, datasheet
    from movingfashion.archive.tables import PairRow, Tables

    rows = [
        PairRow(p, "train", 0, f"videos/{p}_0.mp4", f"imgs/{p}.jpg", 1, "regular", 1, "short_sleeved_shirt")
        for p in ("a", "b")
    ]
    tables = Tables(pairs={"train": rows}, box_counts={})
    sheet = datasheet(tables)
    card = dataset_card(DatasetInfo(), tables, "2024-01-01", sheet)
    assert "Products with several videos: 0; every test product has one video." in sheet
    assert "- no product has several videos; test products have one" in card
    assert "at most" not in sheet and "up to" not in card
