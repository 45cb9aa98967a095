"""Instagram listings answered with null (or a list) where instaloader reads an object, through
instaloader's own code against the loopback server. Before, a hashtag's ``"data": null`` (or a
null block of posts) was a bare TypeError inside instaloader that ended the whole run; a logged-in
profile query in another shape read as "profile does not exist" (or an AttributeError); and a
200 page embedding no data at all (a missing profile's page, a login page) read as a changed
site. Now each says what it is, naming the key and URL and what to do, and the run goes on."""

from __future__ import annotations

import json
import os
import pickle
from typing import Any

import pytest

from tests.collectors.fakesite import FakeSite
from tests.collectors.test_instagram_listing_drift import (
    _cfg,
    _cli_args,
    _collect,
    _instagram,
    _json,
    _page,
    _user,
)

WEB_INFO = "/api/v1/tags/web_info/"
TAG_OK = _json({"data": {"name": "ootd", "id": "1"}, "status": "ok"})
I_WEB_INFO = f"https://i.instagram.com{WEB_INFO}"
GRAPHQL = "https://www.instagram.com/graphql/query"


def _posts(block: Any) -> dict[str, Any]:
    return {WEB_INFO: TAG_OK, "/graphql/query": _json({"data": {"hashtag": block}, "status": "ok"})}


@pytest.mark.parametrize(
    ("answers", "said"),
    [
        ({WEB_INFO: _json({"data": None, "status": "ok"})}, f"key data holds null at {I_WEB_INFO}"),
        ({WEB_INFO: _json({"graphql": None, "status": "ok"})}, f"key graphql holds null at {I_WEB_INFO}"),
        ({WEB_INFO: _json([{"name": "ootd"}])}, f"key (top level) holds a list at {I_WEB_INFO}"),
        ({WEB_INFO: _json({"data": {"name": None, "id": "1"}})}, f"key data.name holds null at {I_WEB_INFO}"),
        (
            {WEB_INFO: TAG_OK, "/graphql/query": _json({"data": None, "status": "ok"})},
            f"key data holds null at {GRAPHQL}",
        ),
        (_posts(None), f"key data.hashtag holds null at {GRAPHQL}"),
        (
            _posts({"edge_hashtag_to_media": None}),
            f"key data.hashtag.edge_hashtag_to_media holds null at {GRAPHQL}",
        ),
        (
            _posts({"edge_hashtag_to_media": {"edges": None, "count": 0}}),
            f"key data.hashtag.edge_hashtag_to_media.edges holds null at {GRAPHQL}",
        ),
        (
            _posts({"edge_hashtag_to_media": {"edges": [], "page_info": None}}),
            f"key data.hashtag.edge_hashtag_to_media.page_info holds null at {GRAPHQL}",
        ),
    ],
    ids=[
        "null-data",
        "null-graphql",
        "list-answer",
        "null-name",
        "null-posts-data",
        "null-hashtag",
        "null-media",
        "null-edges",
        "null-page-info",
    ],
)
def test_a_hashtag_answer_with_a_null_block_says_the_answer_changed_naming_key_url_and_what_to_do(
    tmp_path, answers, said
):
    with FakeSite() as site:
        _instagram(site, answers)
        (problem,) = _collect(tmp_path, site, "hashtag:ootd")
    assert problem["stage"] == "discovery" and problem["url"] == "hashtag:ootd"
    assert problem["status"] == "failed" and problem["reason"] == "answer_changed_shape"
    assert f"the site's answer changed shape ({said}): update the toolkit" in problem["message"]
    assert "a rerun collects it" in problem["message"]  # what to do


