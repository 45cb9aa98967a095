"""``mf verify`` on fuzzed input: JSON that ``json.loads`` refuses with ValueError (a number of more
than 4300 digits) or RecursionError (deep nesting) is one line naming the file (exit 2, a split
file) or a listed break (manifest, entries, held record), never a traceback; a path part longer
than 255 bytes is a break naming product and field; a tracklet file whose frame count or frame size
is not its video's is a break naming the file and the fix."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest

from movingfashion.archive.verify import HELD_TRACKLETS, verify_dataset
from tests.mf_cli import run_mf

BIG = "1" * 5000
DEEP = "[" * 100_000 + "]" * 100_000


def _copy(archive_dir: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    shutil.copytree(archive_dir, root)
    return root


@pytest.mark.parametrize("bad", [BIG, DEEP], ids=["5000 digits", "deep"])
def test_a_split_file_json_refuses_is_one_line_exit_2(archive_dir, tmp_path, capsys, bad):
    root = _copy(archive_dir, tmp_path)
    text = (root / "train.json").read_text()
    (root / "train.json").write_text(text.replace('"source": 1', f'"source": {bad}', 1))
    code, _, err = run_mf(["verify", "--dataset", str(root)], capsys)
    assert code == 2 and "Traceback" not in err, err
    assert "train.json" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("name", "text", "check", "words"),
    [
        ("manifest.json", '{"files": {}, "n": ' + BIG + "}", "manifest", "4300 digits"),
        ("manifest.json", '{"files": {}, "n": ' + DEEP + "}", "manifest", "nested too deeply"),
        ("entries.jsonl", DEEP + "\n", "entries", "nested too deeply"),
        (HELD_TRACKLETS, '{"videos/a.mp4": ' + BIG + "}", "tracklets", "4300 digits"),
        (HELD_TRACKLETS, DEEP, "tracklets", "nested too deeply"),
    ],
    ids=["manifest digits", "manifest deep", "entries deep", "held digits", "held deep"],
)
def test_json_that_does_not_load_is_a_break_naming_the_file(archive_dir, tmp_path, name, text, check, words):
    root = _copy(archive_dir, tmp_path)
    (root / name).write_text(text)
    breaks = verify_dataset(root).check(check).breaks
    assert [b.field for b in breaks] == [name]
    assert words in breaks[0].problem


def test_a_path_part_longer_than_255_bytes_is_a_break(archive_dir, tmp_path, capsys):
    root = _copy(archive_dir, tmp_path)
    train = json.loads((root / "train.json").read_text())
    train["r1"]["video_paths"][0] = "videos/" + "é" * 150 + ".mp4"  # 304 bytes, 154 characters
    (root / "train.json").write_text(json.dumps(train))
    code, out, err = run_mf(["verify", "--dataset", str(root), "--json"], capsys)
    assert code == 1 and "Traceback" not in err, err
    found = next(c for c in json.loads(out)["checks"] if c["check"] == "canonical_paths")
    (hit,) = found["offenders"]
    assert (hit["product"], hit["field"]) == ("r1", "video_paths[0]")
    assert "longer than 255" in hit["problem"] and "shorten" in hit["fix"]


def test_a_file_the_file_system_refuses_to_stat_is_a_break(archive_dir, tmp_path, monkeypatch):
    """Whatever path gets past the lexical check, a stat that fails (ENAMETOOLONG) is a break."""
    root = _copy(archive_dir, tmp_path)
    real = Path.is_file

    def is_file(self: Path) -> bool:
        if self.name == "r1_0.mp4":
            raise OSError(errno.ENAMETOOLONG, "File name too long")
        return real(self)

    monkeypatch.setattr(Path, "is_file", is_file)
    breaks = verify_dataset(root).check("files").breaks
    assert [(b.product, b.field) for b in breaks] == [("r1", "video_paths[0]")]
    assert "cannot be checked (File name too long)" in breaks[0].problem


def _tracklet_file(root: Path, **fields) -> str:
    """A clean tracklet file of r1's first video (12 frames of 128x96), ``fields`` changed."""
    doc = {"product_id": "r1", "video": "videos/r1_0.mp4", "frames": 12, "width": 128, "height": 96}
    doc |= {"tracklets": [{"video": "videos/r1_0.mp4", "boxes": {"0": [1, 2, 30, 40]}}], **fields}
    (root / "tracklets").mkdir(exist_ok=True)
    (root / "tracklets" / "r1_0.json").write_text(json.dumps(doc))
    return "tracklets/r1_0.json"


@pytest.mark.parametrize("deep", [False, True], ids=["plain", "deep"])
@pytest.mark.parametrize(
    "fields", [{"width": 1, "height": 1}, {"frames": 48}, {"height": 97}], ids=["1x1", "frames", "height"]
)
def test_a_tracklet_file_not_of_its_video_s_size_is_a_break(archive_dir, tmp_path, fields, deep):
    root = _copy(archive_dir, tmp_path)
    _tracklet_file(root)
    assert verify_dataset(root, deep=deep).ok  # the video's own frame count and size: clean
    rel = _tracklet_file(root, **fields)
    (hit,) = verify_dataset(root, deep=deep).check("tracklets").breaks
    assert hit.field == rel and "but the video has 12 frames of 128x96" in hit.problem
    assert "mf-tracklets build --force" in hit.fix and "frames, width and height" in hit.fix
