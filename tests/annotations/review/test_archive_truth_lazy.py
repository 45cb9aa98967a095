"""The review queue of the real archive as downloaded (no ``tracklets/``): the split file's boxes
of a video are read when the page asks for them, not for every video while the queue is built
(15K videos took ~6 s and ~230 MB up front). What the page shows stays the same."""

from __future__ import annotations

import json

import pytest

import annotations.review.queue as queue
from annotations.review.queue import build_queue
from movingfashion.frame_boxes import FrameBoxes
from schemas.errors import DataFormatError
from schemas.official import read_official, read_official_entry, split_identity
from tests.movingfashion.helpers import edit_split, make_archive


def _count_conversions(monkeypatch) -> list[int]:
    """Every FrameBoxes made from a split file's boxes, counted (its number of boxes)."""
    made: list[int] = []
    real = FrameBoxes.of.__func__

    def counted(cls, table):
        made.append(len(table or {}))
        return real(cls, table)

    monkeypatch.setattr(FrameBoxes, "of", classmethod(counted))
    return made


def test_the_queue_converts_only_the_boxes_asked_for(tmp_path, monkeypatch):
    root = make_archive(tmp_path / "mf")
    made = _count_conversions(monkeypatch)
    q = build_queue(root, sample_rate=1.0)
    fileless = [it for it in q.items if it.tracklets == 1 and not it.has_file]
    assert len(fileless) >= 4 and made == []  # nothing converted up front
    it = q.by_stem["r2_0"]
    truth = json.loads((root / "test.json").read_text())["r2"]["tracklets"][0]
    assert dict(it.split_boxes.items()) == {int(k): [float(v) for v in b] for k, b in truth.items()}
    assert it.split_boxes is it.split_boxes and made == [len(truth)]  # converted once, then kept
    assert it.reason == queue.SPLIT_TRUTH_REASON and it.as_dict()["tracklets"] == 1


def test_a_split_file_rewritten_since_the_queue_gives_its_new_boxes(tmp_path):
    root = make_archive(tmp_path / "mf")
    q = build_queue(root, sample_rate=1.0)
    edit_split(root, "test", lambda d: d["r2"]["tracklets"][0].update({"0": [1, 2, 3, 4]}))
    assert q.by_stem["r2_0"].split_boxes[0] == [1.0, 2.0, 3.0, 4.0]


def test_one_entry_read_alone_equals_the_whole_files(tmp_path):
    root = make_archive(tmp_path / "mf")

    def decoys(data: dict) -> None:  # the id as a frame key and inside another entry's extra key
        data["r1"]["tracklets"][0]["7"] = data["r1"]["tracklets"][0]["0"]
        data["r1"]["note"] = {"h1": {"video_paths": ["videos/x.mp4"], "img_path": "imgs/x.png", "source": 0}}
        data["7"] = dict(data["h1"], tracklets=data["h1"]["tracklets"][:1], video_paths=["videos/h1_0.mp4"])

    edit_split(root, "train", decoys)
    path = root / "train.json"
    identity = split_identity(path)
    whole = read_official(path)
    for pid, entry in whole.items():
        alone = read_official_entry(path, pid, entry.video_paths[0], identity=identity)
        assert alone is not None and alone.model_dump() == entry.model_dump(), pid
    assert read_official_entry(path, "r1", "videos/nope.mp4", identity=identity) is None
    assert read_official_entry(path, "nope", "videos/r1_0.mp4", identity=identity) is None


@pytest.mark.parametrize(
    ("edit", "said", "key"),
    [
        (lambda trk: trk.update({"0": [30, 2, 10, 4]}), "'tracklets[0].0': x2 (10) < x1 (30)", "0"),
        (lambda trk: trk.update({"0": "DUP"}), "frame key '0' appears twice", "0"),
        (lambda trk: trk.update({"0": "1E"}), "frame key '0': malformed number", "0"),
    ],
)
def test_a_bad_box_holds_out_only_its_video(tmp_path, edit, said, key, caplog):
    root = make_archive(tmp_path / "mf")
    whole = build_queue(root, sample_rate=1.0)
    edit_split(root, "test", lambda d: edit(d["r2"]["tracklets"][0]))
    path = root / "test.json"
    text = path.read_text()  # what json cannot write: a key twice, a malformed number
    text = text.replace('"DUP"', '[1, 2, 3, 4], "0": [1, 2, 3, 4]').replace('"1E"', "[1e, 2, 3, 4]")
    path.write_text(text)
    with pytest.raises(DataFormatError):
        read_official(path)  # the file as a whole is still refused
    q = build_queue(root, sample_rate=1.0)
    # the rest of the queue works: every other video is there (h2 of the same file too), its boxes shown
    assert sorted(q.by_stem) == sorted(set(whole.by_stem) - {"r2_0"}) and "h2_0" in q.by_stem
    assert all(q.by_stem[s].split_boxes for s in q.by_stem if q.by_stem[s].split_truth)
    (line,) = q.held_out
    for part in (str(path), "product 'r2'", "video 'videos/r2_0.mp4'", f"frame key '{key}'", said):
        assert part in line, line
    assert line in caplog.text


def test_a_bad_box_in_one_video_keeps_the_products_other_video(tmp_path):
    root = make_archive(tmp_path / "mf")
    edit_split(root, "train", lambda d: d["r1"]["tracklets"][1].update({"3": [5, 9, 6, 1]}))
    q = build_queue(root, sample_rate=1.0)
    assert "r1_0" in q.by_stem and "r1_1" not in q.by_stem and q.by_stem["r1_0"].split_boxes
    (line,) = q.held_out
    assert "video 'videos/r1_1.mp4'" in line and "frame key '3'" in line and "y2 (1) < y1 (9)" in line, line


def test_the_page_logs_a_held_out_video_once_per_change_not_at_every_rebuild(tmp_path, caplog):
    """The review page rebuilds its queue at every change of the dataset or the catalog; each
    rebuild logged the held-out warning again (a page open for an hour repeated it at every
    decision). Now a video is logged when it is held out anew: once, and again only after what
    is held out changed."""
    from annotations.review.server import ReviewApp

    root = make_archive(tmp_path / "mf")
    edit_split(root, "train", lambda d: d["r1"]["tracklets"][1].update({"3": [5, 9, 6, 1]}))
    app = ReviewApp(root, root / ".review.sqlite", sample_rate=1.0, create_catalog=True)

    def logged() -> list[str]:
        return [r.getMessage() for r in caplog.records if "held out of the review queue" in r.getMessage()]

    try:
        assert len(logged()) == 1 and "frame key '3'" in logged()[0]
        for n in range(2):  # the dataset changes elsewhere: the queue is rebuilt, the same video held out
            (root / "entries.jsonl").write_text("\n" * (n + 1))
            assert app.refresh_queue()
        assert len(logged()) == 1
        edit_split(root, "train", lambda d: d["r1"]["tracklets"][1].update({"3": [5, 9, 6, 2]}))
        assert app.refresh_queue()  # what is held out changed (another box): said again
        assert len(logged()) == 2 and "y2 (2) < y1 (9)" in logged()[1]
    finally:
        app.close()
