"""Instagram answering in another shape: an HTML page instead of JSON fails at once (one request)
naming the URL and what to do; an answer lacking a key the toolkit reads (renamed) says the site's
answer changed shape, naming the key and URL, and is told from a post marked missing (deleted)."""

from __future__ import annotations

import json

import pytest

from collectors.api import collect
from collectors.config import load_collect_config
from movingfashion.world.sites import START_PAGE
from tests.collectors.fakesite import FakeSite, Route, loopback_http


def _drifted_instagram(site: FakeSite, ctype: str, body: bytes) -> None:
    """``site`` as Instagram: its start page, and ``body`` for every GraphQL query."""

    def do_post(handler):
        handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        site.hits["POST " + handler.path] += 1
        handler.send_response(200)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    site.server.RequestHandlerClass.do_POST = do_post
    site.routes["/"] = Route(
        START_PAGE, content_type="text/html", headers={"Set-Cookie": "csrftoken=c; Path=/"}
    )


URL = "https://www.instagram.com/api/graphql"
WEB_INFO = "xdt_api__v1__media__shortcode__web_info"


def _collect(tmp_path, site):
    cfg = load_collect_config(base_url=site.base)
    cfg = cfg.model_copy(
        update={
            "http": loopback_http(max_retries=0),
            "instagram": cfg.instagram.model_copy(update={"query_sleep": False}),
        }
    )
    s = collect(
        "instagram", ["shortcode:CxAbc01"], root=tmp_path / "d", catalog=tmp_path / "c.sqlite", cfg=cfg
    )
    (problem,) = s.problems
    assert problem["status"] == "failed" and problem["url"] == "https://www.instagram.com/p/CxAbc01/"
    return problem


def test_an_html_answer_to_a_json_query_fails_at_once_naming_the_url_and_what_to_do(tmp_path):
    """A login wall or a 'please wait' page stays one: asked once (instaloader would ask 3 times)."""
    with FakeSite() as site:
        _drifted_instagram(site, "text/html", b"<html><body>Please wait a few minutes.</body></html>")
        problem = _collect(tmp_path, site)
        assert site.hits["POST /api/graphql"] == 1
    assert problem["reason"] == "html_instead_of_json"
    assert "web page instead of JSON" in problem["message"] and "/api/graphql" in problem["message"]
    assert "--session-file" in problem["message"] and "rerun later" in problem["message"]


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({"data": {WEB_INFO + "_v2": {"items": []}}, "status": "ok"}, f"data.{WEB_INFO}"),
        ({"payload": {WEB_INFO: {"items": []}}, "status": "ok"}, "data"),
        ({"data": {WEB_INFO: {"posts": []}}, "status": "ok"}, f"data.{WEB_INFO}.items"),
        # instaloader reads the post's fields itself: a renamed one is a KeyError in it
        ({"data": {WEB_INFO: {"items": [{"media_type": 8, "shortcode": "CxAbc01"}]}}}, "code"),
    ],
    ids=["renamed-query-key", "renamed-data", "renamed-items", "renamed-post-field"],
)
def test_an_answer_that_changed_shape_says_so_naming_the_key_and_url(tmp_path, body, key):
    with FakeSite() as site:
        _drifted_instagram(site, "application/json", json.dumps(body).encode())
        problem = _collect(tmp_path, site)
    assert problem["reason"] == "answer_changed_shape"
    assert (
        f"the site's answer changed shape (missing key {key} at {URL}): update the toolkit"
        in problem["message"]
    )
    assert "deleted" not in problem["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"data": {WEB_INFO: {"items": []}}, "status": "ok"},
        {"data": {WEB_INFO: None}, "status": "ok"},
        {"data": None, "status": "ok"},
    ],
    ids=["no-items", "null-post", "null-data"],
)
def test_a_post_marked_missing_in_the_known_shape_is_a_deleted_post(tmp_path, body):
    with FakeSite() as site:
        _drifted_instagram(site, "application/json", json.dumps(body).encode())
        problem = _collect(tmp_path, site)
    assert problem["reason"] == "post_not_found"
    assert "post deleted" in problem["message"] and "changed shape" not in problem["message"]
    assert "--recheck" in problem["message"]
