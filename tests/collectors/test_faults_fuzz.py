"""The world server's fault switches, drawn at random, against every collector: each run ends,
every problem carries a named reason (the one the fault calls for), a product whose media is reset
or stalled mid-body ends downloaded with the world's own bytes, and nothing logs a traceback."""

from __future__ import annotations

import hashlib
import logging
import pickle
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.api import collect
from collectors.config import HttpConfig, load_collect_config
from movingfashion.world.faults import EVIL_IDS, Faults
from schemas.catalog import Catalog
from schemas.items import SourceName, Status

HTTP = HttpConfig(
    backoff_base_s=0.001,
    backoff_max_s=0.005,
    retry_after_max_s=0.005,
    rate_per_host=1000,
    burst_per_host=100,
    max_retries=3,
    max_concurrency_per_host=8,
    max_body_bytes=2 * 1024 * 1024,
)
#: What each per-product fault must end as (the item's reason, or that of its first bad asset).
EXPECTED = {
    "truncate": {"truncated_body", "truncated_body_exhausted"},
    "wrong_content_type": {"content_type_mismatch"},
    # a page served as media is retried as one served as text/html is (its first bytes tell);
    # yt-dlp's generic extractor reads an HTML page at a video URL as a page it cannot handle
    "html_as_image": {"html_instead_of_media", "content_type_mismatch", "unsupported_url"},
    "redirect_foreign": {"foreign_redirect", "host_not_allowed"},
    "oversized": {"too_large"},
    "malformed_jsonld": {"malformed_jsonld"},
    # a body cut with a Content-Length that says so: only the content check can tell
    "short_length": {"truncated_body", "truncated_body_exhausted", "not_a_video", "not_an_image"},
    "html_as_video": {"html_instead_of_media", "content_type_mismatch", "unsupported_url"},
}
#: faults a product must come through whole: its media's first answer is cut (a reset) or
#: paused mid-body, and the download resumes (or starts over) to the site's exact file
WHOLE = ("reset_mid_body", "stall_mid_body")
#: faults that touch only a product's video (a product without one is collected whole)
VIDEO_ONLY = {"oversized", "html_as_video"}
SOURCES = ("netaporter", "tiktok", "instagram", "instagram-login", "urls")
ROBOTS = ["/tiktok/", "/instagram/", "/files/", "/videos/", "/images/", "/en-us/", "/graphql/"]
REASON = re.compile(r"^[a-z][a-z0-9_]*$")


def _source_of(name: str) -> SourceName:
    return SourceName(name.split("-")[0])


def _products(truth, name: str) -> dict[str, str]:
    """source id -> product id of what ``name`` collects from the world."""
    src = _source_of(name)
    if src == SourceName.URLS:
        return {
            p.videos[0]: p.product_id
            for p in truth.products
            if p.source != SourceName.NETAPORTER and p.videos
        }
    return {
        p.product_id: p.product_id
        for p in truth.products
        if p.source == src and (p.videos or src == "netaporter")
    }


@st.composite
def scenario(draw, truth):
    name = draw(st.sampled_from(SOURCES))
    pids = sorted(set(_products(truth, name).values()))
    chosen = draw(st.lists(st.sampled_from(pids), unique=True, max_size=min(4, len(pids))))
    per_fault: dict[str, list[str]] = {k: [] for k in (*EXPECTED, *WHOLE)}
    kinds = [k for k in (*EXPECTED, *WHOLE) if k != "malformed_jsonld" or name == "netaporter"]
    for pid in chosen:  # one fault per product, so its expected reason is known
        per_fault[draw(st.sampled_from(kinds))].append(pid)
    faults = Faults(
        retry_after_429=draw(st.integers(0, 1)),
        burst_5xx=draw(st.integers(0, 1)),
        evil_ids=draw(st.booleans()),
        robots_disallow=draw(st.lists(st.sampled_from(ROBOTS), unique=True, max_size=1)),
        oversized_bytes=3 * 1024 * 1024,
        no_range=draw(st.lists(st.sampled_from(pids), unique=True, max_size=2)),
        stall_s=0.2,
        **per_fault,
    )
    return name, faults


