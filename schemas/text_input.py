"""Text files a user hands a command (URL and target lists, mapping files, saved JSON): read
whole as UTF-8, or refused with one :class:`~schemas.errors.DataFormatError` naming the file.

A file that cannot be read (missing, a folder, no permission) or that is not UTF-8 text (a
Latin-1 export) is an input error (exit 2), never a traceback. A UTF-8 byte order mark (as
some Windows editors write) is dropped. Every "not UTF-8" error, whoever reads the file (a
config, a list, a world's JSON, a split file), is worded here (:func:`not_utf8`): the file, the
first byte that is not UTF-8 (counted from the start of the file) and :data:`UTF8_HINT`.

Text a source sends (titles, captions: JSON that may carry a lone UTF-16 surrogate) is made
storable by :func:`clean_text` / :func:`clean_strings`, the one home of that cleaning.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from schemas.errors import DataFormatError, MFError

_SURROGATE = re.compile("[\ud800-\udfff]")


def has_surrogate(text: str) -> bool:
    """Whether ``text`` holds a UTF-16 surrogate (valid JSON ``"\\udcff"``, a file name that is
    not UTF-8 decoded by Python): not text a UTF-8 file or a strict JSON reader can hold."""
    return _SURROGATE.search(text) is not None


def clean_text(text: str) -> str:
    """``text`` with each lone UTF-16 surrogate (a title cut inside an emoji's pair, a valid
    JSON ``"\\ud83d"``) replaced by U+FFFD; a pair that arrived as two code points is joined
    into its character. Anything else is returned unchanged."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def clean_strings(value: Any) -> Any:
    """``value`` with :func:`clean_text` applied to every string in it (dict keys, list and
    tuple items, nested); other values unchanged."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_strings(k): clean_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_strings(v) for v in value]
    if isinstance(value, tuple):
        return tuple(clean_strings(v) for v in value)
    return value


#: what to do about a file that is not UTF-8 text
UTF8_HINT = "save it as UTF-8"


def not_utf8(
    exc: UnicodeDecodeError,
    where: str,
    what: str | None = None,
    error: type[MFError] = DataFormatError,
    *,
    skip: int = 0,
    hint: str | None = None,
) -> MFError:
    """The one error for a file that is not UTF-8 text: ``error`` naming ``where`` (and ``what``,
    ``"URL list"``, when given), the offending byte counted from the start of the file (``skip``:
    bytes before the decoded part, a byte order mark) and :data:`UTF8_HINT` (then ``hint``, what
    else may be done, when given). Raise it ``from None``."""
    lead = f"{what} is not" if what else "not"
    return error(
        f"{lead} UTF-8 text (byte {skip + exc.start})",
        where=where,
        hint=UTF8_HINT if not hint else f"{UTF8_HINT}, or {hint}",
    )


#: largest structured file (a tracklet file, a record) a reader takes whole (bytes): parsing holds
#: several times the file in memory, and real tracklet files are at most a few MB
MAX_RECORD_BYTES = 256 * 2**20

_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a named pipe",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def read_file_bytes(
    path: str | os.PathLike[str], *, limit: int | None = MAX_RECORD_BYTES, what: str = "file"
) -> bytes:
    """The bytes of the regular file at ``path`` (a link is followed). A named pipe, a device
    (a link to ``/dev/zero``), a socket or a folder is refused without reading or waiting, and so
    is a file over ``limit`` bytes (None: no limit): one :class:`DataFormatError` naming it. A
    missing file raises ``FileNotFoundError`` and other read errors their ``OSError``, as
    ``Path.read_bytes`` does."""
    p = Path(path)
    fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # a pipe opens without a writer
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            kind = _KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
            raise DataFormatError(
                f"{what} is {kind}, not a file", where=str(p), hint="put the file itself there, or remove it"
            )
        data = fh.read() if limit is None else fh.read(limit + 1)
    if limit is not None and len(data) > limit:
        raise DataFormatError(
            f"{what} is over {limit // 2**20} MiB, the most this reader takes",
            where=str(p),
            hint="this is not a file the toolkit wrote: remove it or put the right file there",
        )
    return data


def read_text_input(
    path: str | os.PathLike[str],
    what: str,
    error: type[MFError] = DataFormatError,
    *,
    hint: str | None = None,
    limit: int | None = MAX_RECORD_BYTES,
) -> str:
    """The text of the file at ``path``; ``what`` names the file in errors (``"URL list"``),
    raised as ``error`` (a config file's are :class:`~schemas.errors.ConfigError`); ``hint``
    says what to do when it is missing or unreadable (default: check the path). The byte an
    error gives is counted from the start of the file. A named pipe, a device or a file over
    ``limit`` bytes (None: any size) is refused without waiting or reading it all
    (:func:`read_file_bytes`)."""
    p = Path(path)
    try:
        data = read_file_bytes(p, what=what, limit=limit)
    except FileNotFoundError:
        raise error(f"{what} not found", where=str(p), hint=hint or "check the path") from None
    except DataFormatError as exc:
        raise error(exc.message, where=str(p), hint=exc.hint) from None
    except OSError as exc:
        raise error(f"cannot read {what}: {exc.strerror or exc}", where=str(p), hint=hint) from None
    return decode_utf8(data, str(p), what, error)


def decode_utf8(
    data: bytes,
    where: str,
    what: str | None = None,
    error: type[MFError] = DataFormatError,
    *,
    offset: int = 0,
) -> str:
    """``data`` decoded as UTF-8, a leading byte order mark dropped; else one ``error`` naming
    ``where`` (and ``what``, ``"URL list"``, when given) with the offending byte counted from the
    start of the file (``offset``: where ``data`` starts in it, for a file read line by line),
    and saying to save the file as UTF-8."""
    skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise not_utf8(exc, where, what, error, skip=offset + skip) from None


def load_json(
    text: str | bytes,
    where: str,
    error: type[MFError] = DataFormatError,
    hint: str | None = None,
) -> Any:
    """``json.loads(text)``, or one ``error`` naming ``where`` for every way JSON a user hands
    in can fail to load: malformed (line and column), a number with more digits than Python
    converts (over 4300), nesting deeper than the interpreter's stack, bytes that are not UTF-8.
    The one home for reading user JSON: readers never see a bare ``ValueError`` or
    ``RecursionError``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", where=where, hint=hint
        ) from None
    except RecursionError:
        raise error("JSON nested too deeply", where=where, hint=hint) from None
    except UnicodeDecodeError as exc:  # bytes: json decodes them (UTF-8, or UTF-16/32 by their first bytes)
        bom = isinstance(text, bytes) and text.startswith(codecs.BOM_UTF8)  # its decoder counts after it
        raise not_utf8(exc, where, error=error, skip=len(codecs.BOM_UTF8) if bom else 0, hint=hint) from None
    except ValueError as exc:  # e.g. "Exceeds the limit (4300 digits) for integer string conversion"
        detail = "a number with more than 4300 digits" if "digits" in str(exc) else str(exc).splitlines()[0]
        raise error(f"JSON value out of range: {detail}", where=where, hint=hint) from None


def read_json_record(
    path: str | os.PathLike[str], *, utf8_only: bool = False, max_bytes: int | None = None
) -> Any | None:
    """The JSON in the file at ``path`` for a lenient reader (a record the toolkit wrote and can
    do without), or None when it is missing, unreadable, not JSON, a number past what Python
    converts, or nested too deeply: the twin of :func:`load_json`, which names the failure.

    The bytes are decoded as ``json.loads`` decodes bytes (UTF-8 with or without a byte order
    mark, UTF-16 or UTF-32 by their first bytes); ``utf8_only`` reads them as
    ``Path.read_text(encoding="utf-8")`` does, strict UTF-8 with a byte order mark kept (so not
    JSON): None for any other file, as the readers that read text have always answered.
    ``max_bytes``: only the file's first bytes are read (a record of bounded size: a longer file
    is cut there, which makes it no JSON)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(-1 if max_bytes is None else max_bytes)
        return json.loads(data.decode("utf-8") if utf8_only else data)
    except (OSError, ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
