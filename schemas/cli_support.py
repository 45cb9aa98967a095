"""Shared CLI plumbing of every command (``mf`` and its subcommands, ``mf-collect``, ``mf-tracklets``).

- :func:`run_main`: an :class:`~schemas.errors.MFError` or a usage error -> one line on stderr,
  exit 2 (``--debug`` shows the traceback); Ctrl-C exits 130, SIGTERM (``timeout``, ``docker
  stop``, systemd, Slurm) stops the command the same way and exits 143 (:func:`sigterm_interrupts`);
  under ``--json`` a command stopped so also prints one JSON error document on stdout
  (:func:`error_document`), unless it printed its result already;
- :func:`exit_if_failed`: the exit rule after a command's output (1 when items failed);
- the options that name the same concept everywhere: :func:`root_option` (the collection
  folder), :func:`catalog_option`, :func:`dataset_option` (a published dataset folder),
  :func:`out_option` (what the command writes), the checks behind them (:func:`require_dataset`,
  :func:`require_root`, :func:`require_catalog`), and :func:`legacy_argument` /
  :func:`merge_legacy` / :func:`legacy_folder` for an old spelling kept with a deprecation warning,
  and :func:`run_file_option` (a weights file, or the run folder of the command that wrote it;
  :func:`add_run_file_argument` for the developer tools' argparse parsers);
- :func:`emit` (``--json`` or human text) and :func:`progress` / :func:`progress_bar` (tqdm on
  a terminal, plain lines every 10 s in a log); :func:`divert_stdout` sends what others print on stdout to stderr meanwhile (Ray's
  driver prints a worker's death there), so that stdout holds only what :func:`emit` writes;
- :func:`terminal_logging` (in force while :func:`run_main` runs a command) and
  :func:`log_to_stderr` (a command's own log level and format): log lines and warnings on stderr
  show control characters as escapes (:func:`terminal_text`), like the command's output.

Everything here imports only click and the standard library at module level, so a command's
``--help`` and its input checks stay fast.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import errno
import functools
import json
import logging
import math
import os
import re
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator, Sized
from pathlib import Path
from typing import Any, TypeVar

import click

from schemas.errors import CatalogError, ConfigError, MFError
from schemas.redact import REDACTED_ATTR, redact, redact_record

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

#: The exit rule, for the epilog of every command's ``--help``.
EXIT_STATUS = """\b
Exit status: 0 all done; 1 some items failed (listed in the output; a rerun retries them);
2 usage or input error (one line naming the file, folder or option); 130 interrupted (Ctrl-C),
143 terminated (SIGTERM): both stop cleanly, a rerun resumes."""

HELP = {"help_option_names": ["-h", "--help"]}
"""``context_settings`` of every command: ``-h`` works as ``--help``."""


#: The exit status of a command stopped by SIGTERM (128 + 15, as if the signal had killed it).
EXIT_TERMINATED = 128 + signal.SIGTERM
EXIT_INTERRUPTED = 130


#: what :func:`run_main` prints when Ctrl-C or SIGTERM stops a command that did not say otherwise
RESUME_HINT = "interrupted: state is saved, rerun the same command to resume"
_interrupt_hint: list[str] = [RESUME_HINT]


def on_interrupt(message: str) -> None:
    """The line :func:`run_main` prints when this command is interrupted (Ctrl-C, SIGTERM), for
    a command that does not resume by a plain rerun: one that needs ``--resume``, one that starts
    over, a server for which Ctrl-C is the way to stop."""
    _interrupt_hint[0] = message


_Callback = TypeVar("_Callback", bound=Callable[..., Any])


def interrupt_line(message: str) -> Callable[[_Callback], _Callback]:
    """Declare, where a command is defined, the line :func:`run_main` prints when Ctrl-C or
    SIGTERM stops it (:func:`on_interrupt`), in force from the first line of the command (before
    the imports its body starts with: torch takes seconds; before, a Ctrl-C then said "state is
    saved, rerun ... to resume" of a command that does not resume). ``message`` may name the
    command's parameters (``{out}``), filled in with their values. Put it right above ``def``
    (under ``@click.command`` and the options); the body may still call :func:`on_interrupt`
    once it knows more."""

    def declare(f: _Callback) -> _Callback:
        @functools.wraps(f)
        def command(*args: Any, **kwargs: Any) -> Any:
            on_interrupt(message.format(**kwargs))
            return f(*args, **kwargs)

        return command  # type: ignore[return-value]

    return declare


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread as Ctrl-C raises :class:`KeyboardInterrupt` (of which
    it is one): ``with`` and ``finally`` blocks run, pools are cancelled and joined, partial
    files are removed, whatever handles Ctrl-C handles it too."""


class _SigtermState:
    """The handler :func:`sigterm_interrupts` installs: the first SIGTERM raises
    :class:`Terminated`; later ones (``kill`` sent again, a supervisor's repeat) are ignored, so
    that the unwinding the first one started (a pool joined, Ray shut down) is not cut short."""

    received = False

    def __call__(self, signum: int, frame: Any) -> None:
        if self.received:
            return
        self.received = True
        raise Terminated()


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[_SigtermState]:
    """While in force (main thread only: elsewhere nothing changes), SIGTERM raises
    :class:`Terminated`; the previous handler is restored at the end. A SIGTERM ignored
    (``SIG_IGN``) stays ignored. ``.received`` of the value says whether one came."""
    state = _SigtermState()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return
    before = signal.getsignal(signal.SIGTERM)
    if before == signal.SIG_IGN:
        yield state
        return
    signal.signal(signal.SIGTERM, state)
    try:
        yield state
    finally:
        if state.received and before in (signal.SIG_DFL, None):
            # the process ends because of a SIGTERM: its exit hooks (Ray's shutdown) still run,
            # and a repeated SIGTERM would kill it half-way (Ray's agents left behind)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        else:
            signal.signal(signal.SIGTERM, before if before is not None else signal.SIG_DFL)


def sigterm_interrupts_in_force() -> bool:
    """Whether SIGTERM raises :class:`Terminated` now (a command run by :func:`run_main`), so
    that a library setting its own SIGTERM handler (Ray's ``sys.exit``) keeps this one."""
    return isinstance(signal.getsignal(signal.SIGTERM), _SigtermState)


@contextlib.contextmanager
def keeping_sigterm() -> Iterator[None]:
    """Put :func:`sigterm_interrupts`' handler back after a call that replaces it (``ray.init``
    in the main thread sets its own), when it was in force before the call. It is installed
    again even when Python's record still names it: native code (Ray's core worker) may have
    replaced the C-level handler without Python knowing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        if isinstance(before, _SigtermState):
            signal.signal(signal.SIGTERM, before)


def stop_on_ctrl_c() -> None:
    """Make SIGINT (Ctrl-C, ``kill -INT``) raise :class:`KeyboardInterrupt` again in a
    long-running server (``mf review``, ``mf world serve``): a shell starting it in the background
    starts it with SIGINT ignored, and Python leaves it so. Main thread only."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


#: set while :func:`run_main` runs a command in the main thread: :func:`settle_outcome` acts then
_settling: list[bool] = []


def _late_interrupt(signum: int, frame: Any) -> None:
    """SIGINT once the command's outcome is settled (:func:`settle_outcome`): dropped."""


def settle_outcome() -> None:
    """Mark the command's outcome as decided: its result is printed and its exit status known
    (:func:`exit_if_failed` calls it, and :func:`run_main` once the command returns). From here
    until :func:`run_main` returns, Ctrl-C no longer stops the command: a SIGINT landing between
    the printed success document and the end used to exit 130 under it. SIGTERM still stops it
    (a way out of a hung exit). Does nothing outside :func:`run_main` or off the main thread."""
    if _settling and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _late_interrupt)


