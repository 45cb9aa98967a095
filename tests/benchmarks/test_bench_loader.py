"""``benchmarks/bench_loader.py``: its defaults run (a quick 20-product world), the official
baseline decodes on one FFmpeg thread like every other row, ``--json`` prints one JSON document
on stdout, and a wrong ``--dataset`` is one line and exit status 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from .conftest import load_script


@pytest.fixture(scope="module")
def bl():
    return load_script("bench_loader")


def test_without_a_dataset_it_builds_a_quick_world_generate_world_accepts(
    bl, monkeypatch, tmp_path: Path, no_thread_change
):
    import movingfashion.world as mw
    import movingfashion.world.gt_dataset as gt

    seen = {}

    def generate_world(world, products, seed, quick=False, **kw):
        seen.update(products=products, quick=quick)

    monkeypatch.setattr(mw, "generate_world", generate_world)
    monkeypatch.setattr(gt, "export_gt_dataset", lambda world, ds: None)
    monkeypatch.setattr(bl, "run", lambda root, args, work, source: {})
    monkeypatch.setattr(sys, "argv", ["bench_loader.py", "--work", str(tmp_path)])
    bl.main()
    assert seen == {"products": 20, "quick": True}  # a world needs at least 20 products


class FakeCapture:
    opened: list = []

    def __init__(self, *args):
        FakeCapture.opened.append(args)

    def set(self, prop, value):
        return True

    def read(self):
        return True, np.zeros((48, 64, 3), np.uint8)

    def release(self):
        pass


def test_the_official_way_decodes_on_one_ffmpeg_thread_unless_asked(bl, monkeypatch, tmp_path: Path):
    import cv2

    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture)
    monkeypatch.setattr(bl, "read_image", lambda path, size: None)
    FakeCapture.opened = []
    bl.official_clip(tmp_path, "v.mp4", [0, 3], [[0, 0, 32, 32], [1, 1, 20, 30]], tmp_path / "s.jpg")
    (args,) = FakeCapture.opened
    assert args == (str(tmp_path / "v.mp4"), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
    FakeCapture.opened = []
    bl.official_clip(tmp_path, "v.mp4", [0], [[0, 0, 32, 32]], tmp_path / "s.jpg", threads=None)
    assert FakeCapture.opened == [(str(tmp_path / "v.mp4"),)]


def test_opencv_pins_the_thread_count_of_a_real_video(bl, tmp_path: Path):
    from movingfashion.media.ffmpeg import encode_frames
    from movingfashion.media.images import write_image

    frames = np.random.default_rng(0).integers(0, 255, (6, 48, 64, 3), dtype=np.uint8)
    encode_frames(frames, tmp_path / "v.mp4", fps=25)
    write_image(tmp_path / "s.jpg", frames[0])
    bl.check_official_threads(tmp_path / "v.mp4", 1)  # raises when OpenCV ignores the option
    bl.official_clip(tmp_path, "v.mp4", [1, 4], [[0, 0, 32, 32], [8, 8, 40, 40]], tmp_path / "s.jpg")


def test_json_leaves_stdout_one_json_document(bl, monkeypatch, capsys, tmp_path: Path, no_thread_change):
    (tmp_path / "train.json").write_text("{}")

    def run(root, args, work, source):
        print("== bikes: 12 clips ...")  # the tables run() prints on the way
        return {"source": source, "families": {}}

    monkeypatch.setattr(bl, "run", run)
    monkeypatch.setattr(sys, "argv", ["bench_loader.py", "--dataset", str(tmp_path), "--json"])
    bl.main()
    out = capsys.readouterr()
    assert json.loads(out.out) == {"source": "given folder", "families": {}}
    assert "== bikes" in out.err


def test_a_wrong_dataset_is_one_line_and_exit_status_2(monkeypatch, capsys, tmp_path: Path):
    import runpy

    from .conftest import BENCH

    monkeypatch.syspath_prepend(str(BENCH))  # as running the script puts its folder first
    missing = tmp_path / "no-such-dataset"
    for script in ("bench_loader.py", "bench_copy_formats.py"):
        monkeypatch.setattr(sys, "argv", [script, "--dataset", str(missing)])
        with pytest.raises(SystemExit) as exc:
            runpy.run_path(str(BENCH / script), run_name="__main__")
        assert exc.value.code == 2, script
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        assert str(missing) in err and "--dataset" in err and "real_clips.py" in err
