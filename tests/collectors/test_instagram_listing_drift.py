"""Profile and hashtag listings whose answer changed shape (a renamed key instaloader reads) end
that listing with one clear failure, ``answer_changed_shape`` naming the key and the URL asked,
through instaloader's own code against the loopback server. Before, a renamed key on a profile's
page read as "profile does not exist", and one in a hashtag's or a posts page's answer was an
uncaught KeyError that ended discovery. A profile that does not exist is still told apart."""

from __future__ import annotations

import json
from typing import Any

import pytest

from collectors.api import collect
from collectors.config import load_collect_config
from movingfashion.world.sites import START_PAGE
from tests.collectors.fakesite import FakeSite, loopback_http

NOTHING = (404, "text/html", b"<html><body>Sorry, this page isn't available.</body></html>")


def _page(*queries: Any) -> tuple[int, str, bytes]:
    """A www.instagram.com page embedding ``queries`` (each a query's ``data``) as the site does."""
    blob = {
        "require": [
            ["ScheduledServerJS", "handle", None, [{"__bbox": {"result": {"data": q}}}]] for q in queries
        ]
    }
    html = f'<html><body><script type="application/json" data-sjs>{json.dumps(blob)}</script></body></html>'
    return 200, "text/html", html.encode()


def _json(data: Any) -> tuple[int, str, bytes]:
    return 200, "application/json", json.dumps(data).encode()


def _instagram(site: FakeSite, answers: dict[str, tuple[int, str, bytes]]) -> None:
    """``site`` as Instagram: its start page, and ``answers`` by path (query left off), GET or POST."""

    def serve(handler, method: str) -> None:
        if method == "POST":
            handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        path = handler.path.split("?", 1)[0]
        site.hits[f"{method} {path}"] += 1
        status, ctype, body = (200, "text/html", START_PAGE) if path == "/" else answers.get(path, NOTHING)
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(body)))
        if path == "/":
            handler.send_header("Set-Cookie", "csrftoken=c; Path=/")
        handler.end_headers()
        handler.wfile.write(body)

    cls = site.server.RequestHandlerClass
    cls.do_GET = lambda handler: serve(handler, "GET")
    cls.do_POST = lambda handler: serve(handler, "POST")


def _cfg(site, **instagram: Any):
    """The settings for collecting from ``site``: no retries, no query pause, these ``instagram``
    settings over the defaults."""
    cfg = load_collect_config(base_url=site.base)
    return cfg.model_copy(
        update={
            "http": loopback_http(max_retries=0),
            "instagram": cfg.instagram.model_copy(update={"query_sleep": False, **instagram}),
        }
    )


def _collect(tmp_path, site, target: str, **instagram: Any) -> list[dict]:
    """``target``'s problems, collected with these ``instagram`` settings over the defaults."""
    cfg = _cfg(site, **instagram)
    s = collect("instagram", [target], root=tmp_path / "d", catalog=tmp_path / "c.sqlite", cfg=cfg)
    return s.problems


def _user(**fields: Any) -> dict[str, Any]:
    """The profile a logged-out profile page embeds, in the shape instaloader reads."""
    timeline = {"edges": [], "page_info": {"has_next_page": True, "end_cursor": "c1"}}
    user = {"pk": "101", "id": "p101", "username": "nora", "is_private": False}
    return {**user, "polaris_ordered_timeline_connection": timeline, **fields}


PAGE = "https://www.instagram.com/nora/"
GRAPHQL = "https://www.instagram.com/api/graphql"


def _without(d: dict[str, Any], key: str, renamed: str) -> dict[str, Any]:
    return {(renamed if k == key else k): v for k, v in d.items()}


@pytest.mark.parametrize(
    ("answers", "key", "url"),
    [
        ({"/nora/": _page({"xig_user_by_username_v2": _user()})}, "xig_user_by_username", PAGE),
        (
            {"/nora/": _page({"xig_user_by_username": _without(_user(), "pk", "user_pk")})},
            "xig_user_by_username.pk",
            PAGE,
        ),
        (
            {
                "/nora/": _page(
                    {"xig_user_by_username": _without(_user(), "polaris_ordered_timeline_connection", "tl")}
                )
            },
            "xig_user_by_username.polaris_ordered_timeline_connection",
            PAGE,
        ),
        (
            {
                "/nora/": _page({"xig_user_by_username": _user()}),
                "/api/graphql": _json({"data": {"node": {"tl": {}}}}),
            },
            "polaris_ordered_timeline_connection",
            GRAPHQL,
        ),
    ],
    ids=["renamed-profile-query", "renamed-pk", "renamed-posts-on-the-page", "renamed-posts-page"],
)
def test_a_profile_listing_whose_answer_changed_shape_says_so_naming_the_key_and_url(
    tmp_path, answers, key, url
):
    with FakeSite() as site:
        _instagram(site, answers)
        problems = _collect(tmp_path, site, "profile:nora")
    (problem,) = problems
    assert (
        problem["status"] == "failed" and problem["stage"] == "discovery" and problem["url"] == "profile:nora"
    )
    assert problem["reason"] == "answer_changed_shape"
    assert (
        f"the site's answer changed shape (missing key {key} at {url}): update the toolkit"
        in problem["message"]
    )
    assert "does not exist" not in problem["message"]