def _run(name: str, fx: dict, faults: Faults, base_url: str, tmp, truth):
    cfg = load_collect_config(base_url=base_url).model_copy(update={"http": HTTP})
    cfg = cfg.model_copy(update={"instagram": cfg.instagram.model_copy(update={"query_sleep": False})})
    kw = dict(root=tmp / "data", catalog=tmp / "c.sqlite", cfg=cfg, workers=3)
    if name == "netaporter":
        return collect(name, [fx["sitemap"]], **kw)
    if name == "tiktok":
        return collect(name, fx["tiktok_info"], shop_map=fx["tiktok_shops"], **kw)
    if name == "instagram":
        return collect(name, fx["instagram"], **kw)
    if name == "instagram-login":
        session = tmp / "session"
        session.write_bytes(pickle.dumps({"sessionid": "s", "csrftoken": "t", "ds_user_id": "42"}))
        session.chmod(0o600)
        codes = [f"shortcode:{sid}" for sid in _products(truth, name)]
        return collect("instagram", codes, session_file=str(session), login="mia", **kw)
    return collect(name, [fx["urls"]], **kw)


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_whole(cat, src, sid: str, pid: str, root, world_dir, truth, robots_hit: bool) -> None:
    """The item of a reset or stalled product is downloaded, every file of it equal to one the
    world serves for the product (robots.txt may keep it out instead)."""
    row = cat.get_item(str(src), sid)
    if row is None or (robots_hit and row.status != Status.DOWNLOADED):
        return
    assets = cat.assets(source=str(src), source_id=sid)
    assert row.status == Status.DOWNLOADED, (src, sid, row.reason, [(a.kind, a.reason) for a in assets])
    product = truth.product(pid)
    served = {_sha(world_dir / p) for p in product.images.values()}
    served |= {truth.video(v).sha256 for v in product.videos}
    for a in assets:
        assert a.status == Status.DOWNLOADED and a.path, (src, sid, a.kind, a.reason)
        assert _sha(root / a.path) == a.sha256 and a.sha256 in served, (src, sid, a.kind, a.path)


@pytest.mark.slow
def test_faults_against_every_collector(world_server, world_truth, tmp_path_factory, caplog):
    caplog.set_level(logging.INFO)

    @settings(
        max_examples=10,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(case=scenario(world_truth))
    def run(case):
        name, faults = case
        caplog.clear()
        tmp = tmp_path_factory.mktemp("faults")
        world_server.set_faults(faults)
        try:
            fx = world_server.write_fixtures(tmp / "fixtures")
            summary = _run(name, fx, faults, world_server.base_url, tmp, world_truth)
        finally:
            world_server.set_faults(Faults())
        tracebacks = [r for r in caplog.records if r.exc_info]
        assert not tracebacks, [r.getMessage() for r in tracebacks]
        for p in summary.problems:
            assert (
                p["reason"] and REASON.match(p["reason"]) and not p["reason"].startswith("internal_error")
            ), p
        src = _source_of(name)
        robots_hit = bool(faults.robots_disallow)
        with Catalog(tmp / "c.sqlite") as cat:
            for sid, pid in _products(world_truth, name).items():
                if any(pid in getattr(faults, k) for k in WHOLE):
                    _assert_whole(
                        cat, src, sid, pid, tmp / "data", world_server.world_dir, world_truth, robots_hit
                    )
                    continue
                fault = next((k for k in EXPECTED if pid in getattr(faults, k)), None)
                row = cat.get_item(str(src), sid)
                if (
                    fault is None
                    or row is None
                    or (fault in VIDEO_ONLY and not world_truth.product(pid).videos)
                ):
                    continue
                bad = [a for a in cat.assets(source=str(src), source_id=sid) if a.status != Status.DOWNLOADED]
                reasons = {row.reason, *(a.reason for a in bad)}
                allowed = EXPECTED[fault] | ({"robots_disallowed"} if robots_hit else set())
                assert row.status in (Status.FAILED, Status.REJECTED), (name, fault, sid, row.status, reasons)
                assert reasons & allowed, (name, fault, sid, reasons)
        if faults.evil_ids and name != "instagram-login":
            assert summary.reasons.get("unsafe_id", 0) >= 1, summary.reasons
        assert not [e for e in EVIL_IDS if (tmp / "data" / str(src) / e).exists()]

    run()