def run_main(cmd: click.Command, argv: list[str] | None = None) -> None:
    """Run a click command with the toolkit's exit rule.

    An :class:`MFError` or a usage error (a missing option, a bad value) prints one line on
    stderr and exits 2; ``--debug`` anywhere on the command line shows the traceback instead.
    A local fault (:mod:`schemas.faults`: a full disk, a read-only or forbidden folder) that
    reaches here as a bare ``OSError`` prints one line naming the path and exits 1, and so does an
    import that failed for a shared library this machine lacks (``missing_library``: libGL); any
    other ``OSError`` or ``ImportError`` is a bug and keeps its traceback.
    The command itself exits 1 when some items failed (:func:`exit_if_failed`).
    Log lines and warnings shown on stderr meanwhile show control characters as escapes
    (:func:`terminal_logging`).
    Ctrl-C (SIGINT) says the state is saved and exits 130; SIGTERM stops the command the same
    way (:class:`Terminated`) and exits 143, also where the command handled the interrupt itself.
    A Ctrl-C once the outcome is settled (the exit rule applied, or the command returned:
    :func:`settle_outcome`) is dropped, so the exit status agrees with the result printed.
    With ``--json`` on the command line, each of these stops (and a bug's traceback) also prints
    one JSON document on stdout (:func:`error_document`) when the command printed none yet: a
    machine reading stdout gets one document whatever the exit status.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args.remove("--debug")
    main = threading.current_thread() is threading.main_thread()
    sigint = signal.getsignal(signal.SIGINT) if main else None
    _settling[:] = [True] if main else []
    try:
        with sigterm_interrupts() as sigterm, terminal_logging():
            try:
                _run(cmd, args, debug)
            except SystemExit as exc:
                if sigterm.received and exc.code == EXIT_INTERRUPTED:
                    raise SystemExit(EXIT_TERMINATED) from None
                raise
            except Terminated:  # after the command, or while its error was being reported
                raise SystemExit(EXIT_TERMINATED) from None
    finally:
        if main:  # Ctrl-C as it was before (a test process, a caller's own handler)
            _settling.clear()
            signal.signal(signal.SIGINT, sigint if sigint is not None else signal.default_int_handler)


#: the bad paths the last net words (ENOENT is left out: a missing file is the command's to name)
_PATH_NET = frozenset({errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENAMETOOLONG})


def _wants_json(args: list[str]) -> bool:
    """Whether ``--json`` is among the options of ``args`` (not after a ``--``)."""
    return "--json" in (args[: args.index("--")] if "--" in args else args)


def error_document(exc: BaseException, message: str) -> dict[str, Any]:
    """The JSON document of a command stopped by ``exc`` (``message``: its stderr line without
    ``error: ``): ``ok`` false, ``error`` (that line without the `` (hint)`` an :class:`MFError`
    ends it with: the hint is said once, in ``hint``, as ``mf schema validate --json`` gives a
    file's error), ``path`` (the file, folder, field, option or URL at fault; None when none is
    named), ``hint`` (what to do), ``reason`` (a local fault's or a fetch's reason, ``usage``,
    ``interrupted``; else None) and ``type`` (the error's class)."""
    if isinstance(exc, MFError) and isinstance(exc.message, str):
        message = terminal_text(f"{exc.where}: {exc.message}" if exc.where else exc.message)
    where = getattr(exc, "where", None)
    if isinstance(exc, OSError):
        where = exc.filename
    elif isinstance(exc, click.BadParameter) and exc.param_hint:
        hint = exc.param_hint if isinstance(exc.param_hint, str) else " / ".join(exc.param_hint)
        where = hint.strip("'")
    elif isinstance(exc, click.BadParameter) and exc.param is not None:
        where = exc.param.opts[0] if isinstance(exc.param, click.Option) else exc.param.name
    reason = getattr(exc, "reason", None)
    if not isinstance(reason, str):
        reason = None
    if reason is None and isinstance(exc, click.UsageError):
        reason = "usage"
    elif reason is None and isinstance(exc, KeyboardInterrupt | click.exceptions.Abort):
        reason = "interrupted"
    hint = getattr(exc, "hint", None)
    return {
        "ok": False,
        "error": message,
        "path": str(where) if isinstance(where, str | os.PathLike) else None,
        "hint": hint if isinstance(hint, str) else None,
        "reason": reason,
        "type": type(exc).__name__,
    }


def _print_error_document(exc: BaseException, message: str, as_json: bool) -> None:
    """Under ``--json``, the :func:`error_document` on stdout when the command printed no result
    yet (a stdout that cannot be written is left be: the stderr line and the exit status say it)."""
    if not as_json or _emitted:
        return
    try:
        stream = result_stream()
        text = json.dumps(error_document(exc, message), indent=2, sort_keys=True, default=str)
        click.echo(_encodable(text, stream), file=stream)
        stream.flush()
    except (OSError, ValueError):  # a closed pipe, a full disk under a redirected stdout
        pass


def _report(exc: BaseException, message: str, as_json: bool) -> None:
    """``error: message`` on stderr (an interrupt's line as it is), and under ``--json`` the
    :func:`error_document` on stdout."""
    interrupted = isinstance(exc, KeyboardInterrupt | click.exceptions.Abort)
    message = terminal_text(message)  # an error may quote what a site sent
    line = message if interrupted else f"error: {message}"
    # a path holding a lone surrogate (a file name that is not UTF-8) shown as its escape, on
    # any stderr (a strict one too), instead of a UnicodeEncodeError in place of the error
    click.echo(_encodable(line, sys.stderr), err=True)
    _print_error_document(exc, message, as_json)


def _run(cmd: click.Command, args: list[str], debug: bool) -> None:
    """:func:`run_main`'s exit rule around ``cmd``."""
    _interrupt_hint[0] = RESUME_HINT
    _emitted.clear()
    as_json = _wants_json(args)
    try:
        from schemas.config import env_decode_device
        from schemas.progress_lines import every_s

        if not {"--help", "-h", "--version"} & set(args):  # help and version always answer
            every_s()  # a bad $MF_PROGRESS_EVERY_S is refused at the start, terminal or not
            env_decode_device()  # and a bad $MF_DECODE_DEVICE, before any video is called unreadable
        try:
            status = cmd.main(args=args, standalone_mode=False, prog_name=None)
            settle_outcome()  # returned: a late Ctrl-C cannot make it exit 130
        except Exception as exc:
            cause = interrupt_behind(exc)
            if cause is not None:  # an error raised while the interrupt unwound is the interrupt
                raise type(cause)() from exc
            raise
    except MFError as exc:
        if debug:
            traceback.print_exc()
        _report(exc, str(exc), as_json)
        sys.exit(exc.exit_code)
    except (OSError, ImportError) as exc:
        # the net under writes no local_faults() wrapped (a full disk, no permission), and under a
        # native library this machine lacks (libGL): not a bug, not the data's
        from schemas.faults import as_local_fault, path_error

        fault = as_local_fault(exc)
        if fault is None and isinstance(exc, OSError) and exc.filename is not None and exc.errno in _PATH_NET:
            fault = path_error(exc, exc.filename)  # e.g. --out under a file: one line, exit 2
        if fault is None:
            _report_bug(exc, as_json)
            raise
        if debug:
            traceback.print_exc()
        _report(fault, str(fault), as_json)
        sys.exit(fault.exit_code)
    except click.exceptions.Abort as exc:  # click turns Ctrl-C into Abort (from KeyboardInterrupt)
        interrupted = isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt)
        _report(exc, _interrupt_hint[0] if interrupted else "aborted", as_json)
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt as exc:
        _report(exc, _interrupt_hint[0], as_json)
        sys.exit(EXIT_INTERRUPTED)
    except click.UsageError as exc:
        message = " ".join(exc.format_message().split())
        path = exc.ctx.command_path if exc.ctx is not None else ""
        _report(exc, message + (f" (see '{path} --help')" if path else ""), as_json)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        _report(exc, " ".join(exc.format_message().split()), as_json)
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug: its traceback stays, and --json still gets its document
        _report_bug(exc, as_json)
        raise
    if isinstance(status, int) and status:  # ctx.exit(n) inside a command
        sys.exit(status)


