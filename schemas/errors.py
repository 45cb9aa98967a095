"""One small error hierarchy shared by every stage.

Every error names *what* is wrong (a file, a field, a URL) and says *what to do*.
The CLIs turn any :class:`MFError` into one clear line on stderr and exit code 2.
"""

from __future__ import annotations

import errno
import reprlib
from typing import Any

from schemas.redact import redact


class MFError(Exception):
    """Base class of every error the toolkit raises on purpose.

    ``where`` names the file, field or URL at fault; ``hint`` says what to do about it. All
    three are kept with their secrets redacted (:func:`schemas.redact.redact`: a URL's token or
    session id, an ``Authorization`` header, a cookie), whichever subclass is raised, so an
    error line, ``--json``, a problem record or a user's own handler never shows them.
    """

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None) -> None:
        self.message = _redacted(message)
        self.where = _redacted(where)
        self.hint = _redacted(hint)
        super().__init__(self.render())

    def render(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        # picklable whatever a subclass's __init__ asks for (errors come back from cluster
        # workers): rebuilt from its attributes, __init__ not called again
        return _rebuild, (type(self), self.args, dict(self.__dict__))


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters: the one way a message quotes a value read from
    a user's file (an error or warning never echoes a whole file: an alias bomb's value, a
    hand-edited meta's field, is megabytes)."""
    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxdict, r.maxstring, r.maxother = 3, 6, 6, limit, limit
    text = r.repr(value)  # nested lists are cut as they are walked, never printed whole
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _redacted(text: Any) -> Any:
    """``text`` redacted when it is text (a caller's ``where`` may be a path object: kept)."""
    return redact(text) if isinstance(text, str) else text


def _rebuild(cls: type[MFError], args: tuple[Any, ...], state: dict[str, Any]) -> MFError:
    exc = cls.__new__(cls, *args)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class ConfigError(MFError):
    """A configuration file or option is invalid."""


def listen_error(exc: OSError | OverflowError, host: str, port: int) -> ConfigError:
    """The error of a server (``mf review``, ``mf world serve``) that cannot listen on
    ``host:port``: a port in use or out of range names --port, an address this machine does not
    have names --host; each says what to pass instead."""
    why = getattr(exc, "strerror", None) or str(exc)
    if isinstance(exc, OverflowError) or getattr(exc, "errno", None) in (errno.EADDRINUSE, errno.EACCES):
        return ConfigError(
            f"cannot listen on {host}:{port}: {why}",
            where="--port",
            hint="pick another --port (0 picks a free one)",
        )
    return ConfigError(
        f"cannot listen on {host}:{port}: {why}",
        where="--host",
        hint="pass an address of this machine as --host (the default, 127.0.0.1, is always one)",
    )


class DataFormatError(MFError):
    """A dataset or metadata file does not follow its schema (names file, product, field)."""


class MediaError(MFError):
    """A video or image cannot be read, or fails a validation check."""


class FetchError(MFError):
    """A network request failed or was refused by policy (names the URL).

    The one place a collector reports a request: its message, URL and hint are kept with their
    secrets redacted as every :class:`MFError`'s are (an app install's id, a device id, tokens,
    cookies), so problem records, the catalog, ``--json`` and error lines never show them."""

    def __init__(
        self,
        message: str,
        *,
        where: str | None = None,
        hint: str | None = None,
        reason: str = "fetch_failed",
        retryable: bool = False,
    ) -> None:
        self.reason = reason
        self.retryable = retryable
        super().__init__(message, where=where, hint=hint)


class CatalogError(MFError):
    """The SQLite catalog cannot be opened, migrated or written."""


class CatalogCorrupt(CatalogError):
    """The catalog file is damaged (SQLite's checks fail): nothing is written to it.

    The message names the file and the two ways back: SQLite's ``.recover`` into a new file, or
    a copy of the catalog from before the damage.
    """

    def __init__(self, path: str, detail: str) -> None:
        detail = " ".join(detail.split())  # SQLite's reports span lines; the message is one
        if len(detail) > 200:
            detail = detail[:197] + "..."
        self.path, self.detail = path, detail
        super().__init__(
            f"the catalog is damaged ({detail}); nothing was written to it",
            where=path,
            hint=f"salvage its rows with `mf catalog recover --catalog {path} --out recovered.sqlite` "
            "(or sqlite3's .recover) and pass --catalog recovered.sqlite, or restore it from a copy",
        )

    def __reduce__(self) -> tuple[type, tuple[str, str]]:  # picklable: sent back by cluster workers
        return type(self), (self.path, self.detail)


class LocalFault(MFError):
    """This machine could not do its part: the disk is full, a file may not be written, no file
    handle is left, ... (:mod:`schemas.faults` names one ``reason`` per errno family).

    Not the item's fault: a run stops early instead of failing every item after it, records what
    it could, and a rerun (once the fault is fixed) retries without a flag. Exit status 1.
    """

    exit_code = 1

    def __init__(self, reason: str, path: str | None, detail: str, *, hint: str | None = None) -> None:
        self.reason, self.path, self.detail = reason, path, detail
        super().__init__(f"{reason.replace('_', ' ')} ({detail})", where=path, hint=hint)

    def __reduce__(self) -> tuple[Any, ...]:  # picklable: sent back by cluster workers
        return _local_fault, (type(self), self.reason, self.path, self.detail, self.hint)


def _local_fault(
    cls: type[LocalFault], reason: str, path: str | None, detail: str, hint: str | None
) -> LocalFault:
    return cls(reason, path, detail, hint=hint)


class ModelError(MFError):
    """A model checkpoint or weights file is missing, corrupt or of the wrong kind."""


#: what pydantic puts before the message of a validator's own ``ValueError``
PYDANTIC_VALUE_ERROR = "Value error, "


def validation_text(err: Any) -> str:
    """The message of one pydantic validation error (an item of ``ValidationError.errors()``) as
    the validator wrote it: pydantic's "Value error, " before a validator's own words left out."""
    return str(err["msg"]).removeprefix(PYDANTIC_VALUE_ERROR)
