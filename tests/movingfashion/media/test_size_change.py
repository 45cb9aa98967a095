"""A stream whose frame size changes mid-stream (two H.264 encodes of another size, one MPEG-TS
after the other, as a broadcast switching resolution gives): every frame is converted at its own
size, a window alone too, and the live tracklet crops reuse their cut's windows only when every
frame decoded at the first one's size (the size ``crop_boxes`` are computed at, as the crop cache
and the training copy compute them)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import av
import numpy as np
import pytest

import movingfashion.media.readers as readers
from movingfashion.cutting import boxes_in_crops
from movingfashion.dataset import MovingFashionDataset
from movingfashion.media.readers import open_reader
from tests.movingfashion.helpers import write_image

#: (width, height) and frames of each part
PARTS = (((64, 48), 6), ((96, 64), 6))
#: a box near the small frame's right and bottom edges: with context its crop window is clipped
#: there in a 64x48 frame, not in a 96x64 one
BOX = [40, 28, 62, 46]


def size_changing_video(path: Path) -> Path:
    """The parts of :data:`PARTS` encoded one by one and joined (timestamps running on)."""
    pts, chunks = 0, []
    for (w, h), n in PARTS:
        buf = io.BytesIO()
        with av.open(buf, "w", format="mpegts") as out:
            s = out.add_stream("libx264", rate=25)
            s.width, s.height, s.pix_fmt = w, h, "yuv420p"
            s.codec_context.options = {"bf": "0", "g": "4"}
            for _ in range(n):
                img = np.full((h, w, 3), (pts * 20) % 256, np.uint8)
                img[: h // 2, : w // 2] = (250, 20, 20)
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                frame.pts, pts = pts, pts + 1
                out.mux(s.encode(frame))
            out.mux(s.encode())
        chunks.append(buf.getvalue())
        pts += 1  # the muxer shifts each part's start by a frame: keep the times increasing
    path.write_bytes(b"".join(chunks))
    return path


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    return size_changing_video(tmp_path_factory.mktemp("sizes") / "v.mp4")


def test_each_frame_and_each_window_is_converted_at_its_own_size(video, monkeypatch):
    monkeypatch.setattr(readers, "WINDOW_MIN_SAVED", 0)  # these small frames' windows too
    seen: dict[int, tuple[int, int]] = {}

    def window(i: int, h: int, w: int) -> tuple[int, int, int, int]:
        seen[i] = (h, w)
        return (2, 3, w - 2, h - 1)  # grown to the whole frame: one converter per frame size

    idx = list(range(sum(n for _, n in PARTS)))
    whole = open_reader(video, backend="pyav").get_list(idx)
    assert [f.shape[:2] for f in whole] == [(h, w) for (w, h), n in PARTS for _ in range(n)]
    reader = open_reader(video, backend="pyav")
    cut = reader.get_list(idx, window=window)
    assert sorted(reader._windows) == [(64, 48), (96, 64)]  # each size's windows converted alone
    assert set(seen.values()) == {(48, 64), (64, 96)}
    for i, (c, f) in enumerate(zip(cut, whole, strict=True)):
        h, w = f.shape[:2]
        assert np.array_equal(c, f[3 : h - 1, 2 : w - 2]), i


def test_crop_boxes_of_a_clip_that_changes_size_are_those_of_its_first_size(video, tmp_path):
    """``_cut``'s guard: windows computed at two frame sizes are not reused, so ``crop_boxes``
    are the ones the crop cache and the training copy give (computed at the first frame's size)."""
    root = tmp_path / "ds"
    (root / "videos").mkdir(parents=True)
    (root / "videos" / "p_0.mp4").write_bytes(video.read_bytes())
    write_image(root / "imgs" / "p.jpg")
    n = sum(n for _, n in PARTS)
    entry = {"video_paths": ["videos/p_0.mp4"], "img_path": "imgs/p.jpg", "source": 1}
    entry["tracklets"] = [{str(f): BOX for f in range(n)}]
    (root / "train.json").write_text(json.dumps({"p": entry}))
    ds = MovingFashionDataset(
        root, "train", crop="tracklet", crop_size=(16, 16), context=0.5, frames=n, seed=0, train=False
    )
    item = ds[0]
    frames = item["frame_indices"].tolist()
    assert frames[0] < PARTS[0][1] <= frames[-1]  # the clip holds frames of both sizes
    boxes = np.array([BOX] * len(frames), np.float32)
    first = boxes_in_crops(ds, boxes, PARTS[0][0][::-1])
    assert not np.array_equal(first, boxes_in_crops(ds, boxes, PARTS[1][0][::-1]))  # sizes matter here
    assert np.array_equal(item["crop_boxes"].numpy(), first)
