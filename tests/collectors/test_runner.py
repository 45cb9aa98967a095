"""The run loop's discovery thread and progress: totals known as soon as the candidate count is."""

from __future__ import annotations

import threading

import pytest

from collectors.core import Candidate, Outcome, Summary
from collectors.runner import Discovery, Progress
from schemas.errors import DataFormatError


def drain(d: Discovery) -> list[str]:
    out = []
    while (c := d.next(timeout=5)) is not Discovery.END:
        out.append(c.raw_id)
    return out


def test_a_list_has_its_total_at_once_and_the_limit_applies():
    d = Discovery([Candidate(str(i)) for i in range(5)], limit=3)
    assert d.total == 3 and drain(d) == ["0", "1", "2"]


def test_a_crawl_gets_its_total_when_discovery_ends():
    gate = threading.Event()

    def crawl():
        yield Candidate("a")
        gate.wait(5)
        yield Candidate("b")

    d = Discovery(crawl(), limit=None)
    assert d.next(timeout=5).raw_id == "a" and d.total is None
    gate.set()
    assert drain(d) == ["b"] and d.total == 2


def test_a_discovery_error_reaches_the_run_loop():
    def crawl():
        yield Candidate("a")
        raise DataFormatError("bad line", where="list.txt")

    d = Discovery(crawl(), limit=None)
    with pytest.raises(DataFormatError, match="list.txt"):
        drain(d)


def test_bar_shows_the_total_and_counts_rejected_apart_from_failed(capsys):
    bar = Progress("urls", show=True)
    bar.total(3)
    s = Summary("urls")
    for out in (
        Outcome("a", "ok"),
        Outcome("b", "rejected", "not_a_video"),
        Outcome("c", "failed", "timeout"),
    ):
        s.add(out)
        bar.update(s)
    bar.close()
    last = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert "3/3" in last and "ok=1, failed=1, rejected=1, skipped=0" in last, last
