"""The review server over HTTP: tokens, hosts, path traversal, byte ranges, decisions, queue."""

from __future__ import annotations

import http.client
import json
import shutil
import uuid

import pytest
from click.testing import CliRunner

from annotations.cli import review_page, tracklets
from annotations.review.media import Refused, parse_range, resolve_media
from annotations.review.queue import build_queue, sample_draw
from annotations.review.server import TOKEN_HEADER, check_bind, is_loopback
from annotations.tracklet_files import (
    read_video_tracklets,
    set_official_tracklet,
    tracklet_file,
    write_video_tracklets,
)
from schemas.catalog import Catalog
from schemas.errors import ConfigError, MFError
from schemas.items import Status
from schemas.official import read_official
from schemas.review import list_decisions, record_decision
from tests.annotations.review.conftest import running


def _req(srv, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    h = {"Host": f"127.0.0.1:{srv.port}"} | (headers or {})
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        h["Content-Type"] = "application/json"
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)  # the path goes out as is
    for k, v in h.items():
        conn.putheader(k, v)
    if data is not None:
        conn.putheader("Content-Length", str(len(data)))
    conn.endheaders(data)
    resp = conn.getresponse()
    out = resp.status, dict(resp.getheaders()), resp.read()
    conn.close()
    return out


def _post(srv, path, body, token=True):
    return _req(srv, "POST", path, body, {TOKEN_HEADER: srv.app.token} if token else {})


def test_writes_need_the_token_in_the_header(review_setup):
    stem = review_setup.facts["flagged"][0]
    with running(review_setup) as srv:
        t = srv.app.token
        for headers in ({}, {TOKEN_HEADER: "nope"}, {TOKEN_HEADER: t[:-1]}):
            status, _, _ = _req(srv, "POST", "/api/decision", {"video": stem, "kind": "accept"}, headers)
            assert status == 403
        status, _, _ = _req(srv, "POST", f"/api/decision?token={t}", {"video": stem, "kind": "accept"})
        assert status == 403  # a token in the URL does not authorise a write
        # another origin cannot write even with the token; the same origin can
        status, _, _ = _req(
            srv,
            "POST",
            "/api/decision",
            {"video": stem, "kind": "accept"},
            {TOKEN_HEADER: t, "Origin": "http://evil.example"},
        )
        assert status == 403
        with Catalog(review_setup.catalog) as cat:
            assert list_decisions(cat, include_undone=True) == []
        status, _, body = _req(
            srv,
            "POST",
            "/api/decision",
            {"video": stem, "kind": "accept"},
            {TOKEN_HEADER: t, "Origin": f"http://127.0.0.1:{srv.port}"},
        )
        assert status == 200 and json.loads(body)["decision"]["kind"] == "accept"
        # reads need the token too; the page and its static files do not
        assert _req(srv, "GET", "/api/queue")[0] == 403
        assert _req(srv, "GET", f"/api/queue?token={t}")[0] == 200
        status, headers, page = _req(srv, "GET", "/")
        assert (
            status == 200
            and b"review.js" in page
            and "script-src 'self'" in headers["Content-Security-Policy"]
        )
        assert _req(srv, "GET", "/static/review.js")[0] == 200
        assert _req(srv, "GET", "/static/../server.py")[0] == 404


def test_a_foreign_host_header_is_refused(review_setup):
    with running(review_setup) as srv:
        t = srv.app.token
        assert _req(srv, "GET", f"/api/queue?token={t}", headers={"Host": "evil.example"})[0] == 403
        assert _req(srv, "GET", f"/api/queue?token={t}", headers={"Host": f"localhost:{srv.port}"})[0] == 200


@pytest.mark.parametrize(
    "path",
    [
        "/media/../../etc/passwd",
        "/media/%2e%2e/%2e%2e/etc/passwd",
        "/media/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/media/videos/..%2f..%2f..%2fetc/passwd",
        "/media/videos/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/media//etc/passwd",
        "/media/%2fetc%2fpasswd",
        "/media/videos/..\\..\\train.json",
        "/media/train.json",
        "/media/tracklets/x.json",
        "/media/videos/%00.mp4",
        "/media/videos/%ff.mp4",
    ],
)
def test_path_traversal_is_refused(review_setup, path):
    with running(review_setup) as srv:
        status, _, body = _req(srv, "GET", f"{path}?token={srv.app.token}")
        assert status == 403, (path, status, body)
        assert b"root:" not in body


