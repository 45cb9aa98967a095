"""Keep the native decoders' log output off the terminal, where it breaks progress bars.

FFmpeg (inside PyAV, decord, OpenCV and torchcodec, each with its own copy) and OpenCV print
straight to the process's stderr/stdout from C code. :func:`quiet_native_logs` runs once per
process before any decoder opens a file:

* PyAV: FFmpeg's errors go to Python's :mod:`logging` (loggers ``libav.*``; a ``NullHandler``
  keeps them silent unless the application configured handlers, e.g. a log file);
* decord and OpenCV's FFmpeg: quiet (their C callbacks cannot reach Python); failures still
  surface as exceptions, which the readers turn into :class:`~schemas.errors.MediaError`
  naming the file;
* OpenCV's own messages: silent;
* torchcodec: quiet by default (``TORCHCODEC_FFMPEG_LOG_LEVEL`` unset), left alone;
* ffmpeg subprocesses (:mod:`movingfashion.media.ffmpeg`): ``-loglevel error`` with stderr
  captured and logged under ``movingfashion.media.ffmpeg``.

Set ``MF_NATIVE_LOGS=1`` (or ``true``/``yes``) to leave every native logger as it is (debugging
a decoder); ``0``/``false``/``no`` or unset manage them, any other value is warned about.
"""

from __future__ import annotations

import logging
import os
import threading

from schemas.redact import redacted_logger

#: Environment variable that keeps the native loggers untouched.
KEEP_ENV = "MF_NATIVE_LOGS"

_lock = threading.Lock()
_done: set[str] = set()


#: values of :data:`KEEP_ENV` (lower case, stripped) that keep / manage the native loggers
KEEP_VALUES = frozenset({"1", "true", "yes"})
MANAGE_VALUES = frozenset({"", "0", "false", "no"})

_log = redacted_logger(__name__)


def keep_native_logs() -> bool:
    """Whether ``$MF_NATIVE_LOGS`` asks to leave the native loggers alone: ``1/true/yes`` keep,
    ``0/false/no`` or unset manage them; any other value is warned about once (logged: this
    runs inside workers, where an error would fail an item) and managed, as when unset."""
    raw = os.environ.get(KEEP_ENV, "").strip().lower()
    if raw in KEEP_VALUES:
        return True
    if raw not in MANAGE_VALUES and _first("warned-" + raw):
        _log.warning(
            "%s=%r is not 1/true/yes (keep the native logs) or 0/false/no (manage them): "
            "managing them, as when it is unset",
            KEEP_ENV,
            os.environ.get(KEEP_ENV),
        )
    return False


def _first(name: str) -> bool:
    """True the first time ``name`` is asked for in this process."""
    with _lock:
        if name in _done:
            return False
        _done.add(name)
        return True


def _once(name: str) -> bool:
    """True the first time ``name`` is asked for in this process (and native logs are managed)."""
    return not keep_native_logs() and _first(name)


def quiet_native_logs() -> None:
    """Route PyAV's FFmpeg errors to :mod:`logging` and silence OpenCV (idempotent, cheap)."""
    if _once("opencv-env"):
        # read by OpenCV when its FFmpeg backend first initialises: -8 = AV_LOG_QUIET
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
        os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
    if _once("pyav"):
        import av.logging

        logging.getLogger("libav").addHandler(logging.NullHandler())
        av.logging.set_level(av.logging.ERROR)
    if _once("opencv"):
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def quiet_decord_logs() -> None:
    """decord's FFmpeg messages off (called when the decord backend is first used)."""
    if _once("decord"):
        import decord

        decord.logging.set_level(decord.logging.QUIET)


def log_subprocess_stderr(logger: logging.Logger, text: str, where: str) -> None:
    """Log what a successful subprocess wrote on stderr, one record per line."""
    for line in text.splitlines():
        if line.strip():
            logger.warning("%s: %s", where, line.strip())
