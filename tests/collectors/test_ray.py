"""``mf-collect`` on Ray: the same catalog rows and files as a local run, and politeness that holds
for the whole cluster (one gate per host: rate, requests in flight, robots.txt once, Retry-After);
a worker that dies for good holding a host slot does not keep it."""

from __future__ import annotations

import json
import time

import pytest
import ray

from collectors.api import collect
from collectors.cluster import GateRegistry, HostGate, RayGate, WorkerSetup, WorkerSpec
from collectors.config import HttpConfig
from schemas.catalog import Catalog
from tests.collectors.fakesite import FakeSite, Route, jpeg_bytes, mp4_bytes
from tests.collectors.test_cli import list_page
from tests.collectors.test_given_up import BOT_CHECK
from tests.collectors.test_given_up import PAGE as GIVEN_UP_PAGE
from tests.collectors.test_given_up import cfg_for as given_up_cfg
from tests.collectors.test_netaporter import add_product
from tests.collectors.test_world import cfg_for
from tests.ray_fixtures import catalog_rows, tree_bytes

ROBOTS = "User-agent: *\nDisallow: /private\n"


def run_all(base_url, fx, root, catalog, executor):
    cfg = cfg_for(base_url).model_copy(update={"executor": executor})
    runs = {
        "netaporter": ([fx["sitemap"]], {}),
        "tiktok": (fx["tiktok_info"], {"shop_map": fx["tiktok_shops"]}),
        "instagram": (fx["instagram"], {}),
        "urls": ([fx["urls"]], {}),
    }
    return {
        name: collect(name, targets, root=root, catalog=catalog, cfg=cfg, workers=2, **extra)
        for name, (targets, extra) in runs.items()
    }


def _figures(summary):
    return (summary.ok, summary.failed, summary.rejected, summary.skipped, summary.files, summary.bytes)


def _items(rows):
    """Item rows without yt-dlp's extraction time (``metadata.epoch``: a timestamp)."""
    out = []
    for row in rows["items"]:
        row = list(row)
        for i, v in enumerate(row):
            if isinstance(v, str) and v.startswith("{") and '"epoch"' in v:
                data = json.loads(v)
                data.get("metadata", {}).pop("epoch", None)
                row[i] = json.dumps(data, sort_keys=True)
        out.append(tuple(row))
    return out


def _files(root):
    files = tree_bytes(root)
    # yt-dlp's own download archive: one line per video, in the order they finished
    return {k: sorted(v.splitlines()) if k.endswith(".ytdlp-archive.txt") else v for k, v in files.items()}


def test_collect_on_ray_equals_local(ray_session, world_server, tmp_path):
    fx = world_server.write_fixtures(tmp_path / "fixtures")
    got = {}
    for executor in ("local", "ray"):
        root, cat = tmp_path / executor, tmp_path / f"{executor}.sqlite"
        got[executor] = (
            run_all(world_server.base_url, fx, root, cat, executor),
            catalog_rows(cat),
            _files(root),
        )
    (s_local, rows_local, files_local), (s_ray, rows_ray, files_ray) = got["local"], got["ray"]
    assert {k: _figures(s) for k, s in s_ray.items()} == {k: _figures(s) for k, s in s_local.items()}
    assert all(s.ok > 0 and s.failed == 0 for s in s_ray.values())
    # --json's executor block: what ran where on Ray, none on the local executor
    assert all(s.executor is None for s in s_local.values())
    assert all(s.executor["name"] == "ray" and sum(s.executor["nodes"].values()) > 0 for s in s_ray.values())
    assert _items(rows_ray) == _items(rows_local) and rows_ray["assets"] == rows_local["assets"]
    assert files_ray == files_local


def _hold(registry, holder: str, host: str, hold_s: float) -> tuple[float, float]:
    with RayGate(registry, holder).turn(host):
        start = time.time()
        time.sleep(hold_s)
        return start, time.time()


def _lease(gate, holder: str, timeout: float = 120) -> int:
    """A slot of ``gate`` for ``holder``, after the wait for a rate token the gate may ask for."""
    lease, wait, _ = ray.get(gate.acquire.remote(holder), timeout=timeout)
    if not lease:
        time.sleep(wait)
        lease, _, _ = ray.get(gate.acquire.remote(holder, True), timeout=timeout)
    return lease


