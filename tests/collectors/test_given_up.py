"""Items that fail for a reason that looks permanent are given up after ``max_failed_runs`` runs:
the count is kept in the catalog across runs, transient failures never count, a success sets it
back to 0, ``--retry-given-up`` tries them again with a fresh count, and a catalog written before
the count opens."""

from __future__ import annotations

import json

import pytest

from collectors.api import collect
from collectors.config import load_collect_config
from collectors.core import failure_state, is_transient
from schemas.catalog import MIGRATIONS, Catalog
from schemas.cli_support import run_main
from tests.collectors.fakesite import FakeSite, loopback_http
from tests.collectors.test_instagram import carousel, offline_cfg, structure
from tests.collectors.test_netaporter import add_product
from tests.old_catalog import old_catalog

PAGE = "/en-us/shop/product/1001"
SHOP = "/images/products/1001/1001_fr_l.jpg"
BOT_CHECK = b"<html><head><title>Just a moment...</title></head><body>captcha</body></html>"


def cfg_for(site: FakeSite, **update):
    return load_collect_config(base_url=site.base).model_copy(update={"http": loopback_http(), **update})


def run(site: FakeSite, tmp_path, **kw):
    out = tmp_path / "o"
    return collect("netaporter", ["1001"], root=out, catalog=out / "c.sqlite", cfg=cfg_for(site), **kw)


def item(tmp_path):
    with Catalog(tmp_path / "o" / "c.sqlite") as cat:
        return cat.get_item("netaporter", "1001")


def test_a_page_that_never_has_product_data_is_tried_n_times_over_n_plus_1_runs(tmp_path):
    with FakeSite() as site:
        add_product(site, tmp_path, "1001")
        site.routes[PAGE].body = BOT_CHECK
        runs = [run(site, tmp_path) for _ in range(4)]
        assert site.hits[PAGE] == 3  # the 4th run asks nothing
    assert [(s.failed, s.rejected, s.skipped, s.given_up) for s in runs] == [
        (1, 0, 0, 0),
        (1, 0, 0, 0),
        (0, 1, 0, 1),
        (0, 0, 1, 1),
    ]
    (problem,) = runs[2].problems
    assert problem["reason"] == "gave_up:no_product_data"
    assert "in 3 runs: given up (--retry-given-up tries them again)" in problem["message"]
    assert "1 given up" in runs[3].human() and "--retry-given-up" in runs[3].human()
    row = item(tmp_path)
    assert (row.status, row.reason, row.attempts) == ("rejected", "gave_up:no_product_data", 3)


def test_a_file_always_cut_short_is_given_up(tmp_path):
    with FakeSite() as site:
        add_product(site, tmp_path, "1001")
        site.routes[SHOP].truncate_first, site.routes[SHOP].ranges = 99, False
        runs = [run(site, tmp_path) for _ in range(4)]
        hits = site.hits[SHOP]
    assert [s.reasons for s in runs[:3]] == [
        {"truncated_body": 1},
        {"truncated_body": 1},
        {"gave_up:truncated_body": 1},
    ]
    assert runs[3].skipped == 1 and hits == 3 * 2  # two tries a run (one retry), none in the 4th


def test_a_transient_failure_is_never_given_up_nor_counted(tmp_path):
    """One failure without product data (counted), then four runs of a site answering 503 (not
    counted), then one more without product data: 2 counted, still retried."""
    with FakeSite() as site:
        add_product(site, tmp_path, "1001")
        real = site.routes[PAGE].body
        site.routes[PAGE].body = BOT_CHECK
        assert run(site, tmp_path).reasons == {"no_product_data": 1}
        site.routes[PAGE].fail_first = 10**6
        busy = [run(site, tmp_path) for _ in range(4)]
        assert all(s.reasons == {"http_503_exhausted": 1} and not s.given_up for s in busy)
        assert item(tmp_path).attempts == 1
        site.routes[PAGE].fail_first = 0
        assert run(site, tmp_path).reasons == {"no_product_data": 1}
        row = item(tmp_path)
        assert (row.status, row.attempts) == ("failed", 2)
        site.routes[PAGE].body = real
        assert run(site, tmp_path).ok == 1


