"""A request's secrets never shown: TikTok's app API is asked with the app install's id (``iid``,
from ``tiktok.extractor_args`` app_info) and a device id in its query string, so a failing
request's URL named them in the problem record, ``--json``, the text summary and the debug log.
Now :func:`schemas.redact.redact` blots them out where a collector reports a request (its
:class:`FetchError`) and in every log line, the URL's host and path kept for diagnosis."""

from __future__ import annotations

import json
import logging
import pickle
from urllib.parse import urlsplit

import pytest

from collectors.cli import collect as collect_cli
from movingfashion.world.faults import Faults
from movingfashion.world.server import WorldServer
from schemas.cli_support import TerminalFormatter
from schemas.errors import FetchError
from schemas.redact import REDACTED, add_secrets, redact
from tests.collectors.test_tiktok_tag_listing import APP_INFO, CONFIG, _tag
from tests.mf_cli import run_command

IID = "7351144126450059040"  # APP_INFO's install id
DEVICE = "7300000000000000042"


def _run(srv: WorldServer, target: str, tmp_path, capsys, monkeypatch, *extra: str) -> tuple[int, str, str]:
    """``mf-collect tiktok TARGET -vv EXTRA`` with app_info and device_id set; its own stderr
    log handler installed (the test runner's taken off the root logger for the call)."""
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "collect.yaml"
    path.write_text(CONFIG + APP_INFO + f"    device_id: ['{DEVICE}']\n")
    args = ["tiktok", target, "--root", str(tmp_path / "data"), "--base-url", srv.base_url]
    return run_command(collect_cli, [*args, "--config", str(path), "-vv", *extra], capsys)


def _stored(tmp_path) -> bytes:
    """Every file the run left under its root (the catalog and its journal among them)."""
    return b"".join(p.read_bytes() for p in sorted((tmp_path / "data").rglob("*")) if p.is_file())


def test_a_refused_app_api_request_names_its_host_and_path_but_no_secret(
    small_world, world_truth, tmp_path, capsys, monkeypatch
):
    tag, _ = _tag(world_truth)
    with WorldServer(small_world, faults=Faults(robots_disallow=["/aweme/"])) as srv:
        code, out, err = _run(srv, f"#{tag}", tmp_path / "j", capsys, monkeypatch, "--json")
        code2, text, err2 = _run(srv, f"#{tag}", tmp_path / "t", capsys, monkeypatch)
        host = urlsplit(srv.base_url).netloc
    assert (code, code2) == (1, 1)
    (problem,) = json.loads(out)["problems"]
    assert problem["reason"] == "robots_disallowed"
    # the request at fault is still named: its host, its path, its other parameters
    message = problem["message"]
    assert f"{host}/aweme/v1/challenge/aweme/" in message and "ch_id=" in message, message
    assert f"iid={REDACTED}" in message and f"device_id={REDACTED}" in message, message
    assert "/aweme/v1/challenge/aweme/" in text and f"iid={REDACTED}" in text
    assert "/aweme/" in err + err2  # the debug log names the request too
    for shown in (out, err, text, err2):
        assert IID not in shown and DEVICE not in shown
    assert IID.encode() not in _stored(tmp_path / "j") + _stored(tmp_path / "t")
    assert DEVICE.encode() not in _stored(tmp_path / "j") + _stored(tmp_path / "t")


@pytest.mark.parametrize(
    "text, kept, gone",
    [
        (
            "https://api16.tiktokv.com/aweme/v1/feed/?ch_id=1&iid=12345678&device_id=99887766&"
            "version_code=350103&X-Bogus=DFSzswVL&msToken=abcdef1&author=ann",
            ["https://api16.tiktokv.com/aweme/v1/feed/?ch_id=1&", "version_code=350103", "author=ann"],
            ["12345678", "99887766", "DFSzswVL", "abcdef1"],
        ),
        (
            "GET https://i.instagram.com/api/v1/x?install_id=abc123&signature=s1g2n3&token=t0k3n",
            ["https://i.instagram.com/api/v1/x?"],
            ["abc123", "s1g2n3", "t0k3n"],
        ),
        (
            "headers: {'Cookie': 'sessionid=S3SS10N; csrftoken=CSRF99', 'User-Agent': 'UA'}",
            ["'User-Agent': 'UA'"],
            ["S3SS10N", "CSRF99"],
        ),
        ("Authorization: Bearer B34R3R", ["Authorization"], ["B34R3R"]),
        ("https://me:pa55w0rd@example.com/a/b", ["example.com/a/b", "me:"], ["pa55w0rd"]),
    ],
)
def test_redact_blots_out_secret_parameters_headers_and_passwords(text, kept, gone):
    shown = redact(text)
    for part in kept:
        assert part in shown, shown
    for part in gone:
        assert part not in shown, shown
    assert REDACTED in shown


def test_registered_values_are_blotted_out_anywhere_and_url_encoded():
    add_secrets(["zz-redact-test-value/1", "abc"])  # too short: ignored
    shown = redact("said zz-redact-test-value/1 and zz-redact-test-value%2F1 and abc")
    assert "zz-redact-test" not in shown and shown.endswith("and abc")


def test_a_fetch_error_keeps_its_url_without_secrets_and_so_does_its_copy():
    exc = FetchError("HTTP 500", where="https://h.example/p?iid=11223344&x=1", hint="see ?token=T0K3N9")
    assert exc.where == f"https://h.example/p?iid={REDACTED}&x=1"
    assert "T0K3N9" not in str(exc) and "11223344" not in str(exc)
    assert pickle.loads(pickle.dumps(exc)).where == exc.where


def test_log_lines_are_redacted_by_the_terminal_formatter():
    record = logging.LogRecord("x", logging.DEBUG, __file__, 1, "GET %s", ("http://h/p?iid=55667788",), None)
    assert TerminalFormatter("%(message)s").format(record) == f"GET http://h/p?iid={REDACTED}"
