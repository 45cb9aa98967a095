"""The association check shows progress: scoring every (video, shop image) pair is the longest
part of ``mf clean`` on a large catalog, and it printed nothing (158 s without a line)."""

from __future__ import annotations

from types import SimpleNamespace

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