def test_a_success_sets_the_count_back_to_0(tmp_path):
    """Two failed runs, a success, the files lost, two more failed runs: not given up (the count
    started again from 0), and still asked for."""
    with FakeSite() as site:
        add_product(site, tmp_path, "1001")
        real = site.routes[PAGE].body
        site.routes[PAGE].body = BOT_CHECK
        for _ in range(2):
            run(site, tmp_path)
        assert item(tmp_path).attempts == 2
        site.routes[PAGE].body = real
        assert run(site, tmp_path).ok == 1
        assert item(tmp_path).attempts == 0
        for f in (tmp_path / "o" / "netaporter" / "1001").iterdir():
            f.unlink()  # a rerun collects it again
        site.routes[PAGE].body = BOT_CHECK
        again = [run(site, tmp_path) for _ in range(2)]
        assert site.hits[PAGE] == 5
    assert [s.reasons for s in again] == [{"no_product_data": 1}] * 2
    row = item(tmp_path)
    assert (row.status, row.attempts) == ("failed", 2)


def test_retry_given_up_gives_them_a_fresh_count_and_a_success_clears_them(tmp_path, capsys):
    """Given up after 3 runs; --retry-given-up tries it again with a fresh count: one more failure
    does not give it up again (before, it did at once), plain reruns try it like any failed item
    until 3 more runs failed."""
    with FakeSite() as site:
        add_product(site, tmp_path, "1001")
        real = site.routes[PAGE].body
        site.routes[PAGE].body = BOT_CHECK
        for _ in range(3):
            run(site, tmp_path)
        assert run(site, tmp_path, retry_rejected=True).skipped == 1  # not a rejection of its own
        assert site.hits[PAGE] == 3
        again = run(site, tmp_path, retry_given_up=True)  # still failing: counted from 0 again
        assert (again.failed, again.rejected, again.given_up, site.hits[PAGE]) == (1, 0, 0, 4)
        assert (item(tmp_path).status, item(tmp_path).attempts) == ("failed", 1)
        rest = [run(site, tmp_path) for _ in range(2)]  # no flag needed: a failed item is retried
        assert [(s.failed, s.rejected, s.given_up) for s in rest] == [(1, 0, 0), (0, 1, 1)]
        assert (site.hits[PAGE], item(tmp_path).attempts) == (6, 3)
        dry = run(site, tmp_path, dry_run=True)
        assert (dry.skipped, dry.given_up) == (1, 1) and "1 of them given up" in dry.human()
        site.routes[PAGE].body = real
        out = tmp_path / "o"
        args = ["netaporter", "1001", "--root", str(out), "--catalog", str(out / "c.sqlite")]
        args += ["--base-url", site.base, "--json"]
        code, js = _cli(args, capsys)
        assert code == 0 and js["given_up"] == 1 and js["skipped"] == 1 and site.hits[PAGE] == 6
        code, js = _cli([*args, "--retry-given-up"], capsys)
        assert code == 0 and (js["ok"], js["given_up"]) == (1, 0) and site.hits[PAGE] == 7
    row = item(tmp_path)
    assert (row.status, row.reason, row.attempts) == ("downloaded", None, 0)


def test_a_given_up_item_retried_into_a_transient_failure_starts_from_0(tmp_path):
    """--retry-given-up meets a site answering 503 (not counted): the item's count is 0, so two
    more runs without product data leave it failed, not given up."""
    with FakeSite() as site:
        add_product(site, tmp_path, "1001")
        site.routes[PAGE].body = BOT_CHECK
        for _ in range(3):
            run(site, tmp_path)
        site.routes[PAGE].fail_first = 10**6
        assert run(site, tmp_path, retry_given_up=True).reasons == {"http_503_exhausted": 1}
        assert (item(tmp_path).status, item(tmp_path).attempts) == ("failed", 0)
        site.routes[PAGE].fail_first = 0
        rest = [run(site, tmp_path) for _ in range(2)]
    assert [(s.failed, s.given_up) for s in rest] == [(1, 0), (1, 0)]
    assert (item(tmp_path).status, item(tmp_path).attempts) == ("failed", 2)


def _cli(args: list[str], capsys) -> tuple[int, dict]:
    """``mf-collect ARGS --json`` in-process: its exit status and JSON summary."""
    code, out, _ = _main(args, capsys)
    return code, json.loads(out)


