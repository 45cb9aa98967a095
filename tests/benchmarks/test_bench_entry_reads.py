"""``benchmarks/bench_entry_reads.py``: every entry read alone, against the old search from the
file's start in the same run, and the ratio printed."""

from __future__ import annotations

import re

from schemas import official

from .conftest import load_script


def test_it_reads_every_entry_both_ways_and_prints_the_ratio(capsys, monkeypatch):
    searched: list[str] = []
    real = official._entry_alone
    monkeypatch.setattr(official, "_entry_alone", lambda p, pid, v: searched.append(pid) or real(p, pid, v))
    assert load_script("bench_entry_reads").main(["--videos", "12", "--boxes", "3", "--sample", "4"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"ratio \d+\.\dx CPU", out), out
    assert "timed on 4" in out and len(searched) == 4  # the baseline only: the new way never searches
