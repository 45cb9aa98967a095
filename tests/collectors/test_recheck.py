"""``mf-collect SOURCE --recheck`` against the world's sites with products taken down since the
collection: exactly the taken-down items end rejected ``gone: ...`` (through the sources' real
readers: requests for Net-A-Porter's pages, instaloader's logged-out post query), the others keep
their state, ``--retry-rejected`` brings one back once it is up again, and a site that answers
404 for everything marks nothing."""

from __future__ import annotations

import json

import pytest

from collectors.api import collect
from collectors.cli import collect as collect_cli
from collectors.config import load_collect_config
from movingfashion.world.faults import Faults
from movingfashion.world.server import WorldServer
from schemas.catalog import Catalog
from schemas.errors import ConfigError, FetchError
from schemas.items import SourceName, Status
from tests.collectors.test_faults_fuzz import HTTP
from tests.mf_cli import run_command


@pytest.fixture()
def collected(small_world, world_truth, tmp_path):
    """The small world's Net-A-Porter and Instagram items collected from its sites (served here,
    so this test's faults touch no other test): (server, collect keywords)."""
    with WorldServer(small_world) as srv:
        cfg = load_collect_config(base_url=srv.base_url).model_copy(update={"http": HTTP})
        cfg = cfg.model_copy(update={"instagram": cfg.instagram.model_copy(update={"query_sleep": False})})
        kw = dict(root=tmp_path / "data", catalog=tmp_path / "c.sqlite", cfg=cfg, workers=3)
        fx = srv.write_fixtures(tmp_path / "fixtures")
        assert collect("netaporter", [fx["sitemap"]], **kw).ok > 5
        assert collect("instagram", fx["instagram"], **kw).ok >= 2
        yield srv, kw, fx


def _states(catalog, source: str) -> dict[str, tuple[str, str | None]]:
    with Catalog(catalog, read_only=True) as cat:
        return {r.item.source_id: (str(r.status), r.reason) for r in cat.items(source=source)}


def test_taken_down_items_are_rejected_gone_and_nothing_else_changes(collected):
    srv, kw, fx = collected
    nap, ig = (
        sorted(sid for sid, (status, _) in _states(kw["catalog"], s).items() if status == Status.DOWNLOADED)
        for s in (SourceName.NETAPORTER, SourceName.INSTAGRAM)
    )
    down = {"netaporter": nap[:2], "instagram": ig[:1]}
    before = {s: _states(kw["catalog"], s) for s in down}
    srv.set_faults(Faults(taken_down=[*down["netaporter"], *down["instagram"]]))
    for source, gone_ids in down.items():
        summary = collect(source, [], recheck=True, **kw)
        assert sorted(g["source_id"] for g in summary.gone) == sorted(gone_ids), summary.gone
        assert summary.seconds == round(summary.seconds, 3)  # as a collecting run reports it
        assert (summary.ok, summary.rejected, summary.failed) == (
            len(before[source]) - len(gone_ids),
            len(gone_ids),
            0,
        )
        after = _states(kw["catalog"], source)
        for sid, state in after.items():
            if sid in gone_ids:
                assert state[0] == Status.REJECTED and state[1].startswith("gone: "), (sid, state)
            else:
                assert state == before[source][sid], sid  # still there: untouched
    assert {_states(kw["catalog"], "netaporter")[s][1] for s in down["netaporter"]} == {"gone: http_404"}
    assert _states(kw["catalog"], "instagram")[down["instagram"][0]][1] == "gone: post_not_found"
    assert (
        summary.gone[0]["url"] == f"https://www.instagram.com/p/{down['instagram'][0]}/"
    )  # a page, not an id
    with Catalog(kw["catalog"], read_only=True) as cat:
        logged = {e["source_id"] for e in cat.events("recheck")}
    assert logged == {*down["netaporter"], *down["instagram"]}

    # a rerun of the collection skips them; back on the site, --retry-rejected collects one again
    srv.set_faults(Faults())
    assert collect("netaporter", [fx["sitemap"]], **kw).ok == 0
    assert collect("netaporter", [fx["sitemap"]], retry_rejected=True, **kw).ok == 2
    assert _states(kw["catalog"], "netaporter")[down["netaporter"][0]][0] == Status.DOWNLOADED


