"""What verify reads: the tracklets check reads five fields of each tracklet file (its video and
product, the video's frame count and size; every field with ``deep``) and words a broken file as
before; ``trust_manifest`` (publish's own audit) takes the manifest's SHA-256 of the files no newer
than it, while a plain audit hashes every file."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

import movingfashion.archive.verify as verify
from movingfashion.archive.describe import write_manifest
from movingfashion.archive.verify import verify_dataset
from schemas.dataset import VideoTracklets


def _copy(archive_dir: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    shutil.copytree(archive_dir, root)
    return root


def _tracklet_file(root: Path, **fields) -> None:
    doc = {"product_id": "r1", "video": "videos/r1_0.mp4", "frames": 12, "width": 128, "height": 96}
    doc |= {"tracklets": [{"video": "videos/r1_0.mp4", "boxes": {"0": [1, 2, 30, 40]}}], **fields}
    (root / "tracklets").mkdir(exist_ok=True)
    (root / "tracklets" / "r1_0.json").write_text(json.dumps(doc))


def _offenders(report, check: str) -> list[str]:
    return [b.problem for b in report.check(check).breaks]


def _fields(report, check: str) -> list[str]:
    return [b.field for b in report.check(check).breaks]


def test_tracklet_files_are_not_validated_whole(archive_dir, tmp_path, monkeypatch):
    root = _copy(archive_dir, tmp_path)
    _tracklet_file(root)

    def whole(*a, **k):
        raise AssertionError("the whole file was validated")

    monkeypatch.setattr(VideoTracklets, "model_validate_json", whole)
    report = verify_dataset(root)
    assert report.check("tracklets").status == "ok" and report.check("tracklets").checked >= 1


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"video": None}, "not a tracklet file (video: Input should be a valid string)"),
        ({"product_id": 7}, "not a tracklet file (product_id: Input should be a valid string)"),
        # read in both modes: the frame count and size are checked against the video's
        ({"frames": -1}, "not a tracklet file (frames: Input should be greater than or equal to 0)"),
        ({"tracklets": 5}, None),  # read only with --deep
    ],
)
def test_a_broken_tracklet_file_is_worded_as_the_full_validation_words_it(
    archive_dir, tmp_path, fields, problem
):
    root = _copy(archive_dir, tmp_path)
    _tracklet_file(root, **fields)
    quick, deep = (
        _offenders(verify_dataset(root), "tracklets"),
        _offenders(verify_dataset(root, deep=True), "tracklets"),
    )
    assert len(deep) == 1 and deep[0].startswith("not a tracklet file (")
    assert quick == ([problem] if problem else []) and (problem is None or deep == quick)


def test_trust_manifest_hashes_only_files_newer_than_the_manifest(archive_dir, tmp_path, monkeypatch):
    root = _copy(archive_dir, tmp_path)
    write_manifest(root)
    hashed: list[str] = []
    orig = verify.sha256_file
    monkeypatch.setattr(verify, "sha256_file", lambda p: hashed.append(Path(p).name) or orig(p))
    assert verify_dataset(root, trust_manifest=True).ok and hashed == []
    # changed after the manifest, mtime kept: only the full audit sees it
    video = root / "videos" / "r1_0.mp4"
    st = video.stat()
    video.write_bytes(video.read_bytes() + b"\0")
    os.utime(video, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert verify_dataset(root, trust_manifest=True).check("manifest").status == "ok"
    assert _fields(verify_dataset(root), "manifest") == ["videos/r1_0.mp4"]
    # changed with a new mtime: publish's audit hashes it again and sees it
    os.utime(video, ns=(st.st_atime_ns, (root / "manifest.json").stat().st_mtime_ns + 10**9))
    hashed.clear()
    report = verify_dataset(root, trust_manifest=True)
    assert hashed == ["r1_0.mp4"] and _fields(report, "manifest") == ["videos/r1_0.mp4"]