def _robots(registry, holder: str, origin: str, log: str) -> tuple:
    def fetch():
        time.sleep(0.3)
        with open(log, "a") as fh:
            fh.write(holder + "\n")
        return ("text", ROBOTS)

    return RayGate(registry, holder).robots(origin, fetch)


def test_one_gate_per_host_for_the_whole_cluster(ray_session, tmp_path):
    registry = GateRegistry.remote(
        HttpConfig(rate_per_host=5.0, burst_per_host=1, max_concurrency_per_host=1)
    )
    hold, robots = ray.remote(num_cpus=0)(_hold), ray.remote(num_cpus=0)(_robots)
    try:
        # requests in flight and rate: three processes, one slot, a token every 0.2 s
        sent = time.time()
        spans = sorted(ray.get([hold.remote(registry, f"w{i}", "shop.example", 0.1) for i in range(3)]))
        assert all(b[0] >= a[1] for a, b in zip(spans, spans[1:], strict=False)), spans
        # the gate hands out a token every 0.2 s (the first at once): the third turn starts at
        # least 0.4 s after the requests were sent, however late the workers note their starts
        # on a busy machine (one slot alone would let it start after 0.2 s)
        assert spans[-1][0] - sent >= 0.4 - 0.01, (sent, spans)
        # robots.txt: fetched by one worker, read by all
        log = tmp_path / "robots.log"
        rules = ray.get([robots.remote(registry, f"w{i}", "http://shop.example", str(log)) for i in range(3)])
        assert rules == [("text", ROBOTS)] * 3 and len(log.read_text().splitlines()) == 1
        # Retry-After seen by one: nobody sends to that host until it has passed
        asked_at = time.time()  # the pause starts when the gate gets it: no earlier than this
        RayGate(registry, "driver").pause("shop.example", 1.0)
        starts = ray.get([hold.remote(registry, f"w{i}", "shop.example", 0.0) for i in range(2)])
        assert min(s for s, _ in starts) >= asked_at + 1.0 - 0.01
        # a worker that died holding a slot: its restart hands the slot back
        gate = ray.get(registry.gate.remote("other.example"))
        _lease(gate, "dead-worker")
        assert ray.get(registry.forget.remote("dead-worker")) == 1
        assert _lease(gate, "w1") > 0
    finally:
        ray.kill(registry)


def test_robots_is_read_once_by_a_ray_run_and_items_match_local(ray_session, tmp_path):
    ids = [str(300 + i) for i in range(4)]
    with FakeSite() as site:
        list_page(site, ids)
        site.routes["/robots.txt"] = Route(ROBOTS.encode(), content_type="text/plain")
        for i in ids:
            site.routes[f"/videos/productPage/{i}_detail.mp4"] = Route(
                mp4_bytes(tmp_path, int(i)), content_type="video/mp4"
            )
            site.routes[f"/images/products/{i}/{i}_fr_l.jpg"] = Route(
                jpeg_bytes(int(i)), content_type="image/jpeg"
            )
        cfg = cfg_for(site.base).model_copy(update={"executor": "ray"})
        summary = collect("netaporter", [], root=tmp_path / "o", cfg=cfg, workers=2)
        assert summary.ok == len(ids) and summary.failed == 0
        assert site.hits["/robots.txt"] == 1  # the driver and both workers share one robots.txt
        assert summary.requests == sum(site.hits.values())
    with Catalog(tmp_path / "o" / "catalog.sqlite") as cat:
        assert sorted(r.item.source_id for r in cat.items(status="downloaded")) == ids


def test_a_worker_lost_for_good_hands_back_its_host_slot_and_robots_claim(ray_session):
    registry = GateRegistry.remote(HttpConfig(max_concurrency_per_host=1))
    try:
        gate = ray.get(registry.gate.remote("shop.example"))
        _lease(gate, "worker-a")  # its request was in flight when it died
        assert ray.get(gate.robots.remote("http://shop.example", "worker-a")) is None  # fetching it
        # what the pool calls once that worker is lost for good (no restart hands them back)
        WorkerSetup(WorkerSpec("urls", {}, None, "", False, None, None, registry)).on_lost("worker-a")
        assert _lease(gate, "worker-b") > 0
        assert ray.get(gate.robots.remote("http://shop.example", "worker-b"), timeout=120) is None  # its turn
    finally:
        ray.kill(registry)