def test_a_site_answering_404_for_everything_marks_nothing(collected):
    srv, kw, _ = collected
    before = _states(kw["catalog"], "netaporter")
    srv.set_faults(Faults(taken_down=list(before)))
    with pytest.raises(FetchError) as ei:
        collect("netaporter", [], recheck=True, **kw)
    assert ei.value.reason == "too_many_gone" and "none is marked" in ei.value.message
    assert _states(kw["catalog"], "netaporter") == before


def test_small_runs_mark_nothing_on_a_404_site_and_limited_runs_go_round(collected):
    """``--limit 4`` on a site answering 404 for everything marked 4 items gone a run (the guard
    wanted 5 gone answers); and ``--limit`` always asked the first items, so an item gone further
    on was never reached."""
    srv, kw, _ = collected
    before = _states(kw["catalog"], "netaporter")
    ids = sorted(before)
    srv.set_faults(Faults(taken_down=ids))
    with pytest.raises(FetchError, match="none is marked"):
        collect("netaporter", [], recheck=True, limit=4, **kw)
    assert _states(kw["catalog"], "netaporter") == before
    srv.set_faults(Faults(taken_down=[ids[4]]))
    first = collect("netaporter", [], recheck=True, limit=3, **kw)
    second = collect("netaporter", [], recheck=True, limit=3, **kw)
    assert (first.ok, first.rejected) == (3, 0)
    assert (second.ok, second.rejected) == (2, 1) and second.gone[0]["source_id"] == ids[4]


def test_the_cli_reports_the_gone_items_and_refuses_what_it_cannot_recheck(collected, capsys, tmp_path):
    srv, kw, _ = collected
    gone = sorted(_states(kw["catalog"], "netaporter"))[0]
    srv.set_faults(Faults(taken_down=[gone]))
    where = ["--root", str(kw["root"]), "--catalog", str(kw["catalog"]), "--base-url", srv.base_url]
    fast = tmp_path / "fast.yaml"  # a loopback site: no need for a shop's 2 requests a second
    fast.write_text("http:\n  rate_per_host: 1000\n  burst_per_host: 100\n")
    code, out, err = run_command(
        collect_cli,
        ["netaporter", "--recheck", *where, "--config", str(fast), "--json", "--no-progress"],
        capsys,
    )
    assert code == 0, err
    assert [g["source_id"] for g in json.loads(out)["gone"]] == [gone]
    code, out, err = run_command(collect_cli, ["tiktok", "--recheck", *where], capsys)
    assert code == 2 and "tiktok items cannot be rechecked" in err, err
    code, out, err = run_command(collect_cli, ["netaporter", "123", "--recheck", *where], capsys)
    assert code == 2 and "takes no targets" in err, err
    with pytest.raises(ConfigError, match="nothing was collected"):
        collect("netaporter", [], recheck=True, root=tmp_path / "none", catalog=tmp_path / "none.sqlite")


def test_a_recheck_answer_that_reads_as_no_item_has_a_lower_case_reason():
    """recheck's _ask recorded the error's class name (``DataFormatError``) as the reason."""
    from collectors.recheck import _ask
    from schemas.errors import DataFormatError

    class Site:
        def page_url(self, sid: str) -> str:
            return f"http://127.0.0.1:9/p/{sid}"

        def describe(self, sid: str, cand: object) -> None:
            raise DataFormatError("the page holds no product", where=self.page_url(sid))

    out = _ask(Site(), "7", "downloaded")  # type: ignore[arg-type]
    assert (out.status, out.reason) == ("failed", "data_format")
    assert out.message == "the page holds no product" and out.url == "http://127.0.0.1:9/p/7"
