"""What a replaced feature bank leaves in ``features/``. The training trunk caches made from it
(``trunk-*.pt``) stayed behind; a bank cached by an older toolkit (a lower BANK_VERSION) was
never recognised as stale and stayed for ever. Now both go once the new bank is saved, with one
line saying why; files of toolkits that recorded no slot are named with the command that
removes them, and kept (which dataset they came from is unknown)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil

import torch

from movingfashion.seam import bank_cache, features
from movingfashion.seam.features import build_bank
from movingfashion.seam.train import trunk_features
from tests.movingfashion.seam.test_query_counts import _model_with_encoder


def _said(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "movingfashion.seam.features"]


def test_a_replaced_bank_takes_its_trunk_caches_and_older_versions_go_too(
    tiny_dataset, tmp_path, caplog, monkeypatch
):
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    cache = tmp_path / "features"
    model = _model_with_encoder()

    def build():
        return build_bank(root, "test", model.encoder, crop_size=32, pool=4, cache_dir=cache)

    with caplog.at_level(logging.WARNING, logger="movingfashion.seam.features"):
        first = build()
        trunk_features(model, first, torch.device("cpu"), cache_dir=cache)
        (trunk,) = cache.glob("trunk-*.pt")
        assert trunk.name.startswith(f"trunk-{first.key}-")
        other = cache / f"trunk-{'0' * 16}-{'1' * 16}.pt"  # another bank's: stays
        other.write_bytes(b"x")
        video = root / first.videos[0]
        st = video.stat()
        os.utime(video, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # re-encoded, same name
        second = build()
        assert not trunk.exists() and other.exists()
        assert sorted(p.name for p in cache.glob("test-*")) == [
            f"test-{second.key}.json",
            f"test-{second.key}.pt",
        ]
        # the summary as BANK_VERSION 8 wrote it before: its slot made with the version, no version
        summary = cache / f"test-{second.key}.json"
        record = json.loads(summary.read_text())
        record.pop("version")
        text = f"v8|{root.resolve()}|test|encoder|q1|iou0|qr{features.QUERY_RECORD_VERSION}|4|32"
        record["slot"] = hashlib.sha256(text.encode()).hexdigest()[:16]
        summary.write_text(json.dumps(record))
        caplog.clear()
        for module in (bank_cache, features):
            monkeypatch.setattr(module, "BANK_VERSION", 9)
        third = build()
    assert third.key != second.key
    assert sorted(p.name for p in cache.glob("test-*")) == [f"test-{third.key}.json", f"test-{third.key}.pt"]
    (line,) = _said(caplog)
    assert line == (
        f"{cache / f'test-{second.key}.pt'}: cached by an older toolkit (bank version 8, now 9); "
        "building the test feature bank again (it replaces that file)"
    )


def test_files_of_toolkits_that_recorded_no_slot_are_named_and_kept(tiny_dataset, tmp_path, caplog):
    cache = tmp_path / "features"
    cache.mkdir()
    old = [
        cache / "test-aaaaaaaaaaaaaaaa.pt",
        cache / "test-aaaaaaaaaaaaaaaa.json",
        cache / f"trunk-{'b' * 16}.pt",
    ]
    old[0].write_bytes(b"x" * 1000)
    old[1].write_text(json.dumps({"split": "test", "videos": 2}))  # a summary of BANK_VERSION 7
    old[2].write_bytes(b"x")
    with caplog.at_level(logging.WARNING, logger="movingfashion.seam.features"):
        build_bank(tiny_dataset, "test", _model_with_encoder().encoder, crop_size=32, pool=4, cache_dir=cache)
    assert all(p.exists() for p in old)
    (line,) = _said(caplog)
    assert line.startswith(f"3 cache files (0.0 MB) in {cache} were written by an older toolkit"), line
    assert line.endswith(
        f"(remove them if no older toolkit shares this folder: rm {old[0]} {old[1]} {old[2]})"
    )


def test_a_project_copied_whole_keeps_its_banks_slots(tiny_dataset, tmp_path, caplog):
    """The slot names the dataset as seen from the cache folder: a project (dataset and cache)
    copied elsewhere writes the same summary bytes, and a change after the copy still finds the
    copied bank stale (an absolute path in the slot broke both)."""
    model = _model_with_encoder()
    a = tmp_path / "a"
    shutil.copytree(tiny_dataset, a / "ds")
    first = build_bank(a / "ds", "test", model.encoder, crop_size=32, pool=4, cache_dir=a / "features")
    b = tmp_path / "elsewhere" / "b"
    shutil.copytree(a, b)  # copy2: the same mtimes, so the same key
    summary = f"features/test-{first.key}.json"
    (b / summary).unlink()
    (b / f"features/test-{first.key}.pt").unlink()
    again = build_bank(b / "ds", "test", model.encoder, crop_size=32, pool=4, cache_dir=b / "features")
    assert again.key == first.key
    assert (b / summary).read_bytes() == (a / summary).read_bytes()
    video = b / "ds" / again.videos[0]
    st = video.stat()
    os.utime(video, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with caplog.at_level(logging.WARNING, logger="movingfashion.seam.features"):
        third = build_bank(b / "ds", "test", model.encoder, crop_size=32, pool=4, cache_dir=b / "features")
    assert third.key != first.key
    assert [line.split(":")[0] for line in _said(caplog)] == [str(b / f"features/test-{first.key}.pt")]