def _main(args: list[str], capsys) -> tuple[int, str, str]:
    """``mf-collect ARGS`` in-process: its exit status, stdout and stderr."""
    from collectors.cli import collect as group

    return _main_of(group, args, capsys)


def test_the_flag_has_help_with_an_example_and_recheck_refuses_it(tmp_path, capsys):
    code, out, _ = _main(["netaporter", "--help"], capsys)
    assert code == 0 and "--retry-given-up" in out
    example = [line for line in out.splitlines() if line.strip().startswith("mf-collect")][-1]
    assert example.strip().endswith("--retry-given-up")
    (tmp_path / "c.sqlite").touch()
    args = ["netaporter", "--recheck", "--retry-given-up", "--root", str(tmp_path), "--json"]
    code, out, err = _main(args, capsys)
    assert code == 2 and "takes no --retry-given-up" in err and "--retry-given-up" in json.loads(out)["error"]


def test_max_failed_runs_0_never_gives_up_and_still_counts(tmp_path):
    with FakeSite() as site:
        add_product(site, tmp_path, "1001")
        site.routes[PAGE].body = BOT_CHECK
        out = tmp_path / "o"
        cfg = cfg_for(site, max_failed_runs=0)
        for _ in range(4):
            s = collect("netaporter", ["1001"], root=out, catalog=out / "c.sqlite", cfg=cfg)
            assert s.reasons == {"no_product_data": 1}
        assert site.hits[PAGE] == 4
    row = item(tmp_path)
    assert (row.status, row.attempts) == ("failed", 4)


def test_an_old_catalog_opens_and_its_items_start_counting(tmp_path):
    """A catalog of schema 6 (before the count) with a failed item: opened, upgraded, its item
    at 0, and a failing rerun counts from there."""
    path = tmp_path / "o" / "c.sqlite"
    path.parent.mkdir()
    raw = old_catalog(path, 6)
    data = json.dumps({"source": "netaporter", "source_id": "1001"})
    raw.execute(
        "INSERT INTO items (source, source_id, status, reason, data, created_at, updated_at) "
        "VALUES ('netaporter', '1001', 'failed', 'no_product_data', ?, 'a', 'a')",
        (data,),
    )
    raw.close()
    with Catalog(path) as cat:
        assert cat.upgraded_from == 6 and cat.schema_version == len(MIGRATIONS)
        row = cat.get_item("netaporter", "1001")
        assert (row.status, row.attempts) == ("failed", 0)
    with FakeSite() as site:
        add_product(site, tmp_path, "1001")
        site.routes[PAGE].body = BOT_CHECK
        assert run(site, tmp_path).reasons == {"no_product_data": 1}
    assert item(tmp_path).attempts == 1


@pytest.mark.parametrize(
    ("reason", "counted"),
    [
        ("no_product_data", True),
        ("truncated_body", True),
        ("malformed_structure", True),
        ("post_not_found", True),
        ("http_429_exhausted", False),
        ("http_503_exhausted", False),
        ("connection_error", False),
        ("timeout", False),
        ("host_blocked", False),
        ("http_403", False),
        # a login wall answering a JSON query, or a site whose answers changed shape: not the item
        ("html_instead_of_json", False),
        ("answer_changed_shape", False),
        ("disk_full", False),
        ("robots_txt_timeout", False),
        ("internal_error:KeyError", False),
        # a video the site makes available only later: its error says "rerun after that time"
        ("not_yet_available", False),
    ],
)
def test_which_reasons_count_toward_giving_up(reason, counted):
    assert is_transient(reason) is not counted
    state = failure_state(reason, 2, 3)
    if counted:
        assert state == {"status": "rejected", "reason": f"gave_up:{reason}", "attempts": 3}
    else:
        assert state == {"status": "failed", "reason": reason}  # the count left as it was


def test_a_final_reason_is_rejected_as_before_without_counting():
    assert failure_state("http_404", 5, 3) == {"status": "rejected", "reason": "http_404"}


# -- Instagram: a malformed saved structure names its file and field ----------------------