def test_media_outside_through_a_symlink_is_refused(review_setup, tmp_path):
    (tmp_path / "secret.jpg").write_bytes(b"secret")
    shop_dir = review_setup.dataset / "imgs"
    assert shop_dir.is_dir(), "the archive layout keeps shop images under imgs/"
    (shop_dir / "link.jpg").symlink_to(tmp_path / "secret.jpg")
    with pytest.raises(Refused):
        resolve_media(review_setup.dataset, "imgs/link.jpg")
    with pytest.raises(FileNotFoundError):
        resolve_media(review_setup.dataset, "imgs/none.jpg")


def test_a_media_folder_linked_out_of_the_dataset_is_refused(review_setup, tmp_path):
    """A media folder that is itself a link (``fabric -> /elsewhere``) serves nothing of its target."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(b"secret")
    linked = review_setup.dataset / "fabric"
    shutil.rmtree(linked, ignore_errors=True)
    linked.symlink_to(outside, target_is_directory=True)
    with pytest.raises(Refused):
        resolve_media(review_setup.dataset, "fabric/secret.jpg")
    with running(review_setup) as srv:
        status, _, body = _req(srv, "GET", f"/media/fabric/secret.jpg?token={srv.app.token}")
    assert status == 403 and b"secret" not in body


def test_the_access_log_masks_the_token(review_setup, monkeypatch, capsys):
    monkeypatch.setenv("MF_REVIEW_LOG", "1")
    with running(review_setup) as srv:
        token = srv.app.token
        status, _, _ = _req(srv, "GET", f"/media/imgs/none.jpg?a=1&token={token}")
    assert status == 404
    err = capsys.readouterr().err
    assert "/media/imgs/none.jpg?a=1&token=REDACTED" in err and token not in err


def test_every_queued_shop_image_and_video_is_served(review_setup):
    with running(review_setup) as srv:
        t = srv.app.token
        queue = json.loads(_req(srv, "GET", f"/api/queue?token={t}")[2])
        items = queue["items"] if isinstance(queue, dict) else queue
        assert items
        for it in items:
            for rel in (it["shop"], it["video"]):
                status, h, body = _req(srv, "GET", f"/media/{rel}?token={t}")
                assert status == 200, (rel, status)
                assert body == (review_setup.dataset / rel).read_bytes()


def test_media_is_served_with_byte_ranges(review_setup):
    rel = review_setup.facts["video_path"][review_setup.facts["videos"][0]]
    data = (review_setup.dataset / rel).read_bytes()
    with running(review_setup) as srv:
        q = f"/media/{rel}?token={srv.app.token}"
        status, h, body = _req(srv, "GET", q)
        assert (
            status == 200
            and body == data
            and h["Content-Type"] == "video/mp4"
            and h["Accept-Ranges"] == "bytes"
        )
        status, h, body = _req(srv, "GET", q, headers={"Range": "bytes=100-199"})
        assert status == 206 and body == data[100:200] and h["Content-Range"] == f"bytes 100-199/{len(data)}"
        status, _, body = _req(srv, "GET", q, headers={"Range": "bytes=-10"})
        assert status == 206 and body == data[-10:]
        assert _req(srv, "GET", q, headers={"Range": f"bytes={len(data)}-"})[0] == 416
    assert parse_range(None, 10) is None and parse_range("bytes=5-", 10) == (5, 9)
    for bad in ("bytes=9-3", "items=0-1", "bytes=0-1,3-4", "bytes=-0"):
        with pytest.raises(ValueError):
            parse_range(bad, 10)


def test_decisions_through_the_api_reach_catalog_and_files(review_setup):
    f = review_setup.facts
    a, b, c = f["flagged"][0], f["flagged"][1], f["videos"][5]
    with running(review_setup, sample_rate=1.0) as srv:
        rid = str(uuid.uuid4())
        for _ in range(2):  # a retried request is stored once
            status, _, body = _post(srv, "/api/decision", {"video": a, "kind": "accept", "request_id": rid})
            assert status == 200
        assert json.loads(body)["created"] is False
        assert _post(srv, "/api/decision", {"video": b, "kind": "reject", "reason": "blurry"})[0] == 200
        assert _post(srv, "/api/decision", {"video": c, "kind": "tracklet", "tracklet": 2})[0] == 200
        assert _post(srv, "/api/decision", {"video": c, "kind": "class", "df2_class": 11})[0] == 200
        assert _post(srv, "/api/decision", {"video": c, "kind": "tracklet", "tracklet": 7})[0] == 422
        assert _post(srv, "/api/decision", {"video": c, "kind": "class", "df2_class": "x"})[0] == 400
        assert _post(srv, "/api/decision", {"video": "nope", "kind": "accept"})[0] == 404
        queue = json.loads(_req(srv, "GET", f"/api/queue?token={srv.app.token}")[2])
        assert queue["reviewed"] == 2 and queue["total"] == len(f["videos"])
        row_c = next(it for it in queue["items"] if it["stem"] == c)
        assert row_c["ground_truth"] == 2 and row_c["df2_class"] == 11
        # the pick rewrote the tracklet file and the official tracklet of the video
        vp = f["video_path"][c]
        vt = read_video_tracklets(tracklet_file(review_setup.dataset, vp))
        assert vt.ground_truth == 2
        split = read_official(review_setup.dataset / "train.json") | read_official(
            review_setup.dataset / "test.json"
        )
        pid = f["product"][c]
        assert split[pid].tracklets[split[pid].video_paths.index(vp)] == vt.tracklets[2].official()
        # undo: the class change, then the pick (files back to the builder's choice)
        for _ in range(2):
            assert _post(srv, "/api/undo", {"video": c, "request_id": str(uuid.uuid4())})[0] == 200
        assert read_video_tracklets(tracklet_file(review_setup.dataset, vp)).ground_truth == 0
        assert _post(srv, "/api/undo", {"video": c})[0] == 409
        item = json.loads(_req(srv, "GET", f"/api/item?video={a}&token={srv.app.token}")[2])
        assert item["fps"] == pytest.approx(30.0) and len(item["tracklets"]) == 3
        assert [d["kind"] for d in item["decisions"]] == ["accept"]
        status, h, jpg = _req(srv, "GET", f"/api/crops?video={a}&tracklet=1&token={srv.app.token}")
        assert status == 200 and jpg[:3] == b"\xff\xd8\xff"
    with Catalog(review_setup.catalog) as cat:
        pa, pb = f["product"][a], f["product"][b]
        assert cat.get_item(f["source"][pa], pa).status == Status.ACCEPTED
        assert cat.get_item(f["source"][pb], pb).status == Status.REJECTED
        assert [(d.video, d.kind) for d in list_decisions(cat)] == [
            (f["video_path"][a], "accept"),
            (f["video_path"][b], "reject"),
        ]


def test_a_pick_the_files_missed_is_redone_at_start(review_setup):
    f = review_setup.facts
    vp = f["video_path"][f["videos"][3]]
    with Catalog(review_setup.catalog) as cat:  # stored, but the server died before writing files
        record_decision(
            cat,
            video=vp,
            product_id=f["product"][f["videos"][3]],
            kind="tracklet",
            tracklet=1,
            extra_prev={"ground_truth": 0},
        )
    with running(review_setup) as srv:
        assert srv.app.reconciled == [vp]
    assert read_video_tracklets(tracklet_file(review_setup.dataset, vp)).ground_truth == 1


def test_queue_flagged_first_then_a_stable_sample(review_setup):
    f = review_setup.facts
    q = build_queue(review_setup.dataset, 0.5, seed=3)
    assert [it.stem for it in q.items[: q.flagged]] == f["flagged"]
    assert q.flagged == 2 and q.accepted == len(f["videos"]) - 2
    sampled = [it.stem for it in q.items[q.flagged :]]
    assert sampled == [it.stem for it in build_queue(review_setup.dataset, 0.5, seed=3).items[q.flagged :]]
    assert set(sampled) <= set(f["videos"]) - set(f["flagged"])
    expected = {s for s in set(f["videos"]) - set(f["flagged"]) if sample_draw(3, f["video_path"][s]) < 0.5}
    assert set(sampled) == expected and 0 < len(expected) < q.accepted
    assert build_queue(review_setup.dataset, 0.0).sampled == 0
    assert build_queue(review_setup.dataset, 1.0).sampled == q.accepted


def test_a_non_loopback_bind_needs_an_explicit_host(review_setup, monkeypatch):
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")
    with pytest.raises(ConfigError, match="not a loopback"):
        check_bind("0.0.0.0")
    check_bind("0.0.0.0", allow_non_loopback=True)
    # through the CLI: the address from the environment is not an explicit --host
    monkeypatch.setenv("MF_REVIEW_HOST", "0.0.0.0")
    for cmd, args in ((review_page, []), (tracklets, ["review", "--serve"])):
        res = CliRunner().invoke(cmd, [*args, "--dataset", str(review_setup.dataset), "--port", "0"])
        assert res.exit_code != 0 and "not a loopback address" in str(res.exception)
        assert "MF_REVIEW_HOST" in str(res.exception)  # what gave the address, not --host
    assert not (review_setup.dataset / ".review.sqlite").exists()  # refused before anything was created
    assert "MF_REVIEW_HOST" in CliRunner().invoke(review_page, ["--help"]).output


def test_a_bad_lock_wait_is_refused_before_the_page_starts(review_setup, monkeypatch):
    """Not at the reviewer's first decision (each would answer 422, unsaved)."""
    monkeypatch.setenv("MF_LOCK_WAIT_S", "abc")
    res = CliRunner().invoke(review_page, ["--dataset", str(review_setup.dataset), "--port", "0"])
    assert res.exit_code != 0 and "MF_LOCK_WAIT_S" in str(res.exception)
    assert not (review_setup.dataset / ".review.sqlite").exists()


