"""One small error hierarchy shared by every stage.

Every error names *what* is wrong (a file, a field, a URL) and says *what to do*.
The CLIs turn any :class:`MFError` into one clear line on stderr and exit code 2.
"""

from __future__ import annotations


class MFError(Exception):
    """Base class of every error the toolkit raises on purpose.

    ``where`` names the file, field or URL at fault; ``hint`` says what to do about it.
    """

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None) -> None:
        self.message = message
        self.where = where
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class ConfigError(MFError):
    """A configuration file or option is invalid."""


class DataFormatError(MFError):
    """A dataset or metadata file does not follow its schema (names file, product, field)."""


class MediaError(MFError):
    """A video or image cannot be read, or fails a validation check."""


class FetchError(MFError):
    """A network request failed or was refused by policy (names the URL)."""

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


class ModelError(MFError):
    """A model checkpoint or weights file is missing, corrupt or of the wrong kind."""