def test_mf_collect_goes_on_after_a_null_hashtag_answer_and_a_rerun_reads_it_again(tmp_path, capsys):
    """Through the command line: exit 1 naming the hashtag, the next target still read, no
    traceback; once the site answers in its shape again, the rerun lists the hashtag (exit 0)."""
    from tests.collectors.test_cli import run_cli

    with FakeSite() as site:
        _instagram(site, {WEB_INFO: _json({"data": None, "status": "ok"})})
        args, cfg = _cli_args(tmp_path, site)
        code, out, err = run_cli([*args, "--config", cfg, "--json"], capsys)
        assert code == 1, err
        problems = {p["url"]: p for p in json.loads(out)["problems"]}
        assert problems["hashtag:ootd"]["reason"] == "answer_changed_shape"
        assert "key data holds null" in problems["hashtag:ootd"]["message"]
        assert problems["profile:nora"]["reason"] == "http_404"  # the next target was read
        assert "Traceback" not in err and "TypeError" not in err

        _instagram(
            site, _posts({"edge_hashtag_to_media": {"edges": [], "page_info": {"has_next_page": False}}})
        )
        code, out, err = run_cli([*args[:2], *args[3:], "--config", cfg, "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["problems"] == []


def _logged_in_collect(tmp_path, site) -> list[dict]:
    """``profile:nora`` collected with a saved session (instaloader then asks the profile query)."""
    from collectors.api import collect

    session = tmp_path / "session-mia"
    session.write_bytes(pickle.dumps({"csrftoken": "c", "sessionid": "s"}))
    os.chmod(session, 0o600)
    cfg = _cfg(site)
    s = collect(
        "instagram",
        ["profile:nora"],
        root=tmp_path / "d",
        catalog=tmp_path / "c.sqlite",
        cfg=cfg,
        session_file=str(session),
        login="mia",
    )
    return s.problems


PAGE = {"/nora/": _page({"xig_user_by_username": _user()})}


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ({"data": {"user_v2": {"pk": "101"}}, "status": "ok"}, "missing key data.user"),
        ({"payload": {"user": {"pk": "101"}}, "status": "ok"}, "missing key data"),
        ({"data": None, "status": "ok"}, "key data holds null"),
        ({"data": {"user": ["101"]}, "status": "ok"}, "key data.user holds a list"),
    ],
    ids=["renamed-user", "renamed-data", "null-data", "list-user"],
)
def test_a_logged_in_profile_query_in_another_shape_is_drift_not_a_missing_profile(tmp_path, answer, said):
    with FakeSite() as site:
        _instagram(site, {**PAGE, "/graphql/query": _json(answer)})
        (problem,) = _logged_in_collect(tmp_path, site)
        assert site.hits["POST /graphql/query"] == 1
    assert problem["url"] == "profile:nora" and problem["reason"] == "answer_changed_shape"
    assert f"the site's answer changed shape ({said} at {GRAPHQL}): update the toolkit" in problem["message"]
    assert "does not exist" not in problem["message"]


def test_a_logged_in_profile_query_answering_no_user_is_a_profile_this_login_cannot_see(tmp_path):
    """``data.user`` null in the known shape, while the (logged-out) page shows the profile: it
    blocked the login, or is restricted; neither a missing profile nor a changed site."""
    with FakeSite() as site:
        _instagram(site, {**PAGE, "/graphql/query": _json({"data": {"user": None}, "status": "ok"})})
        (problem,) = _logged_in_collect(tmp_path, site)
    assert problem["reason"] == "profile_unavailable"
    assert "blocked this login" in problem["message"] and GRAPHQL in problem["message"]
    assert "--session-file" in problem["message"]
    assert "does not exist" not in problem["message"] and "changed shape" not in problem["message"]


def test_instagrams_own_error_answer_is_named_as_such(tmp_path):
    """``{"data": null, "errors": [...]}`` is Instagram's error answer ("execution error")."""
    answer = {
        "data": None,
        "errors": [{"message": "execution error", "severity": "CRITICAL"}],
        "status": "ok",
    }
    with FakeSite() as site:
        _instagram(site, {**PAGE, "/graphql/query": _json(answer)})
        (problem,) = _logged_in_collect(tmp_path, site)
    assert problem["reason"] == "instaloader_error"
    assert f"Instagram answered an error at {GRAPHQL}: execution error" in problem["message"]
    assert "rerun later" in problem["message"]
    assert "does not exist" not in problem["message"] and "changed shape" not in problem["message"]


def _html(body: str) -> tuple[int, str, bytes]:
    return 200, "text/html", f"<html><head><title>Instagram</title></head><body>{body}</body></html>".encode()


@pytest.mark.parametrize("other_queries", [False, True], ids=["no-data", "other-queries-only"])
def test_a_200_page_saying_the_profile_is_not_available_is_a_missing_profile(tmp_path, other_queries):
    """Instagram serves a missing profile's page as a 404, or as a 200 page saying so (which may
    embed the data of queries of its own, e.g. the viewer's, but no profile)."""
    page = _html("<h2>Sorry, this page isn&#39;t available.</h2><p>The link you followed may be broken.</p>")
    if other_queries:
        blob = _page({"xdt_viewer": {"user": None}})[2].decode()
        page = (200, "text/html", page[2].replace(b"</body>", blob.split("<body>", 1)[1].encode()))
    with FakeSite() as site:
        _instagram(site, {"/nora/": page})
        (problem,) = _collect(tmp_path, site, "profile:nora")
    assert problem["reason"] == "http_404" and "does not exist" in problem["message"]
    assert "changed shape" not in problem["message"]