def test_crop_strips_in_parallel_threads(review_setup):
    """The browser asks for several strips at once; each decode has its own reader."""
    from concurrent.futures import ThreadPoolExecutor

    stems = review_setup.facts["videos"][:4]
    with running(review_setup, sample_rate=1.0) as srv:
        app = srv.app
        jobs = [(s, i) for s in stems for i in range(3)] * 2
        with ThreadPoolExecutor(6) as ex:
            got = list(
                ex.map(
                    lambda j: _req(srv, "GET", f"/api/crops?video={j[0]}&tracklet={j[1]}&token={app.token}"),
                    jobs,
                )
            )
    assert all(status == 200 and body[:3] == b"\xff\xd8\xff" for status, _, body in got)
    assert len({body for _, _, body in got}) == len(set(jobs))


def test_the_page_loads_nothing_from_elsewhere():
    import re

    from annotations.review.server import STATIC_DIR, STATIC_FILES

    for name in STATIC_FILES:
        text = (STATIC_DIR / name).read_text()
        assert not re.search(r"(https?:)?//[a-z0-9]", text, re.I), name
        assert "innerHTML" not in text and "insertAdjacentHTML" not in text and "document.write" not in text


def test_the_default_review_catalog_is_started_but_a_named_one_must_exist(review_setup, tmp_path):
    from annotations.review.server import ReviewApp
    from schemas.errors import CatalogError

    ds = review_setup.dataset
    default = ds / ".review.sqlite"
    assert not default.exists()
    ReviewApp(ds, default, create_catalog=True).close()  # what mf review does without --catalog
    assert default.is_file()
    typo = tmp_path / "typo" / "catalog.sqlite"
    with pytest.raises(CatalogError, match="catalog not found"):
        ReviewApp(ds, typo)  # --catalog with a mistyped path
    assert not typo.parent.exists()


