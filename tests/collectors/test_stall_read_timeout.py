"""A media body that stalls longer than ``http.read_timeout_s`` (the fuzz's 0.2 s stall is far
shorter than its timeout, so only this test takes the read-timeout path): a run with no retry
left gives up naming the timeout and its setting, the part is kept, and the rerun resumes it by
Range to the world's exact bytes. (test_world's body-faults test covers the resume within one
run, with retries.)"""

from __future__ import annotations

import hashlib

from collectors.api import collect
from collectors.config import load_collect_config
from schemas.catalog import Catalog
from schemas.items import SourceName
from tests.collectors.fakesite import loopback_http

#: no retry: the first stall ends the try, so the give-up message is the timeout's
HTTP = loopback_http(
    max_retries=0, read_timeout_s=0.2, max_concurrency_per_host=8, max_body_bytes=8 * 1024 * 1024
)


def test_a_stall_past_the_read_timeout_names_it_then_the_rerun_resumes_to_the_worlds_bytes(
    small_world, world_truth, tmp_path
):
    from movingfashion.world.faults import Faults
    from movingfashion.world.server import WorldServer

    product = next(p for p in world_truth.products if p.source == SourceName.NETAPORTER and p.videos)
    pid, truth = product.product_id, world_truth.video(product.videos[0])
    out, cat_path = tmp_path / "out", tmp_path / "c.sqlite"
    with WorldServer(small_world, faults=Faults(stall_mid_body=[pid], stall_s=0.6)) as srv:
        fx = srv.write_fixtures(tmp_path / "fx")
        cfg = load_collect_config(base_url=srv.base_url).model_copy(update={"http": HTTP})
        first = collect("netaporter", [fx["sitemap"]], root=out, catalog=cat_path, cfg=cfg, workers=4)
        (problem,) = [p for p in first.problems if p["kind"] == "video"]
        assert problem["reason"] == "truncated_body", problem
        assert "the read timed out: nothing arrived for 0.2 s, http.read_timeout_s" in problem["message"]
        assert "raise http.read_timeout_s" in problem["message"]
        assert list((out / "netaporter" / pid).glob(".*.part")), "what arrived before the stall is kept"
        collect("netaporter", [fx["sitemap"]], root=out, catalog=cat_path, cfg=cfg, workers=4)
        log = list(srv.log)
    gets = [st for m, path, st in log if m == "GET" and path.endswith(f"/{pid}_detail.mp4")]
    assert gets == [200, 206], gets  # stalled, then the rest by Range
    with Catalog(cat_path) as cat:
        assert cat.get_item("netaporter", pid).status == "downloaded"
        (video,) = cat.assets(source="netaporter", source_id=pid, kind="video")
    assert video.sha256 == truth.sha256 == hashlib.sha256((out / video.path).read_bytes()).hexdigest()
