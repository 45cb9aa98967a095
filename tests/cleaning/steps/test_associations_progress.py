"""The association check shows progress: scoring every (video, shop image) pair is the longest
part of ``mf clean`` on a large catalog, and it printed nothing (158 s without a line)."""

from __future__ import annotations

import time
from types import SimpleNamespace

from cleaning.steps.associations import _PairProgress


def test_the_pair_scoring_prints_progress_lines_and_is_quiet_when_asked(monkeypatch, capsys):
    monkeypatch.setenv("MF_PROGRESS_EVERY_S", "0.001")
    shown = _PairProgress(SimpleNamespace(executor=SimpleNamespace(show_progress=True)))
    shown(1, 4)
    time.sleep(0.01)
    shown(4, 4)
    shown.close()
    err = capsys.readouterr().err
    assert "associations: 1/4" in err and "associations: 4/4 (100%)" in err
    quiet = _PairProgress(SimpleNamespace(executor=SimpleNamespace(show_progress=False)))
    quiet(1, 2)
    quiet(2, 2)
    quiet.close()
    assert capsys.readouterr().err == ""
