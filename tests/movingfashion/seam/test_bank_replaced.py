"""A dataset rewritten under a cached feature bank (``mf world export-gt`` again, a tracklet file
rebuilt, a video re-encoded) got a new bank beside the old one, silently: the stale bank stayed in
``features/`` for ever. Now one line says which files changed and the new bank replaces it; a
rerun on the unchanged dataset still loads the cached bank."""

from __future__ import annotations

import logging
import os
import shutil

from movingfashion.seam.features import build_bank
from tests.movingfashion.seam.test_features import _tiny_encoder


def test_a_bank_the_dataset_changed_under_is_replaced_saying_why(tiny_dataset, tmp_path, caplog):
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    cache = tmp_path / "features"

    def build():
        return build_bank(root, "test", _tiny_encoder(), crop_size=32, pool=4, cache_dir=cache)

    def said():
        return [r.getMessage() for r in caplog.records if r.name == "movingfashion.seam.features"]

    with caplog.at_level(logging.WARNING, logger="movingfashion.seam.features"):
        first = build()
        (old,) = cache.glob("test-*.pt")
        stamp = old.stat().st_mtime_ns
        assert build().key == first.key and old.stat().st_mtime_ns == stamp and said() == []  # loaded
        video = root / first.videos[0]  # a video of the test split
        st = video.stat()
        os.utime(video, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # re-encoded, same name
        again = build()
    assert again.key != first.key
    assert sorted(p.name for p in cache.iterdir()) == [f"test-{again.key}.json", f"test-{again.key}.pt"]
    (line,) = said()
    assert line.startswith(f"{old}: 1 of the files it was built from changed"), line
    assert f"videos/{video.name}" in line and "building the test feature bank again" in line, line