def test_mf_review_json_is_one_line_and_ctrl_c_exits_130(review_setup):
    import json
    import signal
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "movingfashion", "review", "--dataset", str(review_setup.dataset)]
    cmd += ["--catalog", str(review_setup.catalog), "--port", "0", "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        import select

        ready, _, _ = select.select([proc.stdout], [], [], 120)  # fail, do not hang, if it never starts
        assert ready, "mf review printed nothing in 120 s"
        info = json.loads(proc.stdout.readline())  # the first line alone is the whole document
        assert info["url"].startswith("http://127.0.0.1:") and info["queue"] > 0
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError(
                f"mf review did not stop on Ctrl-C: {proc.communicate()[1][-2000:]}"
            ) from None
        assert proc.returncode == 130 and "stopped" in err, err
    finally:
        proc.kill()


def _raw_post(srv, path: str, data: bytes):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.request(
        "POST",
        path,
        body=data,
        headers={
            "Host": f"127.0.0.1:{srv.port}",
            TOKEN_HEADER: srv.app.token,
            "Content-Type": "application/json",
        },
    )
    resp = conn.getresponse()
    out = resp.status, resp.read()
    conn.close()
    return out


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/undo", {"decision_id": "abc"}, "decision_id"),
        ("/api/undo", {"decision_id": [1]}, "decision_id"),
        ("/api/undo", {"decision_id": 10**30}, "decision_id"),
        ("/api/undo", {"decision_id": True}, "decision_id"),
        ("/api/undo", {"video": ["x"]}, "video"),
        ("/api/undo", {"decision": 1}, "decision"),
        ("/api/decision", {"kind": "class", "df2_class": float("inf")}, "df2_class"),
        ("/api/decision", {"kind": "class", "df2_class": 1.5}, "df2_class"),
        ("/api/decision", {"kind": "class", "df2_class": 0}, "df2_class"),  # no DeepFashion2 class:
        ("/api/decision", {"kind": "class", "df2_class": 14}, "df2_class"),  # 422 before, not 400
        ("/api/decision", {"kind": "tracklet", "tracklet": 10**30}, "tracklet"),
        ("/api/decision", {"kind": "tracklet", "tracklet": -1}, "tracklet"),
        ("/api/decision", {"kind": "accept", "tracklet": 10**30}, "tracklet"),
        ("/api/decision", {"kind": "accept", "note": "x"}, "note"),
        ("/api/decision", {"kind": "note", "note": {"a": 1}}, "note"),
        ("/api/decision", {"kind": "reject", "reason": 5}, "reason"),
        ("/api/decision", {"kind": "import"}, "kind"),
        ("/api/decision", {"kind": ["accept"]}, "kind"),
        ("/api/decision", {"kind": "accept", "request_id": 7}, "request_id"),
        ("/api/decision", {"kind": "accept", "request_id": "r" * 500}, "request_id"),
        ("/api/decision", {"kind": "accept", "extra": 1}, "extra"),
    ],
)
def test_a_malformed_body_is_answered_400_naming_the_field(review_setup, path, body, field):
    stem = review_setup.facts["videos"][2]
    with running(review_setup, sample_rate=1.0) as srv:
        body = {"video": stem, **body} if path == "/api/decision" else body
        status, _, out = _post(srv, path, body)
        assert status == 400 and field in json.loads(out)["error"]
        assert _req(srv, "GET", f"/api/queue?token={srv.app.token}")[0] == 200
    with Catalog(review_setup.catalog) as cat:
        assert list_decisions(cat, include_undone=True) == []  # nothing stored


