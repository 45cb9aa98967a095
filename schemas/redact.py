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

Redaction happens where the text is made, once: every :class:`~schemas.errors.MFError` redacts
its message, ``where`` and hint when it is built, and every logger of the toolkit carries
:class:`RedactingFilter` (:func:`redacted_logger`), so whatever handler shows a record (the CLI's,
a user's own, a test's) shows it redacted. The CLI's formatter still redacts the records of
other libraries (``urllib3``'s request lines, a record with no filter on its logger).
"""

from __future__ import annotations

import logging
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


#: set on a log record once :class:`RedactingFilter` has redacted it (a formatter that redacts
#: what it shows, :class:`schemas.cli_support.TerminalFormatter`, skips it then)
REDACTED_ATTR = "mf_redacted"


def redact_record(record: logging.LogRecord) -> None:
    """Redact ``record`` in place, once: its message (its arguments merged in), its exception's
    text and its stack, so every handler shows it without secrets."""
    if getattr(record, REDACTED_ATTR, False):
        return
    try:
        message = record.getMessage()
    except Exception:  # arguments that do not fit: left for the handler to report
        return
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    setattr(record, REDACTED_ATTR, True)


class RedactingFilter(logging.Filter):
    """A logger filter that redacts each record (:func:`redact_record`) before any handler sees
    it: the CLI's, a user's own logging setup, a test's ``caplog``."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record``; never drops one."""
        redact_record(record)
        return True


_FILTER = RedactingFilter()


def redacted_logger(name: str) -> logging.Logger:
    """The logger ``name`` with :class:`RedactingFilter` on it (added once): every module of the
    toolkit takes its logger here, so a URL, header or cookie one of its records names reaches
    no handler with its secrets. (A logger's filter sees only records logged on it, not those
    of its children: hence one call per logger, not one per package.)"""
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger
