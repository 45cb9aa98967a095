"""Site patterns in ``--config`` are checked when the config is read: a regex that does not
compile or lacks its id group, a URL template with an unknown placeholder, or a view that is not
an image kind is a one-line config error naming the field (exit 2, nothing created), never a
traceback or every item failing ``internal_error``."""

from __future__ import annotations

import pytest

from collectors.cli import collect
from collectors.config import NetAPorterConfig, load_collect_config
from schemas.cli_support import run_main
from schemas.errors import ConfigError

BAD = [
    ("product_url_pattern: '/shop/product/(?P<id>[^/'", "netaporter.product_url_pattern", "not a regular"),
    ("product_url_pattern: '/p/(\\d+)'", "netaporter.product_url_pattern", "group named 'id'"),
    ("product_url: '{site}/{lang}/shop/product/{id}'", "netaporter.product_url", "{lang}"),
    ("video_url: 'https://video.example/{pid}_detail.mp4'", "netaporter.video_url", "{pid}"),
    ("image_url: 'https://img.example/{id}_{view}}.jpg'", "netaporter.image_url", "Single '}'"),
    ("image_url: 'https://img.example/{0}_{view}.jpg'", "netaporter.image_url", "not a URL template"),
    ("listing_path: '/{locale}/shop/{category}'", "netaporter.listing_path", "{category}"),
    ("views: {shop: fr, back: bk}", "netaporter.views", "'back'"),
    ("views: {shop: fr, video: v}", "netaporter.views", "'video'"),
    ("required_views: [shop, sleeve]", "netaporter.required_views", "'sleeve'"),
    ("required_views: [shop, front]\n  views: {shop: fr}", "netaporter", "['front']"),
]


@pytest.mark.parametrize(("line", "field", "says"), BAD)
def test_a_bad_site_pattern_is_a_config_error_naming_the_field(tmp_path, line, field, says):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"netaporter:\n  {line}\n")
    with pytest.raises(ConfigError) as err:
        load_collect_config(cfg)
    assert err.value.where == str(cfg)
    assert f"field '{field}'" in err.value.message and says in err.value.message


@pytest.mark.parametrize(("line", "field", "says"), BAD[:1] + BAD[3:4] + BAD[7:8])
def test_the_cli_refuses_it_before_anything_is_created(tmp_path, capsys, line, field, says):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"netaporter:\n  {line}\n")
    root = tmp_path / "root"
    args = ["netaporter", "1234567", "--root", str(root), "--config", str(cfg)]
    with pytest.raises(SystemExit) as ex:  # a closed loopback port: never the real site
        run_main(collect, [*args, "--base-url", "http://127.0.0.1:9"])
    err = capsys.readouterr().err.strip().splitlines()
    assert ex.value.code == 2 and len(err) == 1, err
    assert err[0].startswith(f"error: {cfg}: field '{field}'") and says in err[0]
    assert not root.exists()


def test_the_defaults_and_a_fixed_pattern_are_accepted(tmp_path):
    NetAPorterConfig()  # the documented defaults pass their own checks
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "netaporter:\n"
        "  product_url_pattern: '/p/(?P<id>\\d+)$'\n"
        "  product_url: '{site}/{locale}/p/{id}?x={{literal}}'\n"
        "  image_url: 'https://img.example/{id}/{view}-{size}.jpg'\n"
        "  views: {shop: fr, rear: bk}\n"
        "  required_views: [shop]\n"
    )
    nap = load_collect_config(cfg).netaporter
    assert nap.product_url.format(site="s", locale="l", id="1") == "s/l/p/1?x={literal}"
    assert nap.views == {"shop": "fr", "rear": "bk"}