@pytest.mark.parametrize(
    "answers",
    [{}, {"/nora/": _page({"xig_user_by_username": None})}],
    ids=["page-404", "null-profile"],
)
def test_a_profile_that_does_not_exist_is_still_told_apart(tmp_path, answers):
    with FakeSite() as site:
        _instagram(site, answers)
        (problem,) = _collect(tmp_path, site, "profile:nora")
    assert problem["reason"] == "http_404" and "does not exist" in problem["message"]
    assert "changed shape" not in problem["message"]


def test_a_profile_in_the_known_shape_lists_without_a_problem(tmp_path):
    """The control: the same answers with the keys in place list the profile (no posts here)."""
    posts = {"edges": [], "page_info": {"has_next_page": False}}
    answers = {
        "/nora/": _page({"xig_user_by_username": _user()}),
        "/api/graphql": _json({"data": {"node": {"polaris_ordered_timeline_connection": posts}}}),
    }
    with FakeSite() as site:
        _instagram(site, answers)
        assert _collect(tmp_path, site, "profile:nora") == []
        assert site.hits["POST /api/graphql"] == 1


WEB_INFO = "/api/v1/tags/web_info/"


@pytest.mark.parametrize(
    ("answers", "key", "url"),
    [
        (
            {WEB_INFO: _json({"payload": {"name": "ootd", "id": "1"}, "status": "ok"})},
            "data",
            f"https://i.instagram.com{WEB_INFO}",
        ),
        (
            {
                WEB_INFO: _json({"data": {"name": "ootd", "id": "1"}, "status": "ok"}),
                "/graphql/query": _json({"data": {"tag": {}}, "status": "ok"}),
            },
            "hashtag",
            "https://www.instagram.com/graphql/query",
        ),
    ],
    ids=["renamed-web-info", "renamed-posts-query"],
)
def test_a_hashtag_listing_whose_answer_changed_shape_says_so_naming_the_key_and_url(
    tmp_path, answers, key, url
):
    with FakeSite() as site:
        _instagram(site, answers)
        (problem,) = _collect(tmp_path, site, "hashtag:ootd")
    assert (
        problem["status"] == "failed" and problem["stage"] == "discovery" and problem["url"] == "hashtag:ootd"
    )
    assert problem["reason"] == "answer_changed_shape"
    assert (
        f"the site's answer changed shape (missing key {key} at {url}): update the toolkit"
        in problem["message"]
    )


def test_a_hashtag_that_does_not_exist_is_still_a_404(tmp_path):
    with FakeSite() as site:
        _instagram(site, {})
        (problem,) = _collect(tmp_path, site, "hashtag:ootd")
    assert problem["reason"] == "http_404" and "changed shape" not in problem["message"]


def _cli_args(tmp_path, site) -> tuple[list, Any]:
    """``mf-collect`` arguments reading ``hashtag:ootd`` then ``profile:nora`` from ``site``, and a
    config file (no retries, no query pause) for ``--config``."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "http:\n  max_retries: 0\n  rate_per_host: 1000\n  burst_per_host: 100\ninstagram:\n  query_sleep: false\n"
    )
    return [
        "instagram",
        "hashtag:ootd",
        "profile:nora",
        "--base-url",
        site.base,
        "--root",
        tmp_path / "d",
    ], cfg


def test_mf_collect_ends_a_changed_listing_with_exit_1_and_the_one_error_no_traceback(tmp_path, capsys):
    """Through the command line: the source that failed is listed (exit 1, as any failed item),
    the next target is still read, and no traceback is printed."""
    from tests.collectors.test_cli import run_cli

    answers = {
        WEB_INFO: _json({"data": {"name": "ootd", "id": "1"}, "status": "ok"}),
        "/graphql/query": _json({"data": {"tag": {}}, "status": "ok"}),
    }
    with FakeSite() as site:
        _instagram(site, answers)
        args, cfg = _cli_args(tmp_path, site)
        code, out, err = run_cli([*args, "--config", cfg, "--json"], capsys)
    assert code == 1, err
    problems = {p["url"]: p for p in json.loads(out)["problems"]}
    assert problems["hashtag:ootd"]["reason"] == "answer_changed_shape"
    assert problems["profile:nora"]["reason"] == "http_404"  # the next target was read
    assert "Traceback" not in err and "KeyError" not in err
