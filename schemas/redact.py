"""Secrets kept out of what the toolkit reports: one :func:`redact` for every URL and request
detail a message, a problem record or a log line names.

A request's secrets travel in its URL (TikTok's app API asks with the app install's ``iid`` and
a ``device_id``, ``tiktok.extractor_args``), its headers (cookies, tokens) or a session file's
cookies (Instagram's ``--session-file``). :func:`redact` replaces

* the value of a query parameter (``?`` or ``&`` then ``name=``) whose name is a secret's
  (:data:`SECRET_PARAMS`, or one holding a word of :data:`SECRET_WORDS`: ``msToken``,
  ``X-Bogus``, ``sessionid``, ...),
* the value of a credential header or cookie (``Cookie: ...``, ``Authorization: ...``,
  ``'sessionid': '...'``),
* a URL's password (``https://user:PASSWORD@host/``),
* and anywhere in the text, each value :func:`add_secrets` was given (the configured
  extractor arguments, a session's cookies), as written or URL-encoded,

with :data:`REDACTED`. A URL's scheme, host, path and other parameters stay, for diagnosis.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

#: what a secret is replaced with
REDACTED = "REDACTED"

#: query parameters (lower case) whose values are secrets: an app install's and a device's ids
#: (TikTok's app API), tokens, signatures, sessions
SECRET_PARAMS = frozenset(
    {
        "app_info",
        "device_id",
        "iid",
        "install_id",
        "openudid",
        "cdid",
        "udid",
        "sig",
        "key",
        "api_key",
        "apikey",
        "code",
        "ticket",
        "auth",
    }
)

#: a parameter, header or cookie whose name (lower case, ``-`` and ``_`` dropped) holds one of
#: these words is a secret too
SECRET_WORDS = (
    "token",
    "session",
    "secret",
    "password",
    "passwd",
    "signature",
    "cookie",
    "authorization",
    "bogus",
    "gorgon",
    "csrf",
    "claim",
    "credential",
)

#: a registered value shorter than this is not searched for (it would blot out ordinary words)
MIN_SECRET_LEN = 6

_PARAM = re.compile(
    r"(?P<lead>[?&;]|&amp;)(?P<name>[A-Za-z0-9_.\-\[\]]{1,64})=(?P<value>[^&#\s\"'<>()\[\]{},]*)"
)
#: a credential header or cookie given as ``Name: value`` / ``'name': 'value'`` / ``name=value``
_HEADER = re.compile(
    r"(?P<name>\b(?:set-cookie|cookie|authorization|proxy-authorization|x-csrftoken|x-ig-www-claim|"
    r"x-tt-token|x-tt-params|x-bogus|x-gorgon|x-argus|x-ladon|sessionid|ds_user_id|csrftoken|"
    r"mstoken|ttwid)\b)(?P<sep>[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<value>[^\"'\r\n,}&]+)",
    re.IGNORECASE,
)
_USERINFO = re.compile(r"(?P<lead>\b[a-z][a-z0-9+.\-]*://[^/\s:@]+:)(?P<value>[^/\s@]+)(?=@)", re.IGNORECASE)

_lock = threading.Lock()
_secrets: set[str] = set()


def add_secrets(values: Iterable[str]) -> None:
    """Register values :func:`redact` blots out wherever they appear (this process, from now on):
    configured extractor arguments, a session's cookies. Values shorter than
    :data:`MIN_SECRET_LEN` are ignored."""
    new: set[str] = set()
    for value in values:
        if not isinstance(value, str) or len(value.strip()) < MIN_SECRET_LEN:
            continue
        value = value.strip()
        new.update({value, quote(value, safe=""), quote_plus(value)})
    if new:
        with _lock:
            _secrets.update(new)


def secret_name(name: str) -> bool:
    """Whether a query parameter, header or cookie named ``name`` carries a secret."""
    low = name.lower()
    bare = low.replace("-", "").replace("_", "")
    return low in SECRET_PARAMS or any(word in bare for word in SECRET_WORDS)


def redact(text: str) -> str:
    """``text`` (a URL, a message, a log line) with its secrets replaced by :data:`REDACTED`
    (see the module's docstring); everything else as it was."""
    if not text:
        return text
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, REDACTED)
    if "=" in text:
        text = _PARAM.sub(_param, text)
    if ":" in text or "=" in text:
        text = _HEADER.sub(lambda m: f"{m['name']}{m['sep']}{REDACTED}", text)
    if "@" in text:
        text = _USERINFO.sub(lambda m: f"{m['lead']}{REDACTED}", text)
    return text


def _param(m: re.Match[str]) -> str:
    if not m["value"] or m["value"] == REDACTED or not secret_name(m["name"]):
        return m.group()
    return f"{m['lead']}{m['name']}={REDACTED}"