def test_a_malformed_saved_structure_names_its_file_and_field(tmp_path):
    with FakeSite() as site:
        node = carousel("CxBad01", site.url("/ig/v.mp4"), [site.url("/ig/a.jpg"), site.url("/ig/b.jpg")])
        del node["edge_sidecar_to_children"]["edges"][1]["node"]["is_video"]
        saved = tmp_path / "CxBad01.json"
        saved.write_text(json.dumps(structure(node)))
        out = tmp_path / "o"
        cfg = offline_cfg().model_copy(update={"max_failed_runs": 2})
        runs = [collect("instagram", [str(saved)], root=out, cfg=cfg) for _ in range(3)]
        assert sum(site.hits.values()) == 0
    (problem,) = runs[0].problems
    field = "edge_sidecar_to_children.edges[1].node.is_video"
    assert problem["reason"] == "malformed_structure" and problem["url"] == str(saved)
    assert problem["message"] == f"saved structure {saved}: field {field} missing or invalid (save the " + (
        "post again with instaloader's save_structure_to_file)"
    )
    assert runs[1].problems[0]["reason"] == "gave_up:malformed_structure"
    assert (runs[2].skipped, runs[2].given_up) == (1, 1)


# -- mf catalog status: the given-up items apart from the other rejected ones -----------------


def test_catalog_status_counts_given_up_items_per_source_apart(tmp_path, capsys):
    """Netaporter: 1001 given up (no product data, max_failed_runs 1), 1002 downloaded, 1003
    rejected (404); Instagram: a malformed saved structure given up. ``mf catalog status`` says
    which of the 3 rejected are given up, per source, and how to try them again."""
    from movingfashion.app.cli import cli

    out = tmp_path / "o"
    catalog = out / "c.sqlite"
    with FakeSite() as site:
        for pid in ("1001", "1002"):
            add_product(site, tmp_path, pid)
        site.routes[PAGE].body = BOT_CHECK
        cfg = cfg_for(site, max_failed_runs=1)
        s = collect("netaporter", ["1001", "1002", "1003"], root=out, catalog=catalog, cfg=cfg)
        assert (s.ok, s.rejected, s.given_up) == (1, 2, 1)
        node = carousel("CxBad01", site.url("/ig/v.mp4"), [site.url("/ig/a.jpg"), site.url("/ig/b.jpg")])
        del node["edge_sidecar_to_children"]["edges"][1]["node"]["is_video"]
        saved = tmp_path / "CxBad01.json"
        saved.write_text(json.dumps(structure(node)))
        ig_cfg = offline_cfg().model_copy(update={"max_failed_runs": 1})
        assert collect("instagram", [str(saved)], root=out, catalog=catalog, cfg=ig_cfg).given_up == 1
    code, text, _ = _main_of(cli, ["catalog", "status", "--catalog", str(catalog)], capsys)
    assert code == 0
    lines = [line.strip() for line in text.splitlines()]
    assert lines[:2] == ["downloaded: 1", "rejected: 3"]
    assert lines[2] == (
        "given up: 2 of the rejected (instagram 1, netaporter 1; failed for a reason that looks "
        "permanent in max_failed_runs runs; reruns skip them): --retry-given-up tries them again"
    )
    code, text, _ = _main_of(cli, ["catalog", "status", "--catalog", str(catalog), "--json"], capsys)
    counts = json.loads(text)
    assert code == 0 and (counts["downloaded"], counts["rejected"], counts["failed"]) == (1, 3, 0)
    # an integer as in mf-collect --json (2 here, 1 in each collect run's), per source apart
    assert (counts["given_up"], counts["given_up_by_source"]) == (2, {"instagram": 1, "netaporter": 1})
    assert all(isinstance(v, int) for k, v in counts.items() if k != "given_up_by_source")
    with Catalog(catalog) as cat:
        rejected = {(str(r.item.source), r.item.source_id): r.reason for r in cat.items(status="rejected")}
    assert rejected == {
        ("netaporter", "1001"): "gave_up:no_product_data",
        ("netaporter", "1003"): "http_404",
        ("instagram", "CxBad01"): "gave_up:malformed_structure",
    }


def _main_of(group, args: list[str], capsys) -> tuple[int, str, str]:
    """``group ARGS`` in-process: its exit status, stdout and stderr."""
    capsys.readouterr()
    try:
        run_main(group, args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