def test_the_page_markers_are_settings_a_page_in_another_language_is_read_by(tmp_path):
    """The words that say a profile is missing or that a page is the login page are settings
    (``instagram.missing_page_pattern`` / ``login_page_pattern``): a user reading Instagram in
    another language sets them and gets the right reason, not a retried block."""
    from collectors.config import InstagramConfig

    utf8 = "text/html; charset=utf-8"  # as Instagram serves its pages
    missing = (200, utf8, _html("<h2>Lo sentimos, esta p\u00e1gina no est\u00e1 disponible.</h2>")[2])
    login = (200, utf8, _html('<a href="/cuentas/entrar/">Entrar</a>')[2])
    with FakeSite() as site:
        _instagram(site, {"/nora/": missing, "/mia/": login})
        (default,) = _collect(tmp_path / "a", site, "profile:nora")
        (nora,) = _collect(
            tmp_path / "b", site, "profile:nora", missing_page_pattern="no est\u00e1 disponible"
        )
        (mia,) = _collect(tmp_path / "c", site, "profile:mia", login_page_pattern="/cuentas/entrar/")
    assert default["reason"] == "page_without_data"
    assert nora["reason"] == "http_404" and "does not exist" in nora["message"]
    assert mia["reason"] == "login_required"
    with pytest.raises(ValueError, match="login_page_pattern"):
        InstagramConfig(login_page_pattern="(")


def test_a_200_login_page_in_place_of_the_profile_asks_for_a_login(tmp_path):
    page = _html('<form id="loginForm" action="/accounts/login/ajax/"><input name="username"></form>')
    with FakeSite() as site:
        _instagram(site, {"/nora/": page})
        (problem,) = _collect(tmp_path, site, "profile:nora")
    assert problem["reason"] == "login_required"
    assert "login page at https://www.instagram.com/nora/" in problem["message"]
    assert "--session-file" in problem["message"]
    assert "changed shape" not in problem["message"] and "does not exist" not in problem["message"]


def test_a_200_page_embedding_no_data_at_all_is_a_block_not_a_changed_site(tmp_path):
    """A 'please wait' page (or any page without the site's embedded data) is not a renamed key:
    a rerun later reads the profile. A page embedding other query data stays drift (see
    test_instagram_listing_drift)."""
    with FakeSite() as site:
        _instagram(site, {"/nora/": _html("Please wait a few minutes before you try again.")})
        (problem,) = _collect(tmp_path, site, "profile:nora")
    assert problem["reason"] == "page_without_data"
    assert "https://www.instagram.com/nora/ embeds no data" in problem["message"]
    assert "rerun later" in problem["message"]
    assert "changed shape" not in problem["message"] and "does not exist" not in problem["message"]


POST_INFO = "xdt_api__v1__media__shortcode__web_info"


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"data": [1]}, "key data holds a list"),
        ({"data": {POST_INFO: [1]}}, f"key data.{POST_INFO} holds a list"),
        ({"data": {POST_INFO: {"items": "CxAbc01"}}}, f"key data.{POST_INFO}.items holds a string"),
        ({"data": {POST_INFO: {"items": [None]}}}, f"key data.{POST_INFO}.items[0] holds null"),
    ],
    ids=["list-data", "list-web-info", "string-items", "null-item"],
)
def test_a_post_answer_with_a_list_or_null_where_an_object_is_read_is_drift_naming_key_and_url(
    tmp_path, body, said
):
    """Before: "post CxAbc01: field node missing or invalid" (malformed_structure, the words of a
    saved file), naming neither the key nor the URL asked."""
    from tests.collectors.test_instagram_drift import URL, _drifted_instagram
    from tests.collectors.test_instagram_drift import _collect as collect_post

    with FakeSite() as site:
        _drifted_instagram(site, "application/json", json.dumps(body).encode())
        problem = collect_post(tmp_path, site)
    assert problem["reason"] == "answer_changed_shape"
    assert f"the site's answer changed shape ({said} at {URL}): update the toolkit" in problem["message"]
