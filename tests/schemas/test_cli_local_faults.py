"""A local fault (a read-only file system, a folder the user may not write, a full disk) that
reaches ``run_main`` as a bare ``OSError`` prints one line naming the path and exits 1, no
traceback; any other ``OSError`` is a bug and keeps its traceback."""

from __future__ import annotations

import errno
import json

import click
import pytest

from schemas.cli_support import emit, json_option, run_main


def _command(exc: BaseException) -> click.Command:
    @click.command()
    def cmd() -> None:
        raise exc

    return cmd


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.EROFS, "read only filesystem (EROFS"),
        (errno.EACCES, "permission denied (EACCES"),
        (errno.ENOSPC, "disk full (ENOSPC"),
    ],
)
def test_a_local_fault_is_one_line_naming_the_path(tmp_path, capsys, code, words):
    path = str(tmp_path / "ds" / ".tracklets-refresh-pending")
    with pytest.raises(SystemExit) as exc:
        run_main(_command(OSError(code, "refused", path)), [])
    err = capsys.readouterr().err
    assert exc.value.code == 1
    assert err.startswith(f"error: {path}: {words}") and err.count("\n") == 1
    assert "Traceback" not in err


def test_another_os_error_is_not_hidden(tmp_path):
    with pytest.raises(FileNotFoundError):
        run_main(_command(FileNotFoundError(errno.ENOENT, "gone", str(tmp_path / "x"))), [])


def _mkdir_under_file(tmp_path):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "afile" / "sub").mkdir(parents=True)


def _write_a_folder(tmp_path):
    (tmp_path / "out.json").mkdir()
    (tmp_path / "out.json").write_text("{}")


@pytest.mark.parametrize(
    ("act", "blocker", "words"),
    [
        (_mkdir_under_file, "afile", "is a file, where a folder is needed"),
        (_write_a_folder, "out.json", "is a folder, where a file is needed"),
    ],
)
def test_a_bad_output_path_is_one_line_naming_it(tmp_path, capsys, act, blocker, words):
    """What every command's --out met (was: a NotADirectoryError traceback in about 8 commands)."""

    @click.command()
    def cmd() -> None:
        act(tmp_path)

    with pytest.raises(SystemExit) as exc:
        run_main(cmd, [])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "Traceback" not in err and err.count("\n") == 1
    assert err.startswith(f"error: {tmp_path / blocker}: {words}")


def _json_command(exc: BaseException, result: dict | None = None) -> click.Command:
    @click.command()
    @json_option
    def cmd(as_json: bool) -> None:
        if result is not None:
            emit(result, as_json)
        raise exc

    return cmd


def test_under_json_a_stop_is_also_one_json_document_on_stdout(tmp_path, capsys):
    """A full disk (exit 1) and Ctrl-C (exit 130) with --json: the stderr line as without it, and
    one JSON document on stdout naming the fault, the path and what to do (was: nothing)."""
    path = str(tmp_path / "out" / "train.json")
    with pytest.raises(SystemExit) as exc:
        run_main(_json_command(OSError(errno.ENOSPC, "No space left on device", path)), ["--json"])
    out, err = capsys.readouterr()
    assert (
        exc.value.code == 1 and err.startswith(f"error: {path}: disk full (ENOSPC") and err.count("\n") == 1
    )
    doc = json.loads(out)
    assert doc["ok"] is False and doc["reason"] == "disk_full" and doc["path"] == path
    assert (
        f"{doc['error']} ({doc['hint']})" == err.strip().removeprefix("error: ")
        and "free space" in doc["hint"]
    )
    assert doc["type"] == "LocalFault"

    with pytest.raises(SystemExit) as exc:
        run_main(_json_command(KeyboardInterrupt()), ["--json"])
    out, err = capsys.readouterr()
    assert exc.value.code == 130 and err.strip().startswith("interrupted: state is saved")
    assert json.loads(out)["reason"] == "interrupted"


def test_under_json_a_result_printed_before_the_stop_stays_the_only_document(tmp_path, capsys):
    """A command that printed its --json result and then stops (mf catalog check on a damaged
    catalog) keeps that one document on stdout; and one run's result does not silence the next."""
    fault = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x"))
    with pytest.raises(SystemExit):
        run_main(_json_command(fault, {"ok": False, "problems": ["damaged"]}), ["--json"])
    assert json.loads(capsys.readouterr().out) == {"ok": False, "problems": ["damaged"]}
    with pytest.raises(SystemExit):
        run_main(_json_command(fault), ["--json"])
    assert json.loads(capsys.readouterr().out)["reason"] == "disk_full"
