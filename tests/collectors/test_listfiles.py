"""Target list files read recursively: lists within lists, and a list naming itself refused."""

from __future__ import annotations

import pytest

from collectors.cli import collect
from collectors.listfiles import expand_lists
from schemas.cli_support import run_main
from schemas.errors import DataFormatError


def _expand(target: str) -> list[str]:
    return list(
        expand_lists(
            target,
            is_list=lambda p: p.is_file() and p.suffix == ".txt",
            line_target=lambda line: line.strip() or None,
        )
    )


def test_lists_within_lists_expand_and_a_list_may_be_named_twice(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inner.txt").write_text("x\ny\n")
    (tmp_path / "outer.txt").write_text("a\ninner.txt\n\n@inner.txt\n")  # named twice: no cycle
    assert _expand("@outer.txt") == ["a", "x", "y", "x", "y"]
    assert _expand("not-a-file") == ["not-a-file"]


@pytest.mark.parametrize("chain", [["self.txt"], ["a.txt", "b.txt"], ["a.txt", "b.txt", "c.txt"]])
def test_a_list_already_being_read_is_refused_naming_it(tmp_path, monkeypatch, chain):
    monkeypatch.chdir(tmp_path)
    for name, nxt in zip(chain, [*chain[1:], chain[0]], strict=True):
        (tmp_path / name).write_text(f"target-of-{name}\n{nxt}\n")
    with pytest.raises(DataFormatError) as ei:
        _expand("@" + chain[0])
    assert ei.value.where == chain[0] and "already being read" in ei.value.message


def test_an_unreadable_list_is_named(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\n\xff\xfe\n")
    with pytest.raises(DataFormatError) as ei:
        _expand(str(bad))
    assert ei.value.where == str(bad) and "UTF-8" in ei.value.message


def run_cli(args: list, capsys) -> tuple[int, str]:
    """``mf-collect ARGS`` in-process through its entry point: (exit status, stderr)."""
    code = 0
    try:
        run_main(collect, [str(a) for a in args])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    return code, capsys.readouterr().err


@pytest.mark.parametrize("source", ["tiktok", "instagram", "netaporter"])
@pytest.mark.parametrize("dry_run", [True, False])
def test_a_url_list_naming_itself_is_refused_before_anything_is_created(
    tmp_path, monkeypatch, capsys, source, dry_run
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "self.txt").write_text("self.txt\n")
    (tmp_path / "a.txt").write_text("#ootd\nb.txt\n")
    (tmp_path / "b.txt").write_text("a.txt\n")
    for target, named in (("@self.txt", "self.txt"), ("a.txt", "a.txt")):
        code, err = run_cli([source, target, "--root", "r1", *(["--dry-run"] if dry_run else [])], capsys)
        assert code == 2, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {named}: list file is already being read")
        assert not (tmp_path / "r1").exists()
