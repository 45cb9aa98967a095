"""The run loop's discovery thread and progress: totals known as soon as the candidate count is."""

from __future__ import annotations

import threading

import pytest

from collectors.core import Candidate, DiscoveryProblem, Outcome, Summary, noting_problems
from collectors.runner import Discovery, DryRunSummary, Progress, note_problem
from schemas.errors import DataFormatError, FetchError


def drain(d: Discovery) -> list[str]:
    out = []
    while (c := d.next(timeout=60)) is not Discovery.END:
        out.append(c.raw_id)
    return out


def test_a_list_has_its_total_at_once_and_the_limit_applies():
    d = Discovery([Candidate(str(i)) for i in range(5)], limit=3)
    assert d.total == 3 and drain(d) == ["0", "1", "2"]


def test_a_crawl_gets_its_total_when_discovery_ends():
    gate = threading.Event()

    def crawl():
        yield Candidate("a")
        gate.wait(60)  # set once the test saw no total yet
        yield Candidate("b")

    d = Discovery(crawl(), limit=None)
    assert d.next(timeout=60).raw_id == "a" and d.total is None
    gate.set()
    assert drain(d) == ["b"] and d.total == 2


def test_a_discovery_error_reaches_the_run_loop():
    def crawl():
        yield Candidate("a")
        raise DataFormatError("bad line", where="list.txt")

    d = Discovery(crawl(), limit=None)
    with pytest.raises(DataFormatError, match="list.txt"):
        drain(d)


def test_a_remote_fault_ending_discovery_is_a_problem_not_the_end_of_the_run():
    """A page the site does not answer ends discovery with a problem naming it; the candidates
    found before are kept, the total counts candidates only."""

    def crawl():
        yield Candidate("a")
        raise FetchError("HTTP 503", where="http://shop/list?page=2", reason="http_503_exhausted")

    d = Discovery(crawl(), limit=None)
    found = []
    while (c := d.next(timeout=60)) is not Discovery.END:
        found.append(c)
    assert [c.raw_id for c in found] == ["a", None] and d.total == 1
    assert isinstance(found[1], DiscoveryProblem) and found[1].url == "http://shop/list?page=2"
    s = Summary("netaporter")
    note_problem(s, found[1])
    assert s.failed == 1 and s.reasons == {"http_503_exhausted": 1}
    assert s.problems == [
        {
            "source_id": "http://shop/list?page=2",
            "status": "failed",
            "reason": "http_503_exhausted",
            "stage": "discovery",
            "path": None,
            "url": "http://shop/list?page=2",
            "kind": None,
            "message": "HTTP 503",
        }
    ]
    assert "http://shop/list?page=2  http_503_exhausted" in s.human()


def test_problems_do_not_count_towards_the_limit_and_other_pages_go_on():
    def child(n):
        if n == 1:
            raise FetchError("HTTP 404", where="sitemap-1.xml", reason="http_404")
        yield Candidate(f"p{n}")

    def index():
        for n in range(4):
            yield from noting_problems(child(n))

    d = Discovery(index(), limit=2)
    found = []
    while (c := d.next(timeout=60)) is not Discovery.END:
        found.append(c.raw_id or c.url)
    assert found == ["p0", "sitemap-1.xml", "p2"] and d.total == 2


def test_an_interruption_still_stops_discovery():
    def crawl():
        yield from noting_problems(iter([Candidate("a")]))
        raise FetchError("collection interrupted", where="x", reason="interrupted", retryable=True)

    d = Discovery(crawl(), limit=None)
    assert drain(d) == ["a"]


def test_a_dry_run_lists_what_it_would_skip_apart():
    s = DryRunSummary("tiktok", dry_run=True, skipped=1)
    s.items.append({"source_id": "7002", "url": "https://www.tiktok.com/@u/video/7002"})
    s.would_skip.append({"source_id": "7001", "url": None, "status": "downloaded", "reason": None})
    s.would_skip.append({"source_id": "7003", "url": None, "status": "rejected", "reason": "not_a_video"})
    assert s.human().splitlines() == [
        "dry run: would collect 1 items, skip 2 (collected or rejected for good)",
        "  7002  https://www.tiktok.com/@u/video/7002",
        "would skip:",
        "  7001  downloaded",
        "  7003  rejected (not_a_video)",
    ]


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


def test_an_item_whose_worker_died_is_failed_as_worker_lost_not_a_bare_internal_error():
    from collectors.runner import lost_reason
    from movingfashion.executors import WorkerLostError

    assert lost_reason(WorkerLostError("worker died: ActorDiedError")) == "worker_lost"
    assert lost_reason(KeyError("payload")) == "internal_error:KeyError"
