"""DeepFashion2 -> YOLO export (the converter of detector training and ``mf df2 to-yolo``)."""

from __future__ import annotations

import pytest
import yaml

from movingfashion.deepfashion2 import df2_to_yolo, yolo_line
from schemas.errors import DataFormatError
from tests.movingfashion.helpers import make_df2_black


def test_df2_to_yolo(tmp_path):
    make_df2_black(tmp_path / "df2")
    data = df2_to_yolo(tmp_path / "df2", tmp_path / "yolo")
    cfg = yaml.safe_load(data.read_text())
    assert cfg["names"][0] == "short_sleeved_shirt" and cfg["names"][12] == "sling_dress"
    assert cfg["val"] == "images/val"
    labels = (tmp_path / "yolo" / "labels" / "train" / "000001.txt").read_text().split("\n")
    cls, cx, cy, w, h = labels[0].split()
    assert cls == "7" and float(cx) == pytest.approx(70 / 200) and float(cy) == pytest.approx(0.5)
    assert float(w) == pytest.approx(0.5) and float(h) == pytest.approx(0.8)
    assert (tmp_path / "yolo" / "images" / "val" / "000002.jpg").is_file()
    assert yolo_line(3, [5, 5, 5.5, 9], 10, 10) is None  # degenerate box dropped


def test_df2_errors(tmp_path):
    with pytest.raises(DataFormatError, match="no DeepFashion2 split"):
        df2_to_yolo(tmp_path, tmp_path / "o")
    make_df2_black(tmp_path / "df2", 1)
    (tmp_path / "df2" / "train" / "annos" / "000001.json").write_text('{"item1": {"category_id": 99}}')
    with pytest.raises(DataFormatError, match=r"000001\.json.*category_id"):
        df2_to_yolo(tmp_path / "df2", tmp_path / "o")