def test_every_post_gets_an_answer(review_setup, monkeypatch, caplog):
    """Nesting past Python's stack, and any error nobody foresaw: an answer, never a dropped
    connection (the traceback goes to the log)."""
    with running(review_setup, sample_rate=1.0) as srv:
        status, out = _raw_post(srv, "/api/decision", b"[" * 60_000)
        assert status == 400 and "JSON object" in json.loads(out)["error"]

        def boom(body):
            raise RuntimeError("a bug")

        monkeypatch.setattr(srv.app, "undo", boom)
        status, _, out = _post(srv, "/api/undo", {})
        assert status == 500 and "RuntimeError" in json.loads(out)["error"]
        assert "a bug" in caplog.text
        monkeypatch.setattr(srv.app, "item_json", boom)
        status, _, out = _req(srv, "GET", f"/api/item?video=x&token={srv.app.token}")
        assert status == 500 and "RuntimeError" in json.loads(out)["error"]
        assert _req(srv, "GET", f"/api/queue?token={srv.app.token}")[0] == 200


def test_a_request_id_retried_with_another_body_is_refused(review_setup):
    f = review_setup.facts
    a, b = f["videos"][2], f["videos"][3]
    with running(review_setup, sample_rate=1.0) as srv:
        assert _post(srv, "/api/decision", {"video": a, "kind": "accept", "request_id": "r1"})[0] == 200
        for body in ({"video": b, "kind": "accept"}, {"video": a, "kind": "reject", "reason": "x"}):
            status, _, out = _post(srv, "/api/decision", {**body, "request_id": "r1"})
            assert status == 409 and "new request_id" in json.loads(out)["error"]
    with Catalog(review_setup.catalog) as cat:
        assert [(d.video, d.kind) for d in list_decisions(cat)] == [(f["video_path"][a], "accept")]


