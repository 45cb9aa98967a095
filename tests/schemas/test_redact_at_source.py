"""Secrets redacted where the text is made, not only where the CLI shows it.

Before, :func:`schemas.redact.redact` ran in :class:`FetchError` and in the CLI's log formatter
only: a record one of the toolkit's modules logged (a URL with a token or session id, an
``Authorization`` header, an exception quoting its request) reached a user's own handler, or a
test's ``caplog``, as it was; so did urllib3's request lines, yt-dlp's warnings passed through
``collectors.ytdl``, and instaloader printed its error lines on stderr itself; and every other
error class (:class:`DataFormatError`, :class:`MediaError`, ...) kept a URL's secrets in its
message. Now every logger of the toolkit redacts its records before any handler sees them
(:func:`schemas.redact.redacted_logger`), and every :class:`MFError` redacts its message,
``where`` and hint when it is built."""

from __future__ import annotations

import ast
import importlib
import io
import logging
import pickle
from pathlib import Path

import pytest

from schemas.errors import LocalFault, MFError
from schemas.redact import REDACTED

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("schemas", "collectors", "cleaning", "annotations", "movingfashion")

TOKEN, SESSION, SIG, BEARER = "T0K3N4242", "S3SS10N4242", "S1GN4TUR3", "B34R3R4242"
URL = f"https://api.example.com/v1/feed?id=7&access_token={TOKEN}&session_id={SESSION}&signature={SIG}"
SECRETS = (TOKEN, SESSION, SIG, BEARER)


def _clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, text


@pytest.mark.parametrize(
    "module", ["collectors.http", "collectors.ytdl", "collectors.core", "cleaning.publish", "schemas.catalog"]
)
def test_a_modules_records_reach_every_handler_redacted(module, caplog):
    log = importlib.import_module(module).log
    own = io.StringIO()  # a user's own logging setup: a plain handler on the package's logger
    handler = logging.StreamHandler(own)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    top = logging.getLogger(module.split(".")[0])
    top.addHandler(handler)
    try:
        with caplog.at_level(logging.DEBUG):
            log.warning("GET %s failed", URL)
            log.info("headers %s", {"Authorization": f"Bearer {BEARER}", "Accept": "*/*"})
            try:
                raise RuntimeError(f"500 Server Error for url: {URL}")
            except RuntimeError:
                log.exception("request failed")
    finally:
        top.removeHandler(handler)
    for text in (caplog.text, own.getvalue(), *(r.getMessage() for r in caplog.records)):
        _clean(text)
    assert "api.example.com/v1/feed?id=7&access_token=" + REDACTED in caplog.text
    assert "'Accept': '*/*'" in own.getvalue() and "500 Server Error for url" in own.getvalue()


def test_urllib3s_request_lines_for_the_polite_client_are_redacted(caplog):
    from collectors.hosts import HostPolicy
    from collectors.http import PoliteClient
    from tests.collectors.fakesite import FakeSite, Route, loopback_http

    path = f"/aweme/v1/feed/?ch_id=1&iid=77665544332211&msToken={TOKEN}"
    with FakeSite() as site:
        site.routes[path] = Route(b"{}", content_type="application/json")
        client = PoliteClient(loopback_http(), policy=HostPolicy.of([site.base.removeprefix("http://")]))
        with caplog.at_level(logging.DEBUG):
            client.get_bytes(site.base + path)
        client.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "urllib3.connectionpool"]
    assert any("/aweme/v1/feed/?ch_id=1&iid=" + REDACTED in line for line in lines), lines
    assert "77665544332211" not in caplog.text and TOKEN not in caplog.text


def test_yt_dlps_warnings_passed_through_the_collector_are_redacted(caplog):
    from collectors.ytdl import _Log

    with caplog.at_level(logging.DEBUG):
        _Log().warning(f"[generic] Unable to download webpage: HTTP Error 403 ({URL})")
        _Log().error(f"ERROR: unable to open {URL}")
    assert "HTTP Error 403" in caplog.text
    _clean(caplog.text)


def test_instaloaders_error_lines_are_logged_redacted_not_printed(capsys, caplog):
    import instaloader

    from collectors.hosts import HostPolicy
    from collectors.http import PoliteClient
    from collectors.instaloader_net import bind_context
    from collectors.transport import PoliteAdapter
    from tests.collectors.fakesite import loopback_http

    client = PoliteClient(loopback_http(), policy=HostPolicy.of(["www.instagram.com"]))
    loader = instaloader.Instaloader(quiet=True)
    bind_context(loader.context, PoliteAdapter(client))
    with caplog.at_level(logging.WARNING):
        loader.context.error(f"JSON Query to graphql/query: 500 for {URL} [retrying; skip with ^C]", False)
        loader.context.error(f"Cookie: sessionid={SESSION}; csrftoken=abcdef123")
    client.close()
    err = capsys.readouterr().err
    _clean(err)
    assert "JSON Query to graphql/query" in caplog.text and "abcdef123" not in caplog.text
    _clean(caplog.text)
    _clean("\n".join(loader.context.error_log))
    assert loader.context.has_stored_errors  # what instaloader keeps to repeat at the end, redacted


def _error_classes() -> list[type[MFError]]:
    """Every error class of the toolkit built as ``cls(message, where=..., hint=...)``."""
    for name in (
        "schemas.catalog",
        "schemas.paths",
        "schemas.review",
        "schemas.atomic",
        "movingfashion.dataset",
        "movingfashion.media.images",
        "movingfashion.media.readers",
        "movingfashion.archive.pack",
    ):
        importlib.import_module(name)
    found, todo = [], [MFError]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        found.append(cls)
    return sorted({c for c in found if c.__module__.split(".")[0] in PACKAGES}, key=lambda c: c.__name__)


def test_every_project_error_redacts_its_message_where_and_hint():
    built = []
    for cls in _error_classes():
        kw = {"value": URL} if cls.__name__ == "PathEscapeError" else {}
        try:
            exc = cls(f"cannot read {URL}", where=URL, hint=f"Authorization: Bearer {BEARER}", **kw)
        except TypeError:  # another signature (a catalog's path, a local fault's errno family)
            continue
        built.append(cls.__name__)
        for text in (
            str(exc),
            exc.message,
            exc.where or "",
            exc.hint or "",
            str(pickle.loads(pickle.dumps(exc))),
        ):
            _clean(text)
        assert f"access_token={REDACTED}" in exc.where
    assert {"DataFormatError", "MediaError", "ConfigError", "ModelError", "CatalogError"} <= set(built)
    fault = LocalFault("disk_full", "/data/x", f"writing {URL}", hint=f"see {URL}")
    _clean(str(fault))
    _clean(str(pickle.loads(pickle.dumps(fault))))


def _project_files() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_every_logger_of_the_toolkit_is_a_redacting_one():
    """A module's ``logging.getLogger(<its own name>)`` would log unredacted (a logger's filter
    sees only its own records): each takes ``schemas.redact.redacted_logger`` instead."""
    plain = []
    for path in _project_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and ast.unparse(node.func) == "logging.getLogger"):
                continue
            arg = node.args[0] if node.args else None
            own = isinstance(arg, ast.Name) and arg.id == "__name__"
            own = own or (isinstance(arg, ast.Constant) and str(arg.value).split(".")[0] in PACKAGES)
            if own and path.name != "redact.py":
                plain.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert plain == [], plain
