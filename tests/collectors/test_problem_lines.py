"""An item's problem names the page or file at fault: its kind, URL and what happened, in the
text summary and in ``--json``; the files the item did get are counted."""

from __future__ import annotations

import json

from collectors.core import Outcome, Summary
from tests.collectors.fakesite import FakeSite, Route, jpeg_bytes, mp4_bytes
from tests.mf_cli import run_command


def _nap(site: FakeSite, tmp_path, pid: str) -> None:
    page = {"@context": "https://schema.org", "@type": "Product", "name": "Silk dress", "sku": pid}
    site.routes[f"/en-us/shop/product/{pid}"] = Route(
        f"<html><head><script type='application/ld+json'>{json.dumps(page)}</script></head></html>".encode(),
        content_type="text/html",
    )
    site.routes[f"/videos/productPage/{pid}_detail.mp4"] = Route(
        mp4_bytes(tmp_path, 1), content_type="video/mp4"
    )
    for n, view in enumerate(("in", "bk", "cu")):  # no "fr": the shop view answers 404
        site.routes[f"/images/products/{pid}/{pid}_{view}_l.jpg"] = Route(
            jpeg_bytes(n), content_type="image/jpeg"
        )


def test_a_file_at_fault_is_named_in_text_and_json(tmp_path, capsys):
    from collectors.cli import collect as mf_collect

    with FakeSite() as site:
        _nap(site, tmp_path, "1234567")
        site.routes["/en-us/shop/product/7654321"] = Route(status=503, content_type="text/plain")
        args = ["netaporter", "1234567", "7654321", "--root", str(tmp_path / "d"), "--base-url", site.base]
        args += ["--config", str(_fast(tmp_path))]
        code, out, err = run_command(mf_collect, args, capsys)
        shop_url = site.url("/images/products/1234567/1234567_fr_l.jpg")
        page_url = site.url("/en-us/shop/product/7654321")
        assert code == 1, err
        assert f"rejected 1234567  http_404  shop {shop_url}: HTTP 404" in out
        assert f"failed   7654321  http_503_exhausted  page {page_url}: " in out
        assert "4 files" in out  # the video and the three views 1234567 did get
        code, out, _ = run_command(mf_collect, [*args, "--json", "--retry-rejected"], capsys)
    problems = {p["source_id"]: p for p in json.loads(out)["problems"]}
    assert problems["1234567"]["url"] == shop_url and problems["1234567"]["kind"] == "shop"
    assert problems["1234567"]["message"].startswith("HTTP 404")
    assert problems["7654321"]["url"] == page_url and problems["7654321"]["kind"] == "page"


def test_a_sites_reason_phrase_reaches_the_terminal_escaped(tmp_path, capsys):
    """The finding: a server's reason phrase ("HTTP 503 <reason>") was printed as it came, so a
    hostile site's control characters (an OSC 52 clipboard write, a window title, a carriage
    return hiding the line) went to the user's terminal in the text summary. They are shown as
    escapes; the JSON document carries the text, escaped as JSON escapes it."""
    from collectors.cli import collect as mf_collect

    evil = "Busy\x1b]52;c;cHduZWQ=\x07\rall fine"
    with FakeSite() as site:
        site.routes["/en-us/shop/product/7654321"] = Route(status=503, content_type="text/plain", reason=evil)
        args = ["netaporter", "7654321", "--root", str(tmp_path / "d"), "--base-url", site.base]
        args += ["--config", str(_fast(tmp_path))]
        code, out, err = run_command(mf_collect, args, capsys)
        assert code == 1, err
        assert "\x1b" not in out + err and "\x07" not in out + err and "\r" not in out + err
        assert "Busy\\x1b]52;c;cHduZWQ=\\x07\\x0dall fine" in out
        code, out, _ = run_command(mf_collect, [*args, "--json"], capsys)
    assert f"(http_503 {evil})" in json.loads(out)["problems"][0]["message"]


def _fast(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("http:\n  max_retries: 0\n  rate_per_host: 1000\n  burst_per_host: 100\n")
    return cfg


def test_problem_lines_of_the_summary():
    s = Summary("tiktok")
    s.add(
        Outcome(
            "7001", "failed", "truncated_body", url="https://v/7001.mp4", kind="video", message="cut short"
        )
    )
    s.add(Outcome("7002", "rejected", "unsafe_id"))
    assert s.problems[0] == {
        "source_id": "7001",
        "status": "failed",
        "reason": "truncated_body",
        "stage": "item",
        "path": None,
        "url": "https://v/7001.mp4",
        "kind": "video",
        "message": "cut short",
    }
    # every problem has the same keys, None where not known
    assert s.problems[1] == {
        "source_id": "7002",
        "status": "rejected",
        "reason": "unsafe_id",
        "stage": "item",
        "path": None,
        "url": None,
        "kind": None,
        "message": None,
    }
    # a local fault names its path, as the line that stopped the run does (it read only the reason)
    s.add(Outcome("412395", "failed", "permission_denied", path="/d/netaporter/412395"))
    s.add(Outcome("7003", "failed", "path_escape", path="/d/x", message="a file at /d/x (remove it)"))
    assert s.human().splitlines()[2:] == [
        "  failed   7001  truncated_body  video https://v/7001.mp4: cut short",
        "  rejected 7002  unsafe_id",
        "  failed   412395  permission_denied  at /d/netaporter/412395",
        "  failed   7003  path_escape: a file at /d/x (remove it)",
    ]