def test_a_verdict_carries_what_the_page_showed_and_a_retry_still_answers(review_setup):
    """seen_verdict: a verdict from a page that showed another one is refused (409, naming the
    verdict now), one that saw it is stored; a retry of a stored request (its answer lost) is
    answered as the first time, not refused as stale; a bad value is a 400."""
    f = review_setup.facts
    a = f["videos"][2]
    with running(review_setup, sample_rate=1.0) as srv:
        first = {"video": a, "kind": "accept", "request_id": "s1", "seen_verdict": None}
        assert _post(srv, "/api/decision", first)[0] == 200
        status, _, out = _post(srv, "/api/decision", first)  # the retry: the verdict is accept now
        assert status == 200 and json.loads(out)["created"] is False
        stale = {"video": a, "kind": "reject", "reason": "x", "request_id": "s2", "seen_verdict": None}
        status, _, out = _post(srv, "/api/decision", stale)
        assert status == 409 and "was accepted by another page" in json.loads(out)["error"]
        seen = {**stale, "request_id": "s3", "seen_verdict": "accept"}
        assert _post(srv, "/api/decision", seen)[0] == 200
        bad = {**stale, "request_id": "s4", "seen_verdict": "maybe"}
        assert _post(srv, "/api/decision", bad)[0] == 400
        note = {"video": a, "kind": "note", "note": "n", "seen_verdict": "accept"}  # verdicts only
        assert _post(srv, "/api/decision", note)[0] == 400
    with Catalog(review_setup.catalog) as cat:
        assert [d.kind for d in list_decisions(cat, video=f["video_path"][a])] == ["accept", "reject"]


def test_the_undo_of_an_import_is_refused(review_setup):
    f = review_setup.facts
    stem = f["videos"][2]
    vp = f["video_path"][stem]
    with Catalog(review_setup.catalog) as cat:
        record_decision(cat, video=vp, product_id=f["product"][stem], kind="import", note="cvat: x.xml")
    with running(review_setup, sample_rate=1.0) as srv:
        status, _, out = _post(srv, "/api/undo", {"video": stem, "request_id": "u1"})
        assert status == 409
        assert "cannot be undone" in json.loads(out)["error"] and "again" in json.loads(out)["error"]
    with Catalog(review_setup.catalog) as cat:
        assert list_decisions(cat)[0].undone_at is None


def test_a_restart_keeps_a_file_rewritten_after_a_pick_and_says_so(review_setup):
    f = review_setup.facts
    stem = f["videos"][2]
    vp = f["video_path"][stem]
    with running(review_setup, sample_rate=1.0) as srv:
        assert _post(srv, "/api/decision", {"video": stem, "kind": "tracklet", "tracklet": 1})[0] == 200
    vt = read_video_tracklets(tracklet_file(review_setup.dataset, vp))
    vt.ground_truth = 2  # a CVAT import made while the server was down
    write_video_tracklets(review_setup.dataset, vt)
    set_official_tracklet(review_setup.dataset, vt)
    with running(review_setup, sample_rate=1.0) as srv:
        assert srv.app.reconciled == [] and [s["video"] for s in srv.app.superseded] == [vp]
        queue = json.loads(_req(srv, "GET", f"/api/queue?token={srv.app.token}")[2])
        assert queue["superseded"] == srv.app.superseded
        assert next(it for it in queue["items"] if it["stem"] == stem)["ground_truth"] == 2
    assert read_video_tracklets(tracklet_file(review_setup.dataset, vp)).ground_truth == 2


def test_the_crop_strip_follows_a_rewritten_tracklet_file(review_setup):
    """An import that moves boxes (and keeps their number) gets new crops, not the cached ones."""
    from annotations.review.media import crop_strip

    f = review_setup.facts
    stem = f["videos"][2]
    vp = f["video_path"][stem]
    with running(review_setup, sample_rate=1.0) as srv:
        url = f"/api/crops?video={stem}&tracklet=0&token={srv.app.token}"
        status, _, before = _req(srv, "GET", url)
        assert status == 200
        vt = read_video_tracklets(tracklet_file(review_setup.dataset, vp))
        t = vt.tracklets[0]
        t.boxes = {k: [max(0, b[0] - 40), max(0, b[1] - 40), b[2], b[3]] for k, b in t.boxes.items()}
        write_video_tracklets(review_setup.dataset, vt)
        status, _, after = _req(srv, "GET", url)
        assert status == 200 and after != before
        assert after == crop_strip(review_setup.dataset / vp, t.boxes)


