"""The association check shows progress: scoring every (video, shop image) pair is the longest
part of ``mf clean`` on a large catalog, and it printed nothing (158 s without a line)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from cleaning.steps.associations import _PairProgress
from tests.polling import wait_for


def test_the_pair_scoring_prints_progress_lines_and_is_quiet_when_asked(monkeypatch, capsys):
    monkeypatch.setenv("MF_PROGRESS_EVERY_S", "0.001")
    shown = _PairProgress(SimpleNamespace(executor=SimpleNamespace(show_progress=True)))
    shown(1, 4)
    err = ""

    def said_1_of_4() -> bool:  # the timer's line (a fixed 10 ms was not always enough for it)
        nonlocal err
        err += capsys.readouterr().err
        return "associations: 1/4" in err

    wait_for(said_1_of_4, "a progress line at 1 of 4 pairs")
    shown(4, 4)
    shown.close()
    err += capsys.readouterr().err
    assert "associations: 1/4" in err and "associations: 4/4 (100%)" in err
    quiet = _PairProgress(SimpleNamespace(executor=SimpleNamespace(show_progress=False)))
    quiet(1, 2)
    quiet(2, 2)
    quiet.close()
    assert capsys.readouterr().err == ""


def test_the_progress_counts_pairs_as_the_report_does(tmp_path):
    """Each pair is scored twice when its item has a class (on every detection, and on its
    class for the contest); the bar counted the scores, so `mf clean` showed 46/46 beside
    `association_pairs: 23`. It counts a pair once its last score is in."""
    from cleaning.associations import run_association_check
    from schemas.catalog import Catalog
    from tests.cleaning.association_items import ScoresByVideo, add_item

    root = tmp_path / "data"
    cat = Catalog(tmp_path / "catalog.sqlite")
    shop = np.full((80, 64, 3), 200, np.uint8)
    for i, sid in enumerate(("a", "b", "c")):
        add_item(cat, root, "netaporter", sid, {"shop.jpg": shop + i * 20})
    cat.set_item_state("netaporter", "a", df2_class=3)
    seen: list[tuple[int, int]] = []
    res = run_association_check(
        cat, root, ScoresByVideo(dict.fromkeys("abc", 0.9)), 0.7, progress=lambda d, t: seen.append((d, t))
    )
    assert res.pairs == 3
    assert seen and {t for _, t in seen} == {3} and seen[-1] == (3, 3), seen
