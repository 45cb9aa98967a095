"""A Net-A-Porter category that lists no product, told apart from a listing page that changed.

Before, any first listing page linking no product page failed ``no_products_listed`` (exit 1):
a sold-out or new category, which says itself that it counts 0 products, read the same as a bot
check or a page whose product links changed. Now the page's own count of its products
(``netaporter.listing_count_pattern``) decides: 0 is an empty category (a warning, exit 0, the
other targets collected); a count above 0 with no product link, or no count at all, stays a
problem naming the URL and what to set."""

from __future__ import annotations

import logging

import pytest

from collectors.api import collect
from collectors.cli import collect as collect_cli
from collectors.config import load_collect_config
from movingfashion.world.catalog import slug
from movingfashion.world.faults import Faults
from movingfashion.world.server import WorldServer
from schemas.errors import ConfigError
from tests.collectors.fakesite import FakeSite, Route
from tests.collectors.test_netaporter import FAST_HTTP, add_product, cfg_for
from tests.mf_cli import run_command

CATEGORY = "/en-us/shop/clothing/dresses"


def listing(cards: str, total: int) -> bytes:
    """A listing page in the world's (and the site's) shape: its count, then its product grid."""
    return (
        "<!DOCTYPE html><html><head><title>Dresses | NET-A-PORTER</title></head><body><h1>Dresses</h1>"
        f'<p class="product-count" data-total-products="{total}">{total} items</p>'
        f'<ul class="product-listing">{cards}</ul></body></html>'
    ).encode()


def test_an_empty_category_is_a_warning_and_the_run_exits_0(tmp_path, capsys, caplog):
    config = tmp_path / "collect.yaml"
    config.write_text("http:\n  rate_per_host: 1000\n  burst_per_host: 100\n  max_retries: 0\n")
    with FakeSite() as site:
        add_product(site, tmp_path, "1001")
        site.routes[CATEGORY] = Route(listing("", 0), content_type="text/html")
        root = tmp_path / "data"
        args = ["netaporter", CATEGORY, "1001", "--root", str(root), "--base-url", site.base]
        with caplog.at_level(logging.WARNING, logger="collectors.netaporter"):
            code, out, err = run_command(collect_cli, [*args, "--config", str(config)], capsys)
    assert code == 0, out + err
    assert "1 ok, 0 failed" in out
    assert f"{site.url(CATEGORY)}: the listing counts 0 products (an empty category" in caplog.text
    assert (root / "netaporter" / "1001").is_dir()  # the other target is collected


def test_a_listing_counting_products_but_linking_none_is_drift_naming_the_setting(tmp_path):
    cards = '<li class="product-card"><a href="/en-us/p/dress-1001">Dress</a></li>'
    with FakeSite() as site:
        site.routes[CATEGORY] = Route(listing(cards, 12), content_type="text/html")
        s = collect("netaporter", [CATEGORY], root=tmp_path / "o", cfg=cfg_for(site))
    assert (s.ok, s.failed) == (0, 1)
    (problem,) = s.problems
    assert problem["url"] == site.url(CATEGORY) and problem["stage"] == "discovery"
    assert problem["reason"] == "no_products_listed"
    assert "counts 12 products but links no product page" in problem["message"]
    assert "netaporter.product_url_pattern" in problem["message"]


def test_a_listing_without_a_count_stays_a_problem_naming_the_count_setting(tmp_path):
    page = b"<html><head><title>Dresses</title></head><body><ul class='product-listing'></ul></body></html>"
    with FakeSite() as site:
        site.routes[CATEGORY] = Route(page, content_type="text/html")
        s = collect("netaporter", [CATEGORY], root=tmp_path / "o", cfg=cfg_for(site))
    (problem,) = s.problems
    assert problem["reason"] == "no_products_listed" and problem["url"] == site.url(CATEGORY)
    assert "does not count its products" in problem["message"]
    assert "netaporter.listing_count_pattern" in problem["message"]


def test_the_count_setting_reads_the_sites_count_in_another_shape(tmp_path):
    """A site counting its products otherwise: the setting is fixed by configuration."""
    page = b'<html><body><script>{"plp":{"resultsCount":0}}</script><ul class="grid"></ul></body></html>'
    with FakeSite() as site:
        site.routes[CATEGORY] = Route(page, content_type="text/html")
        cfg = cfg_for(site)
        assert collect("netaporter", [CATEGORY], root=tmp_path / "a", cfg=cfg).failed == 1
        nap = cfg.netaporter.model_copy(update={"listing_count_pattern": r'"resultsCount":(?P<count>\d+)'})
        s = collect(
            "netaporter", [CATEGORY], root=tmp_path / "b", cfg=cfg.model_copy(update={"netaporter": nap})
        )
    assert (s.ok, s.failed, s.problems) == (0, 0, [])


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        (r"data-total=(\d+)", "needs a group named 'count'"),
        (r"data-total=(?P<count>\d+", "not a regular expression"),
    ],
)
def test_a_count_pattern_without_its_group_or_not_compiling_is_a_config_error(tmp_path, pattern, says):
    path = tmp_path / "c.yaml"
    path.write_text(f"netaporter:\n  listing_count_pattern: '{pattern}'\n")
    with pytest.raises(ConfigError) as ei:
        load_collect_config(path)
    assert "listing_count_pattern" in str(ei.value) and says in str(ei.value)


def test_the_worlds_sold_out_category_lists_nothing_and_the_run_exits_clean(
    small_world, world_truth, tmp_path
):
    """The loopback world answers a category whose products were all taken down as the site
    does: its page, counting 0 products (before: a 404, read as a listing that is gone)."""
    nap = [p for p in world_truth.products if p.source == "netaporter" and len(p.category_path) >= 2]
    category = [slug(c) for c in nap[0].category_path[:2]]
    gone = [p.product_id for p in nap if [slug(c) for c in p.category_path[:2]] == category]
    path = "/en-us/shop/" + "/".join(category)
    with WorldServer(small_world, faults=Faults(taken_down=gone)) as srv:
        cfg = load_collect_config(base_url=srv.base_url).model_copy(update={"http": FAST_HTTP})
        s = collect("netaporter", [path], root=tmp_path / "o", cfg=cfg)
        assert (s.ok, s.failed, s.problems) == (0, 0, [])
        srv.set_faults(Faults())
        s = collect("netaporter", [path], root=tmp_path / "o", cfg=cfg, dry_run=True)
    assert len(s.items) == len(gone)
