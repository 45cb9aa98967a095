"""A local fault (a read-only file system, a folder the user may not write, a full disk) that
reaches ``run_main`` as a bare ``OSError`` prints one line naming the path and exits 1, no
traceback; any other ``OSError`` is a bug and keeps its traceback."""

from __future__ import annotations

import errno

import click
import pytest

from schemas.cli_support import run_main


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