@ray.remote(num_cpus=0)
class _Holder:
    def take(self, gate) -> int:
        return _lease(gate, ray.get_runtime_context().get_actor_id())


def test_a_gate_takes_back_the_slot_of_a_holder_that_died(ray_session):
    """The gate's own check, whoever forgets to hand the slot back: its holder is dead."""
    gate = HostGate.remote(100.0, 10, 1, check_s=0.5)
    holder = _Holder.remote()
    try:
        assert ray.get(holder.take.remote(gate)) > 0
        ray.kill(holder, no_restart=True)
        assert _lease(gate, "w1") > 0
        assert ray.get(gate.holders.remote()) == ["w1"]
    finally:
        ray.kill(gate)


def test_workers_get_the_source_file_options_as_absolute_paths(ray_session, tmp_path, monkeypatch):
    """A worker opens --shop-map / --session-file from the folder its Ray node was started in:
    a relative path given to the driver must name the same file there."""
    from types import SimpleNamespace

    from collectors.cluster import CollectCluster
    from collectors.config import CollectConfig

    monkeypatch.chdir(tmp_path)
    Catalog(tmp_path / "catalog.sqlite").close()
    cfg = CollectConfig()
    ctx = SimpleNamespace(
        catalog=SimpleNamespace(path="catalog.sqlite"),
        cfg=cfg,
        root="out",
        retry_rejected=False,
        retry_given_up=False,
        force_refetch=False,
    )
    cluster = CollectCluster(cfg.http)
    try:
        for name, options, want in (
            (
                "tiktok",
                {"shop_map": "fixtures/shops.csv"},
                {"shop_map": str(tmp_path / "fixtures/shops.csv")},
            ),
            (
                "instagram",
                {"session_file": "s/session", "login": "me"},
                {"session_file": str(tmp_path / "s/session"), "login": "me"},
            ),
            ("instagram", {"session_file": None, "login": None}, {"session_file": None, "login": None}),
        ):
            source = SimpleNamespace(name=name, ctx=ctx, client=SimpleNamespace(policy=None))
            spec = cluster.worker_setup(source, options).spec
            assert spec.options == want and spec.root == str(tmp_path / "out")
    finally:
        cluster.close()


@pytest.mark.slow  # three Ray runs: over 20 s
def test_an_item_failing_in_every_run_is_given_up_on_ray(ray_session, tmp_path):
    """On Ray, as on the local executor: a product page without product data counts one failed
    run per run (the count kept in the driver's catalog), the item is given up in the
    ``max_failed_runs``-th run and the next run skips it without a request; the other product
    is collected once."""
    with FakeSite() as site:
        for pid in ("1001", "1002"):
            add_product(site, tmp_path, pid)
        site.routes[GIVEN_UP_PAGE].body = BOT_CHECK
        cfg = given_up_cfg(site, executor="ray", max_failed_runs=2)
        out = tmp_path / "o"
        # one worker: each run starts its pool's actors anew (each run's count is the driver's)
        runs = [
            collect("netaporter", ["1001", "1002"], root=out, catalog=out / "c.sqlite", cfg=cfg, workers=1)
            for _ in range(3)
        ]
        assert site.hits[GIVEN_UP_PAGE] == 2  # the third run asks nothing
    assert all(s.executor["name"] == "ray" for s in runs)
    assert [(s.ok, s.failed, s.rejected, s.skipped, s.given_up) for s in runs] == [
        (1, 1, 0, 0, 0),
        (0, 0, 1, 1, 1),
        (0, 0, 0, 2, 1),
    ]
    assert [p["reason"] for p in runs[1].problems] == ["gave_up:no_product_data"]
    with Catalog(out / "c.sqlite") as cat:
        row = cat.get_item("netaporter", "1001")
        assert (row.status, row.reason, row.attempts) == ("rejected", "gave_up:no_product_data", 2)
        assert cat.get_item("netaporter", "1002").status == "downloaded"
