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


def _entry(pid: str, tracklets: list[str]) -> str:
    videos = json.dumps([f"videos/{pid}_{n}.mp4" for n in range(len(tracklets))])
    return (
        f'"{pid}": {{"video_paths": {videos}, "img_path": "imgs/{pid}.png", "source": 0, '
        f'"tracklets": [{", ".join(tracklets)}]}}'
    )


_GOOD = '{"0": [1, 2, 3, 4], "7": [0.5, 1e1, 2.5E+1, 40], "3": [-1, 0, 0, 0]}'  # keys out of order


@pytest.mark.parametrize(
    ("trk", "said"),
    [
        ('{"0": [1, 2, 3, 4], "5": [0, 0, 1, 1], "5": [1, 2, 3, 4]}', "frame key '5' appears twice"),
        ('{"9": [1, 2, 3, 4], "5": [0, 0, 1, 1], "9": [1, 2, 3, 4]}', "frame key '9' appears twice"),
        ('{"0": [1, 2, 3, 4], "12": [3, 2, 1, 4]}', "'tracklets[1].12': x2 (1) < x1 (3)"),
        ('{"0": [1, 2, 3, 4], "12": [1, 5, 3, 4.5]}', "'tracklets[1].12': y2 (4.5) < y1 (5)"),
        ('{"0": [1, 2, 3, 4], "12": [1e, 2, 3, 4]}', "frame key '12': malformed number"),
        ('{"0": [1, 2, 3, 4], "12": [1, --2, 3, 4]}', "frame key '12': malformed number"),
        ('{"0": [1, 2, 3, 4], "12": [1, 2, 3., 4]}', "frame key '12': malformed number"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("chunk", [official._VOUCH_CHUNK, 1])  # all entries checked at once, or one by one
def test_a_bad_box_is_refused_by_the_heads_naming_the_file_video_and_frame(
    tmp_path, monkeypatch, trk, said, chunk
):
    monkeypatch.setattr(official, "_VOUCH_CHUNK", chunk)
    bad = _entry("p3", [_GOOD, trk])
    good = [_entry(f"p{n}", [_GOOD, _GOOD]) for n in (1, 2, 4)]
    path = tmp_path / "train.json"
    path.write_text("{" + ", ".join([*good[:2], bad, good[2]]) + "}")
    with pytest.raises(DataFormatError) as heads:
        read_official_heads(path)
    text = str(heads.value)
    assert str(path) in text and "product 'p3'" in text and said in text, text
    assert "videos/p3_1.mp4" in text, text  # tracklets[1] is the product's second video
    with pytest.raises(DataFormatError):
        read_official(path)  # the whole read refuses the file too
    with pytest.raises(DataFormatError) as shown:
        read_official_entry(path, "p3", "videos/p3_1.mp4", identity=split_identity(path))
    assert str(shown.value) == text
    path.write_text("{" + ", ".join(good) + "}")
    assert read_official_heads(path) == _heads_of_full_read(path)  # out-of-order keys are no error


def test_every_entry_read_alone_reads_the_file_once(tmp_path, monkeypatch):
    data = _split() | {f"p{n}é": {"video_paths": [f"videos/{n}.mp4"], "img_path": "imgs/x.png", "source": 1,
                                   "tracklets": [{str(k): [k, 0, k + 1, 2] for k in range(n)}]}
                       for n in range(40)}  # fmt: skip
    path = tmp_path / "train.json"
    text = "\ufeff" + json.dumps(data, indent=1, ensure_ascii=False).replace("\n", "\r\n")
    path.write_bytes(text.encode("utf-8"))
    expected = read_official(path)
    identity = split_identity(path)
    scans: list[int] = []
    scan = official._scan_heads
    monkeypatch.setattr(official, "_scan_heads", lambda *a: scans.append(1) or scan(*a))
    monkeypatch.setattr(official, "_load", lambda p: pytest.fail("whole file parsed"))
    monkeypatch.setattr(official, "_entry_alone", lambda *a: pytest.fail("searched from the file's start"))
    for pid, entry in expected.items():
        for video in entry.video_paths:
            assert read_official_entry(path, pid, video, identity=identity) == entry
    assert scans == [1]


def test_the_same_file_read_again_is_not_scanned_again(tmp_path, monkeypatch):
    path = tmp_path / "train.json"
    path.write_text(json.dumps(_split()))
    scans: list[int] = []
    scan = official._scan_heads
    monkeypatch.setattr(official, "_scan_heads", lambda *a: scans.append(1) or scan(*a))
    first = read_official_heads(path)
    first.clear()  # the caller's copy: what is kept stays whole
    again = read_official_heads(path)
    assert again == _heads_of_full_read(path) and scans == [1]
    data = _split()
    data["p1"]["source"] = 0
    path.write_text(json.dumps(data))  # another version: read again
    assert read_official_heads(path)["p1"].source == 0 and scans == [1, 1]
