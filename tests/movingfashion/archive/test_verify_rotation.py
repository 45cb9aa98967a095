"""Boxes drawn on the coded picture of a video shown rotated (a phone's) are named as such by
``mf verify``, not sent to be clipped, which would make them wrong (audit_real R6)."""

from __future__ import annotations

import json
import subprocess

import imageio_ffmpeg

from movingfashion.archive.verify import verify_dataset
from tests.movingfashion.helpers import make_dataset


def test_boxes_of_the_unrotated_picture_are_named(tmp_path):
    root = make_dataset(tmp_path / "ds")
    video = root / "videos" / "101_0.mp4"  # 128x96 coded
    turned = tmp_path / "turned.mp4"
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-display_rotation", "90"]
    subprocess.run([*cmd, "-i", str(video), "-c", "copy", str(turned)], check=True, timeout=120)
    turned.replace(video)  # shown 96x128 now
    train = json.loads((root / "train.json").read_text())
    train["101"]["tracklets"] = [{str(f): [90, 10, 120, 50] for f in range(5, 10)}]  # fits 128x96 only
    (root / "train.json").write_text(json.dumps(train))
    report = verify_dataset(root)
    text = report.table() if hasattr(report, "table") else str(report)
    assert "before the video's rotation" in text and "96x128 frame" in text, text
    assert "turn the boxes to the displayed" in text
