"""Targets no run can collect are refused naming what is wrong: a list or folder of nothing, a URL.

The finding: ``mf-collect netaporter ids.txt`` with an id file of only comments (or zero bytes),
``mf-collect tiktok DIR/`` and ``mf-collect instagram DIR/`` with an empty folder said
``0 ok, 0 failed``, exit 0, and created ROOT and its catalog. ``mf-collect urls`` already refused
such a list. Now each is one line naming the file or folder, exit 2, nothing created."""

from __future__ import annotations

import pytest

from collectors.cli import collect as mf_collect
from tests.mf_cli import run_command

NO_SITE = "http://127.0.0.1:9"  # nothing is fetched: the input is refused first


def _refused(tmp_path, capsys, *args: str) -> str:
    """mf-collect ARGS: the one error line (exit 2, no traceback, ROOT not created)."""
    root = tmp_path / "data"
    code, out, err = run_command(mf_collect, [*args, "--root", str(root), "--base-url", NO_SITE], capsys)
    assert code == 2 and "Traceback" not in err, err
    assert not root.exists()
    (line,) = err.strip().splitlines()
    return line


@pytest.mark.parametrize("source", ["netaporter", "tiktok", "instagram"])
@pytest.mark.parametrize("text", ["", "# my picks\n\n   \n"], ids=["zero bytes", "comments"])
@pytest.mark.parametrize("at", ["", "@"], ids=["path", "@FILE"])
def test_a_list_file_naming_no_target_is_refused_naming_it(tmp_path, capsys, source, text, at):
    ids = tmp_path / "ids.txt"
    ids.write_text(text)
    line = _refused(tmp_path, capsys, source, f"{at}{ids}")
    assert line.startswith(f"error: {ids}: list file names no target (only blank or # comment lines)")
    assert f"mf-collect {source} --help" in line


@pytest.mark.parametrize(
    ("source", "what"),
    [("tiktok", "saved info file (*.json)"), ("instagram", "saved structure file (*.json, *.json.xz)")],
)
def test_an_empty_saved_folder_is_refused_naming_it(tmp_path, capsys, source, what):
    folder = tmp_path / "saved"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a saved file\n")
    line = _refused(tmp_path, capsys, source, f"{folder}/")
    assert line.startswith(f"error: {folder}: folder holds no {what} (")


def test_a_list_naming_one_target_among_comments_is_still_read(tmp_path, capsys):
    """Only a list of nothing is refused: one id among comments goes on (dry run: nothing fetched
    but the id is listed)."""
    ids = tmp_path / "ids.txt"
    ids.write_text("# picks\n\n1234567  # a dress\n")
    root = tmp_path / "data"
    code, out, err = run_command(
        mf_collect, ["netaporter", str(ids), "--root", str(root), "--dry-run", "--json"], capsys
    )
    assert code == 0, err
    assert "1234567" in out


@pytest.mark.parametrize(
    ("source", "target", "what"),
    [
        ("urls", "http://exa mple.com/x.mp4", "a URL holds no space (a pasted one cut in two?"),
        ("tiktok", "https://www.tiktok.com/@u/video/73 00", "a URL holds no space (a pasted one cut in two?"),
        ("instagram", "https://www.instagram.com/someuser/", "not a URL this source reads"),
    ],
)
def test_a_url_target_no_form_reads_is_not_called_a_missing_file(tmp_path, capsys, source, target, what):
    """The finding: a URL target with a space in it (pasted unquoted parts) or one of a page the
    source does not read was refused as "file not found", sending the user looking for a file."""
    line = _refused(tmp_path, capsys, source, target)
    assert line.startswith(f"error: TARGETS: cannot read target {target!r}: {what}")
    assert "file not found" not in line
