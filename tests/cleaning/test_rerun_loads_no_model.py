"""A `mf clean` rerun whose every score and pick is cached loads no model: the detector and the
matcher are built on a first score only (their tag is read from the result cache)."""

from __future__ import annotations

from pathlib import Path

import cleaning.associations as associations
from cleaning.pipeline import clean
from schemas.catalog import Catalog


def _rows(cat: Catalog) -> list[tuple[str, str, str, str | None, str | None]]:
    return sorted(
        (str(r.item.source), r.item.source_id, str(r.status), r.reason, r.duplicate_of) for r in cat.items()
    )


def test_a_fully_cached_rerun_builds_no_scorer_and_decides_the_same(catalog_copy, cleaned_world, monkeypatch):
    built: list[tuple] = []
    real = associations.matchrcnn_scorer

    def counting(*args, **kwargs):
        built.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(associations, "matchrcnn_scorer", counting)
    with Catalog(catalog_copy) as cat:
        before = _rows(cat)
        report = clean(cat, cleaned_world.root)
        after = _rows(cat)
    assert built == []  # no detector, no matcher: every result came from the cache
    assert after == before
    assert report["association_pairs"] == report["association_cached"] > 0
    first = cleaned_world.report
    assert report["association_recomputed"] == 0 and report["failed"] == []
    same = (
        "items",
        "status",
        "steps",
        "taxonomy",
        "association_flagged",
        "duplicate_videos",
        "split_screen_videos",
    )
    assert {k: report[k] for k in same} == {k: first[k] for k in same}


class _Tagged:
    def __init__(self, tag: str) -> None:
        self.tag = tag

    def score(self, video_path, shop_path, crop=None, category=None):
        return 0.5


def _lazy_scorers(tmp_path, monkeypatch):
    """(matcher file, the weights each scorer built was read from, a function giving a new lazy
    scorer's tag): weight files m1/d1, a stand-in scorer tagged ``tag-<matcher bytes>``."""
    from cleaning.config import CleaningConfig
    from cleaning.steps.cache import ResultCache

    matcher, detector = tmp_path / "m.pt", tmp_path / "d.pt"
    matcher.write_bytes(b"m1")
    detector.write_bytes(b"d1")
    built: list[str] = []

    def fake(m, d):
        built.append(Path(m).read_text())
        return _Tagged(f"tag-{built[-1]}")

    monkeypatch.setattr(associations, "matchrcnn_scorer", fake)
    cache = ResultCache(tmp_path / "c.json", CleaningConfig())
    return matcher, built, lambda: associations.LazyMatchRCNNScorer(matcher, detector, cache).tag


def test_the_remembered_tag_is_read_again_only_for_the_same_weight_files(tmp_path, monkeypatch):
    matcher, built, tag = _lazy_scorers(tmp_path, monkeypatch)
    assert tag() == "tag-m1"
    assert tag() == "tag-m1"
    assert built == ["m1"]  # the second read it from the cache
    matcher.write_bytes(b"m22")  # other weights under the same name: built again
    assert tag() == "tag-m22"
    assert built == ["m1", "m22"]


def test_weights_rewritten_at_the_same_size_and_time_are_other_weights(tmp_path, monkeypatch):
    """A same-size rewrite within one tick of the file system's clock (mtime put back here) is
    other weights: the tag is keyed by the files' bytes, not their size and modification time."""
    import os

    matcher, built, tag = _lazy_scorers(tmp_path, monkeypatch)
    assert tag() == "tag-m1"
    st = matcher.stat()
    matcher.write_bytes(b"m2")  # same size
    os.utime(matcher, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the same modification time
    assert tag() == "tag-m2"
    assert built == ["m1", "m2"]


def test_threads_scoring_at_once_build_one_scorer(monkeypatch):
    """The local executor's threads share the lazy scorer: the first scores, arriving together
    (its tag read from the cache, so nothing built it before), build one detector and matcher."""
    import threading
    import time

    built: list[int] = []

    class Slow:
        tag = "t"

        def score(self, video_path: str, shop_path: str) -> float:
            return 0.5

    def slow_build(*args):
        built.append(1)
        time.sleep(0.2)  # loading the models takes a while: the other threads arrive meanwhile
        return Slow()

    monkeypatch.setattr(associations, "matchrcnn_scorer", slow_build)
    lazy = associations.LazyMatchRCNNScorer()
    start = threading.Barrier(4)
    scores: list[float] = []

    def work() -> None:
        start.wait()
        scores.append(lazy.score("v.mp4", "s.jpg"))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert scores == [0.5] * 4
    assert built == [1]