def _report_bug(exc: BaseException, as_json: bool) -> None:
    """Under ``--json``, the :func:`error_document` of an unexpected error (a bug), whose
    traceback Python prints on stderr as it ends the command (exit 1)."""
    _print_error_document(exc, f"internal error: {type(exc).__name__}: {exc}", as_json)


def interrupt_behind(exc: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C or SIGTERM (:class:`Terminated`) behind ``exc``, or None: an error raised
    while an interrupt unwound (``torch.save``'s zip writer fails its ``__exit__`` when the
    signal lands in its write callback) has the interrupt in its ``__context__``/``__cause__``
    chain, and is the interrupt, not a failure."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, KeyboardInterrupt):
            return e
        todo += [e.__cause__, e.__context__]
    return None


def exit_if_failed(failed: Sized | int, *, note: str | None = None) -> None:
    """The exit rule, called after the output: exit 1 when some items failed (the output lists
    them; ``note`` goes to stderr first), else return (the command exits 0). The outcome is
    settled from here (:func:`settle_outcome`): a late Ctrl-C does not turn it into exit 130."""
    settle_outcome()
    n = failed if isinstance(failed, int) else len(failed)
    if n:
        if note:
            click.echo(note, err=True)
        sys.exit(1)


#: set (non-empty) once :func:`emit` printed this command's result: :func:`run_main` then adds no
#: JSON error document after it (stdout holds one document)
_emitted: list[bool] = []


def emit(
    result: Any,
    as_json: bool,
    human: Callable[[Any], str] | None = None,
    *,
    sort_keys: bool = True,
    indent: int | None = 2,
) -> None:
    """Print a result as JSON (``--json``: one document on stdout; ``indent=None``: on one line)
    or as human text, on stdout even while it is diverted (:func:`divert_stdout`)."""
    if as_json:  # RFC 8259 JSON: plain() gave null for NaN and infinities
        text = json.dumps(plain(result), indent=indent, sort_keys=sort_keys, default=str, allow_nan=False)
    else:
        text = human(result) if human else str(result)
    stream = result_stream()
    _emitted.append(True)
    click.echo(_encodable(text, stream), file=stream)


#: characters a terminal acts on instead of showing (C0 but newline and tab, DEL, C1)
_TERMINAL_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_text(text: str) -> str:
    """``text`` with each character a terminal would act on shown as its ``\\x..`` escape: a
    site's reason phrase, a page's title or a library's message carried into a command's output
    cannot move the cursor, retitle the window or write the clipboard (an ESC sequence), nor hide
    a line behind a carriage return. Newlines and tabs stay."""
    return _TERMINAL_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class TerminalFormatter(logging.Formatter):
    """A log line as :func:`terminal_text` shows it: a message, an exception's text or a stack
    quoting what a site sent (a title, a reason phrase, a video's metadata) cannot drive the
    terminal; a request's secrets a line names (a URL's ``iid``, a cookie: a library's debug
    lines too) are redacted (:func:`schemas.redact.redact`; a record the toolkit's own loggers
    redacted already, :func:`schemas.redact.redacted_logger`, is not redacted twice). Formats as
    :class:`logging.Formatter` does otherwise."""

    def format(self, record: logging.LogRecord) -> str:
        """The record's line(s), secrets redacted, control characters shown as escapes."""
        text = super().format(record)
        return terminal_text(text if getattr(record, REDACTED_ATTR, False) else redact(text))


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes, as :data:`logging.lastResort`
    does (a test's capture, a diverted stream)."""

    def __init__(self, level: int = logging.NOTSET) -> None:
        logging.Handler.__init__(self, level)

    @property
    def stream(self) -> Any:  # type: ignore[override]
        """The current ``sys.stderr``."""
        return sys.stderr


def _escaped_warnings(format_warning: Callable[..., str]) -> Callable[..., str]:
    """``format_warning`` (a :func:`warnings.formatwarning`) with its text passed through
    :func:`terminal_text`: the same lines, control characters shown as escapes."""

    def formatwarning(
        message: Warning | str, category: type[Warning], filename: str, lineno: int, line: str | None = None
    ) -> str:
        return terminal_text(format_warning(message, category, filename, lineno, line))

    return formatwarning


def log_to_stderr(level: int, fmt: str = "%(levelname)s %(name)s: %(message)s") -> None:
    """:func:`logging.basicConfig` for a command that sets its own log level (``-v``): records of
    ``level`` and above on stderr in ``fmt``, through :class:`TerminalFormatter`. Like
    ``basicConfig``, does nothing when the root logger has handlers already."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(TerminalFormatter(fmt))
    logging.basicConfig(level=level, handlers=[handler])


@contextlib.contextmanager
def terminal_logging() -> Iterator[None]:
    """While inside, what :mod:`logging` and :mod:`warnings` show on stderr shows control
    characters as escapes (:func:`terminal_text`): a record no handler took (Python's last-resort
    handler: WARNING and above, the bare message, as before) and a warning shown to the user (the
    same lines as before; with :mod:`tracemalloc` on, a ``ResourceWarning`` no longer adds where
    its object was allocated). A command's own handlers use :class:`TerminalFormatter`
    (:func:`log_to_stderr`). Levels and wording are unchanged; both are put back on leaving."""
    handler = _StderrHandler(logging.WARNING)
    handler.setFormatter(TerminalFormatter())
    before = logging.lastResort, warnings.formatwarning
    # the warning's text, not how it is shown: a test runner recording warnings still gets them
    escaped = _escaped_warnings(before[1])
    logging.lastResort = handler
    warnings.formatwarning = escaped
    try:
        yield
    finally:
        if logging.lastResort is handler:
            logging.lastResort = before[0]
        if warnings.formatwarning is escaped:
            warnings.formatwarning = before[1]


def escape_terminal_output() -> None:
    """In a worker process (a process pool's, started by spawn): :func:`terminal_logging` in
    force until it ends, so what its logging and warnings print on the stderr it shares with the
    command shows control characters as escapes, as the command's own lines do."""
    held = terminal_logging()
    held.__enter__()
    _FOR_LIFE.append(held)  # kept: a collected one would put the raw output back


#: the :func:`terminal_logging` blocks entered for the life of this process
_FOR_LIFE: list[Any] = []


#: SGR sequences (colours, bold): a library's own styling, dropped from the lines it logs
_SGR = re.compile(r"\x1b\[[0-9;]*m")


class _EscapingFilter(logging.Filter):
    """Rewrites a record a library's own handler will print as :func:`terminal_text` shows it
    (message, exception and stack text, secrets redacted; the library's colour codes dropped)."""

    def filter(self, record: logging.LogRecord) -> bool:
        def clean(text: str) -> str:
            return terminal_text(_SGR.sub("", text))

        redact_record(record)  # its secrets first (its exception's text made too)
        record.msg, record.args = clean(record.getMessage()), None
        if record.exc_text:
            record.exc_text = clean(record.exc_text)
        if record.stack_info:
            record.stack_info = clean(record.stack_info)
        return True


def escaping_library_logs(name: str) -> Callable[[], None]:
    """Until the returned function is called, the lines the handlers of logger ``name`` print
    (a library that prints its log itself, not through the command's handlers: Ray's driver, its
    "Unhandled error" lines quoting a task's exception) show control characters as escapes;
    handlers it adds later are not covered. The function may be called twice."""
    handlers = list(logging.getLogger(name).handlers)
    flt = _EscapingFilter()
    for h in handlers:
        h.addFilter(flt)

    def restore() -> None:
        for h in handlers:
            h.removeFilter(flt)

    return restore


def _encodable(text: str, stream: Any) -> str:
    """``text`` as ``stream`` can write it: a character its encoding lacks (``±`` on an ASCII
    stdout) becomes a ``\\xb1`` escape instead of failing the command after all its work, and so
    does a character a terminal would act on (:func:`terminal_text`)."""
    text = terminal_text(text)
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return text.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:  # an encoding Python does not know: leave it to the stream
        pass
    return text


class _ToStderr:
    """A stand-in for ``sys.stdout`` writing to the current ``sys.stderr``, control characters
    shown as escapes (:func:`terminal_text`): a library's lines there may quote what a site sent."""

    def write(self, text: str) -> int:
        sys.stderr.write(terminal_text(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(sys.stderr, name)


#: (stand-in, the ``sys.stdout`` it replaced) of each :func:`divert_stdout` in force
_diverted: list[tuple[_ToStderr, Any]] = []


def divert_stdout() -> Callable[[], None]:
    """Send what is printed on stdout to stderr until the returned function is called;
    :func:`emit` still writes to the real stdout, so a ``--json`` document stays the only thing
    there. For libraries whose threads print on stdout (Ray's driver prints a worker's death
    there whatever its settings). Calls may nest; the returned function may be called twice."""
    proxy = _ToStderr()
    _diverted.append((proxy, sys.stdout))
    sys.stdout = proxy  # type: ignore[assignment]

    def restore() -> None:
        i = next((k for k, (p, _) in enumerate(_diverted) if p is proxy), None)
        if i is None:
            return
        before = _diverted.pop(i)[1]
        if i < len(_diverted) and _diverted[i][1] is proxy:  # a later one replaced this one
            _diverted[i] = (_diverted[i][0], before)
        if sys.stdout is proxy:
            sys.stdout = before

    return restore


def result_stream() -> Any:
    """Where a command's result goes: ``sys.stdout``, or what it was before it was diverted."""
    out = sys.stdout
    for proxy, before in reversed(_diverted):
        if out is proxy:
            out = before
    return out


def plain(value: Any) -> Any:
    """JSON-ready data: pydantic models, dataclasses, dicts, lists/tuples, paths and numpy numbers
    and arrays, recursively; a float that is not finite (NaN, an infinity) becomes None (JSON has
    no such number: ``null``, as pydantic writes it)."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):  # numpy is not imported here
        return plain(value.tolist())  # a scalar gives the Python number, an array nested lists
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


#: this process's ``--progress/--no-progress`` (None: not given): :func:`progress_option`
_progress_choice: bool | None = None


def progress_option(f: F) -> F:
    """``--progress/--no-progress`` on a long command: progress on stderr, or none (default: a bar
    on a terminal, a line every ``$MF_PROGRESS_EVERY_S`` seconds in a log or pipe)."""

    def _set(ctx: click.Context, param: click.Parameter, value: bool | None) -> None:
        global _progress_choice
        if value is not None:
            _progress_choice = value

    return click.option(
        "--progress/--no-progress",
        default=None,
        expose_value=False,
        callback=_set,
        help="Progress on stderr [default: a bar on a terminal, a line every 10 s in a log or pipe].",
    )(f)


def move_to(bar: Any, done: int, total: int) -> None:
    """Move a :func:`progress_bar` to ``done`` of ``total``: the ``progress(done, total)``
    callbacks of functions that report counts so far, not steps."""
    bar.total = total
    bar.update(done - bar.n)


def progress_bar(
    *, desc: str, total: int | None = None, unit: str = "it", disable: bool | None = None
) -> Any:
    """Progress on stderr for loops driven by callbacks (``.update()``, ``.total``): a tqdm bar
    on a terminal (80 columns when the terminal says it has none: ``script``, ``docker run -t``),
    plain lines every 10 s elsewhere (a CI log: :class:`~schemas.progress_lines.LineProgress`),
    nothing with ``disable=True``; ``disable=False`` forces the bar. Without either, the
    command's ``--progress/--no-progress`` decides (:func:`progress_option`)."""
    import shutil

    from tqdm import tqdm

    if disable is None and _progress_choice is not None:
        disable = not _progress_choice

    if disable is None and not sys.stderr.isatty():
        from schemas.progress_lines import LineProgress

        return LineProgress(desc=desc, total=total, unit=unit)
    try:  # what tqdm reads to size its bar (shutil's fallback would hide a 0)
        width = os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError, AttributeError):
        width = shutil.get_terminal_size(fallback=(80, 24)).columns
    sized = {"dynamic_ncols": True} if width > 0 else {"ncols": 80, "nrows": 24}
    return _activity_bar(tqdm)(
        desc=desc, total=total, unit=unit, disable=bool(disable), file=sys.stderr, **sized
    )


#: a terminal bar redraws for a step's progress at most this often (seconds)
ACTIVITY_REDRAW_S = 0.5


@functools.cache
def _activity_bar(tqdm: type) -> type:
    """A tqdm class that shows the step inside the current item (:mod:`schemas.activity`) after
    its postfix and redraws when it changes (at most every :data:`ACTIVITY_REDRAW_S`)."""
    from schemas import activity

    class ActivityBar(tqdm):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kw: Any) -> None:
            super().__init__(*args, **kw)
            self._drawn_at = 0.0
            self._unlisten = activity.listen(self._on_activity)

        def _on_activity(self) -> None:
            now = time.monotonic()
            ended = activity.current() is None  # drawn at once: no stale step stays on screen
            if not self.disable and (ended or now - self._drawn_at >= ACTIVITY_REDRAW_S):
                self._drawn_at = now
                self.refresh()

        @property
        def format_dict(self) -> dict[str, Any]:
            d = super().format_dict
            step = activity.current()
            if step:
                d["postfix"] = f"{d['postfix']}; {step}" if d.get("postfix") else step
            return d

        def close(self) -> None:
            self._unlisten()
            super().close()

    return ActivityBar


def progress(
    iterable: Iterable[T],
    *,
    desc: str,
    total: int | None = None,
    unit: str = "it",
    disable: bool | None = None,
) -> Iterable[T]:
    """``iterable`` with a :func:`progress_bar` (the ``progress=`` hook the library takes)."""
    if total is None and isinstance(iterable, Sized):
        total = len(iterable)
    bar = progress_bar(desc=desc, total=total, unit=unit, disable=disable)
    try:
        for item in iterable:
            yield item
            bar.update(1)
    finally:
        bar.close()


json_option = click.option("--json", "as_json", is_flag=True, help="Print a machine-readable JSON result.")


class FiniteFloat(click.types.FloatParamType):
    """A float option that refuses ``nan`` and ``inf`` (click's ``float`` takes both, and a range
    lets NaN through, since every comparison with it is false)."""

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        rv = super().convert(value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return rv


class FiniteFloatRange(click.FloatRange):
    """:class:`click.FloatRange` that refuses ``nan`` and ``inf`` (see :class:`FiniteFloat`)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        rv = super().convert(value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return rv


FINITE_FLOAT = FiniteFloat()


# -- the options naming one concept everywhere ---------------------------------------------------


def require_dataset(path: str | Path, option: str = "--dataset") -> str:
    """A published dataset folder (``train.json`` and/or ``test.json`` inside), or a
    :class:`DataFormatError` naming it."""
    from schemas.official import split_files

    split_files(path, option=option)
    return str(path)


def require_root(path: str | Path) -> str:
    """An existing collection folder, or a :class:`ConfigError` naming it."""
    if not Path(path).is_dir():
        raise ConfigError(
            "collection root not found", where=str(path), hint="--root takes the folder mf-collect filled"
        )
    return str(path)


def require_catalog(path: str | Path) -> str:
    """An existing catalog file, or a :class:`CatalogError` naming it."""
    if not Path(path).is_file():
        raise CatalogError(
            "catalog not found", where=str(path), hint="--catalog takes the SQLite catalog mf-collect wrote"
        )
    return str(path)


def _checked(check: Callable[[str], str]) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None or ctx.resilient_parsing:
            return value
        return check(value)

    return callback


def dataset_option(
    *, required: bool = True, exists: bool = True, help: str = "Dataset folder (official format, mf publish)."
) -> Callable[[F], F]:
    """``--dataset``: a published dataset folder, checked before anything heavy is imported."""
    return click.option(
        "--dataset",
        required=required,
        type=click.Path(file_okay=False),
        callback=_checked(require_dataset) if exists else None,
        help=help,
    )


def root_option(
    *,
    required: bool = True,
    exists: bool = True,
    help: str = "Collection folder (ROOT/<source>/<id>/<kind>.<ext>, filled by mf-collect).",
) -> Callable[[F], F]:
    """``--root``: the collection folder."""
    return click.option(
        "--root",
        required=required,
        type=click.Path(file_okay=False),
        callback=_checked(require_root) if exists else None,
        help=help,
    )


def catalog_option(
    *, required: bool = True, exists: bool = True, help: str = "SQLite catalog written by mf-collect."
) -> Callable[[F], F]:
    """``--catalog``: the catalog file (parameter name ``catalog_path``)."""
    return click.option(
        "--catalog",
        "catalog_path",
        required=required,
        type=click.Path(dir_okay=False),
        callback=_checked(require_catalog) if exists else None,
        help=help,
    )


def out_option(*, required: bool = True, file: bool = False, help: str, **kw: Any) -> Callable[[F], F]:
    """``--out``: what the command writes (a folder, or a file with ``file=True``)."""
    kind = click.Path(dir_okay=False) if file else click.Path(file_okay=False)
    return click.option("--out", required=required, type=kind, help=help, **kw)


def legacy_argument(name: str, option: str) -> Callable[[F], F]:
    """The old positional spelling of ``option``, kept working with a deprecation warning;
    combine the two with :func:`merge_legacy`."""
    return click.argument(
        f"legacy_{name}", required=False, metavar=f"[{name.upper()}]", deprecated=f"use {option} instead"
    )


def merge_legacy(value: T | None, legacy: T | None, option: str, *, required: bool = True) -> T | None:
    """The value of ``option``, or its old positional spelling; a usage error when both differ
    or when neither is given (``required``)."""
    if legacy is not None:
        if value is not None and value != legacy:
            raise click.UsageError(f"{option} is given twice (once in its old spelling): give it once")
        return legacy
    if value is None and required:
        raise click.UsageError(f"Missing option '{option}'.")
    return value


def legacy_folder(value: str | None, legacy: str | None, option: str) -> str:
    """:func:`merge_legacy` of a required input folder, which must exist (a usage error naming
    ``option`` otherwise)."""
    folder = merge_legacy(value, legacy, option)
    assert folder is not None
    if not Path(folder).is_dir():
        raise click.BadParameter(f"Directory '{folder}' does not exist.", param_hint=f"'{option}'")
    return folder


def run_file(path: str, filename: str, *, option: str, what: str, made_by: str) -> str:
    """A weights option's value: a file as given, or a run folder of the project's own (``mf train
    --out``, say) as its ``filename``; a folder without one is a usage error naming the folder.
    ``what`` names the file (``checkpoint``) and ``made_by`` the folder that holds one."""
    if not Path(path).is_dir():
        return path
    target = Path(path) / filename
    if not target.is_file():
        raise click.BadParameter(
            f"{path} is a folder without {filename}: give a {what} file, or {made_by}",
            param_hint=f"'{option}'",
        )
    return str(target)


MATCHER_RUN: dict[str, str] = {
    "filename": "matcher.pt",
    "what": "matcher",
    "made_by": "the --out folder of mf train --phase 1",
}
"""The :func:`run_file_option` keywords of a single-frame matcher option."""
DETECTOR_RUN: dict[str, str] = {
    "filename": "detector.pt",
    "what": "detector weights",
    "made_by": "the --out folder of mf train-detector",
}
"""The :func:`run_file_option` keywords of a detector weights option."""


def run_file_option(
    *names: str, filename: str, what: str, made_by: str, exists: bool = True, help: str, **kw: Any
) -> Callable[[F], F]:
    """A weights or checkpoint option that also takes a run folder of the project's own
    (:func:`run_file`); ``--help`` says which file of the folder is read. ``multiple=True``
    resolves each value."""
    option = next(n for n in names if n.startswith("--"))

    def resolve(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None or ctx.resilient_parsing:
            return value
        one = functools.partial(run_file, filename=filename, option=option, what=what, made_by=made_by)
        return tuple(one(v) for v in value) if isinstance(value, tuple) else one(value)

    return click.option(
        *names,
        type=click.Path(exists=exists),
        callback=resolve,
        help=f"{help} A folder stands for its {filename} ({made_by}).",
        **kw,
    )


@dataclasses.dataclass(frozen=True)
class RunFileType:
    """The argparse ``type=`` of a developer tool's weights option (:func:`add_run_file_argument`):
    :func:`run_file` for a script run as ``python -m`` or ``python benchmarks/...``. A path that does
    not exist, or a folder without ``filename``, is argparse's usage error naming the option."""

    filename: str
    what: str
    made_by: str

    def __call__(self, value: str) -> str:
        if not Path(value).exists():
            raise argparse.ArgumentTypeError(
                f"{value} does not exist: give a {self.what} file, or {self.made_by}"
            )
        try:
            return run_file(value, self.filename, option="", what=self.what, made_by=self.made_by)
        except click.BadParameter as exc:
            raise argparse.ArgumentTypeError(exc.message) from None


def add_run_file_argument(
    parser: argparse.ArgumentParser, *names: str, filename: str, what: str, made_by: str, help: str, **kw: Any
) -> argparse.Action:
    """:func:`run_file_option` for an argparse ``parser`` (a developer tool's weights option): a
    weights file, or the run folder of the command that wrote it; ``--help`` says which file of
    the folder is read. Returns the argparse action."""
    return parser.add_argument(
        *names,
        type=RunFileType(filename, what, made_by),
        help=f"{help} A folder stands for its {filename} ({made_by}).",
        **kw,
    )
