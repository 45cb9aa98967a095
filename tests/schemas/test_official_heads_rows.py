"""read_official_heads_rows: the heads read goes on past a video whose tracklet holds a bad box,
listing each such video (file, product, video, frame key), so a reader can hold it out alone."""

from __future__ import annotations

import pytest

import schemas.official as official
from schemas.official import read_official_entry, read_official_heads_rows, split_identity


def _entry(pid: str, tracklets: list[str]) -> str:
    videos = ", ".join(f'"videos/{pid}_{n}.mp4"' for n in range(len(tracklets)))
    return (
        f'"{pid}": {{"video_paths": [{videos}], "img_path": "imgs/{pid}.png", "source": 0, '
        f'"tracklets": [{", ".join(tracklets)}]}}'
    )


_GOOD = '{"0": [1, 2, 3, 4], "7": [0.5, 1e1, 2.5E+1, 40]}'


@pytest.mark.parametrize("chunk", [official._VOUCH_CHUNK, 1])
def test_each_bad_video_is_listed_and_the_rest_read(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(official, "_VOUCH_CHUNK", chunk)
    path = tmp_path / "train.json"
    entries = [
        _entry("p1", [_GOOD, '{"0": [1, 2, 3, 4], "12": [3, 2, 1, 4]}']),  # reversed x in video 1
        _entry("p2", [_GOOD]),
        _entry("p3", ['{"5": [1e, 2, 3, 4]}', _GOOD]),  # malformed number in video 0
        _entry("p4", ['{"9": [1, 2, 3, 4], "9": [1, 2, 3, 4]}']),  # a frame key twice
        _entry("p5", [_GOOD, '{"0": [1, "x", 3, 4]}']),  # another shape, not a box
    ]
    path.write_text("{" + ", ".join(entries) + "}")
    heads, bad = read_official_heads_rows(path)
    assert list(heads) == ["p1", "p2", "p3", "p4", "p5"]
    found = {(b.product_id, b.video, b.frame_key) for b in bad}
    assert found == {
        ("p1", "videos/p1_1.mp4", "12"),
        ("p3", "videos/p3_0.mp4", "5"),
        ("p4", "videos/p4_0.mp4", "9"),
        ("p5", "videos/p5_1.mp4", "0"),
    }
    for b in bad:
        line = b.line()
        assert line.startswith(
            f"{path}: product '{b.product_id}', video '{b.video}', frame key '{b.frame_key}'"
        )
    identity = split_identity(path)
    # the good video of a product with a bad one still shows its boxes; the bad one raises
    entry = read_official_entry(path, "p1", "videos/p1_0.mp4", identity=identity, hold_out_bad=True)
    assert entry is not None and entry.tracklets[0]["7"] == [0.5, 10.0, 25.0, 40] and entry.tracklets[1] == {}
    assert read_official_entry(path, "p2", "videos/p2_0.mp4", identity=identity) is not None
    with pytest.raises(official.DataFormatError, match="x2 \\(1\\) < x1 \\(3\\)"):
        read_official_entry(path, "p1", "videos/p1_1.mp4", identity=identity, hold_out_bad=True)
    with pytest.raises(official.DataFormatError):  # a writer's read: the entry as a whole
        read_official_entry(path, "p1", "videos/p1_0.mp4", identity=identity)
    assert read_official_heads_rows(path) == (heads, bad)  # kept for this version of the file