def test_a_lone_surrogate_in_a_note_is_stored_not_a_500(review_setup):
    """Valid JSON ``"\\udcff"`` in a note: was HTTP 500 and a traceback; stored as U+FFFD."""
    stem = review_setup.facts["flagged"][0]
    with running(review_setup) as srv:
        status, _, body = _post(srv, "/api/decision", {"video": stem, "kind": "note", "note": "ok\udcff"})
    assert status == 200, body
    assert json.loads(body)["decision"]["note"] == "ok\ufffd"


def test_a_port_in_use_or_an_address_not_here_says_which_option_to_change(review_setup, capsys):
    """Before: `mf review` on a busy port said only "--port: cannot listen ...: Address already
    in use" (no hint, where mf world serve suggests --port 0), and an address this machine does
    not have was blamed on --port too."""
    import socket

    from schemas.cli_support import run_main

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    base = ["--dataset", str(review_setup.dataset), "--catalog", str(review_setup.catalog), "--json"]
    try:
        port = busy.getsockname()[1]
        for extra, where, hint in (
            (["--port", str(port)], "--port", "pick another --port (0 picks a free one)"),
            (["--port", "0", "--host", "192.0.2.1"], "--host", "an address of this machine as --host"),
        ):
            with pytest.raises(SystemExit) as exc:
                run_main(review_page, [*base, *extra])
            doc = json.loads(capsys.readouterr().out)
            assert exc.value.code == 2 and doc["path"] == where and hint in (doc["hint"] or ""), doc
    finally:
        busy.close()


def test_a_failed_bind_leaves_no_review_catalog_in_the_dataset(review_setup, capsys):
    """Before: without --catalog, `mf review` created DATASET/.review.sqlite and only then found
    its port in use, leaving the file behind; now it binds first."""
    import socket

    from schemas.cli_support import run_main

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    before = sorted(p.name for p in review_setup.dataset.iterdir())
    try:
        port = busy.getsockname()[1]
        with pytest.raises(SystemExit) as exc:
            run_main(review_page, ["--dataset", str(review_setup.dataset), "--port", str(port), "--json"])
    finally:
        busy.close()
    assert exc.value.code == 2 and json.loads(capsys.readouterr().out)["path"] == "--port"
    assert sorted(p.name for p in review_setup.dataset.iterdir()) == before


@pytest.mark.parametrize(
    "args", [["review"], ["review", "--serve"]], ids=["mf review", "mf-tracklets review"]
)
def test_a_start_that_fails_after_the_bind_leaves_no_review_catalog(args, tmp_path, capsys):
    """Before: the port was bound, then opening the page created DATASET/.review.sqlite, then
    found the dataset broken (a malformed split file): exit 2 and the hidden file stayed. Now a
    catalog created by the failed start is removed with the files SQLite keeps beside it; one
    that was there before (earlier decisions) stays."""
    from annotations.review.server import ReviewApp
    from movingfashion.app.cli import cli
    from schemas.cli_support import run_main

    ds = tmp_path / "dataset"
    ds.mkdir()
    (ds / "train.json").write_text("{broken", encoding="utf-8")
    (ds / "test.json").write_text("{}", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        run_main(cli if args == ["review"] else tracklets, [*args, "--dataset", str(ds), "--port", "0"])
    assert exc.value.code == 2 and "train.json" in capsys.readouterr().err
    assert sorted(p.name for p in ds.iterdir()) == ["test.json", "train.json"]
    (ds / "train.json").write_text("{}", encoding="utf-8")
    ReviewApp(ds, ds / ".review.sqlite", create_catalog=True).close()
    (ds / "train.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(MFError):
        ReviewApp(ds, ds / ".review.sqlite", create_catalog=True)
    assert (ds / ".review.sqlite").is_file()


def test_a_start_that_fails_before_serving_leaves_no_review_catalog(tmp_path, monkeypatch, capsys):
    """The page opened, then printing its URL failed (stdout closed): nothing was served, so
    nothing was decided, and the catalog the start created is removed too."""
    import annotations.cli as annotations_cli
    from schemas.cli_support import run_main

    ds = tmp_path / "dataset"
    ds.mkdir()
    for name in ("train.json", "test.json"):
        (ds / name).write_text("{}", encoding="utf-8")

    def closed(*_a, **_k):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(annotations_cli, "emit", closed)
    with pytest.raises((SystemExit, BrokenPipeError)):
        run_main(review_page, ["--dataset", str(ds), "--port", "0", "--json"])
    assert sorted(p.name for p in ds.iterdir()) == ["test.json", "train.json"]
