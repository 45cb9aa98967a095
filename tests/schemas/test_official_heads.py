"""read_official_heads: each product's paths, source and which tracklets hold boxes, read without
parsing the boxes; the same as the whole file's validated read, which it falls back to (raising
as it does) on anything but a plain split."""

from __future__ import annotations

import json

import pytest

import schemas.official as official
from schemas.errors import DataFormatError
from schemas.official import (
    OfficialHead,
    read_official,
    read_official_entry,
    read_official_heads,
    split_identity,
)


def _split() -> dict:
    box = [1.5, 2, 30.25, 4e1]
    return {
        "p1": {"video_paths": ["videos/p1_0.mp4", "videos/p1_1.mp4"], "img_path": "imgs/p1.jpg", "source": 1,
               "tracklets": [{"0": box, "10": [0, 0, 1, 1]}, {}]},
        "p2": {"source": 0, "img_path": "imgs/p2.png", "note": {"tracklets": [1]}, "video_paths": ["videos/p2.mp4"]},
        "pé \\\"3": {"video_paths": ["videos/p3_0.mp4"], "tracklets": [], "img_path": "imgs/p3.png", "source": 4},
        "p4": {"video_paths": ["videos/a b/p4.mp4"], "img_path": "imgs/p4.png", "source": 0,
               "tracklets": [{"3": [-1.0, 0, 2, 5E-3]}], "extra": [1, {"x": None}]},
    }  # fmt: skip


def _heads_of_full_read(path) -> dict[str, OfficialHead]:
    return {
        pid: OfficialHead(tuple(e.video_paths), e.img_path, e.source, tuple(map(bool, e.tracklets)))
        for pid, e in read_official(path).items()
    }


@pytest.mark.parametrize("dump", [json.dumps, lambda d: json.dumps(d, indent=2, ensure_ascii=False)])
def test_heads_equal_the_full_reads_without_it(tmp_path, monkeypatch, dump):
    path = tmp_path / "train.json"
    path.write_text(dump(_split()), encoding="utf-8")
    expected = _heads_of_full_read(path)
    calls: list[object] = []
    monkeypatch.setattr(official, "_load", lambda p: calls.append(p) or pytest.fail("whole file parsed"))
    heads = read_official_heads(path)
    assert heads == expected and list(heads) == list(_split()) and calls == []
    assert heads["p1"].with_boxes == (True, False) and heads["p2"].with_boxes == ()


def test_a_byte_order_mark_and_an_empty_split_read(tmp_path):
    path = tmp_path / "train.json"
    path.write_text("\ufeff " + json.dumps(_split()) + "\n", encoding="utf-8")
    assert read_official_heads(path) == _heads_of_full_read(path)
    path.write_text(" { } ")
    assert read_official_heads(path) == {}


@pytest.mark.parametrize(
    "text",
    [
        '{"p": {"video_paths": ["videos/p.mp4"], "img_path": "imgs/p.png", "source": 0, "tracklets": [{"0": [1, 2, 3]}]}}',
        '{"p": {"video_paths": ["videos/p.mp4"], "img_path": "imgs/p.png", "source": 0, "tracklets": [{"0": [1, 2, 3, "4"]}]}}',
        '{"p": {"video_paths": ["videos/p.mp4"], "img_path": "imgs/p.png", "source": 0, "tracklets": [{"0": [NaN, 2, 3, 4]}]}}',
        '{"p": {"video_paths": ["videos/p.mp4"], "img_path": "imgs/p.png", "source": 0, "tracklets": [{"01": [1, 2, 3, 4]}]}}',
        '{"p": {"video_paths": ["videos/p.mp4"], "img_path": "imgs/p.png", "source": 0, "tracklets": null}}',
        '{"p": {"video_paths": ["../p.mp4"], "img_path": "imgs/p.png", "source": 0}}',
        '{"p": {"video_paths": ["videos/p.mp4"], "img_path": "imgs/p.png", "source": "0"}}',
        '{"p": {"video_paths": ["videos/p.mp4"], "img_path": "imgs/p.png", "source": 0, "x": NaN}}',
        '{"p": {"video_paths": ["videos/p.mp4"], "img_path": "imgs/p.png", "source": 0, "source": 1}}',
        '{"p": {"video_paths": ["videos/p.mp4"], "img_path": "imgs/p.png", "source": 0}, "p": {}}',
        '{"p": {"video_paths": ["videos/p.mp4"], "img_path": "imgs/p.png", "source": 0},}',
        '{"p": {"video_paths": ["videos/p.mp4"], "img_path": "imgs/p.png", "source": 0}} x',
        '["p"]',
        '{"p": [1]}',
        "",
    ],
)  # fmt: skip
def test_anything_unexpected_reads_the_file_whole_and_raises_as_it_does(tmp_path, text):
    path = tmp_path / "train.json"
    path.write_text(text)
    with pytest.raises(DataFormatError) as full:
        read_official(path)
    with pytest.raises(DataFormatError) as heads:
        read_official_heads(path)
    assert str(heads.value) == str(full.value)


def test_an_unusual_but_valid_shape_falls_back_to_the_same_heads(tmp_path):
    path = tmp_path / "train.json"
    data = _split()
    data["p1"]["tracklets"][0]["5"] = [True and 1, 2, 3, 4.0]
    path.write_text(json.dumps(data).replace('"5": [1, 2, 3, 4.0]', '"\\u0035": [1, 2, 3, 4.0]'))
    assert '"\\u0035"' in path.read_text()
    assert read_official_heads(path) == _heads_of_full_read(path)


@pytest.mark.parametrize(
    "trk", ['{"0": [1, 2, 3, 4], "0": [1, 2, 3, 4]}', '{"0": [3, 2, 1, 4]}', '{"0": [1e, 2, 3, 4]}']
)
def test_a_box_the_scan_cannot_judge_is_refused_when_its_entry_is_read(tmp_path, trk):
    path = tmp_path / "train.json"
    path.write_text(
        f'{{"p": {{"video_paths": ["videos/p.mp4"], "img_path": "imgs/p.png", "source": 0, "tracklets": [{trk}]}}}}'
    )
    assert read_official_heads(path)["p"] == OfficialHead(("videos/p.mp4",), "imgs/p.png", 0, (True,))
    with pytest.raises(DataFormatError) as full:
        read_official(path)
    with pytest.raises(DataFormatError) as shown:
        read_official_entry(path, "p", "videos/p.mp4", identity=split_identity(path))
    assert str(shown.value) == str(full.value)
