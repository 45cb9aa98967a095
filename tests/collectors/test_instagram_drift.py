"""Instagram answering in another shape (an HTML page instead of JSON, a renamed key): the post
fails with a line that names its URL, what instaloader found wrong and what to do."""

from __future__ import annotations

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


@pytest.mark.parametrize(
    ("ctype", "body", "says", "todo"),
    [
        (
            "text/html",
            b"<html><body>Please wait a few minutes before you try again.</body></html>",
            "JSON Query to api/graphql: Expecting value",
            "an HTML page instead of JSON",
        ),
        (
            "application/json",
            b'{"data": {"xdt_api__v1__media__shortcode__web_info_v2": {"items": []}}, "status": "ok"}',
            "Fetching Post metadata failed",
            "Instagram's answer changed shape",
        ),
    ],
    ids=["html-not-json", "renamed-key"],
)
def test_a_drifted_api_answer_names_the_post_what_was_wrong_and_what_to_do(tmp_path, ctype, body, says, todo):
    with FakeSite() as site:
        _drifted_instagram(site, ctype, body)
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
    assert says in problem["message"] and todo in problem["message"] and "rerun" in problem["message"]
