"""The one path check: canonical relative paths, and nothing joined onto a root ever leaves it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.errors import DataFormatError, MFError
from schemas.naming import check_safe_name
from schemas.paths import (
    PathEscapeError,
    canonical_relpath,
    check_relpath,
    inside,
    media_path,
    resolve_under,
)

#: Characters that matter to paths, plus some ordinary ones.
PATH_ALPHABET = st.sampled_from(list("ab.-_/\\\x00~:%") + ["..", "../", "/..", "é", "\n", " ", "C:"])
PATH_TEXT = st.lists(PATH_ALPHABET, max_size=12).map("".join) | st.text(max_size=30)
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _strictly_inside(path: Path, root: Path) -> bool:
    base = os.path.abspath(root)
    full = os.path.abspath(path)
    return full != base and full.startswith(base.rstrip(os.sep) + os.sep)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("../../../../etc/passwd", "'..' part"),
        ("videos/../../x.mp4", "'..' part"),
        ("/etc/passwd", "absolute"),
        ("./videos/a.mp4", "'.' part"),
        ("videos/./a.mp4", "'.' part"),
        ("videos\\..\\a.mp4", "backslash"),
        ("videos/a\x00.mp4", "NUL"),
        ("videos//a.mp4", "empty part"),
        ("videos/", "empty part"),
        ("", "empty"),
        ("C:/x.mp4", "absolute"),
        ("a\nb.mp4", "control"),
        ("tcp:127.0.0.1:9/v.mp4", "'tcp:', which FFmpeg"),
        ("concat:videos/a.mp4|/etc/passwd", "'concat:', which FFmpeg"),
        ("file:videos/a.mp4", "'file:', which FFmpeg"),
        ("subfile,,0,9,:videos/a.mp4", "protocol"),
        ("clip:1.mp4", "protocol"),
        ("videos/...mp4", "stem is '..'"),
        ("videos/..mp4", "stem is '.'"),
        ("...mp4", "stem is '..'"),
    ],
)
def test_non_canonical_paths_are_refused_naming_value_and_field(value, why):
    with pytest.raises(PathEscapeError) as err:
        canonical_relpath(value, what="video_paths[0]", where="train.json")
    e = err.value
    assert why in str(e) and "video_paths[0]" in str(e) and str(e).startswith("train.json: ")
    assert e.value == value and e.what == "video_paths[0]" and e.exit_code == 2
    assert isinstance(e, DataFormatError) and isinstance(e, MFError)


@pytest.mark.parametrize(
    "value", ["videos/p1_0.mp4", "imgs/p1.png", "a", "deep/er/x..y.mp4", "....mp4", "videos/a:b.mp4", ".mp4"]
)
def test_canonical_paths_pass(value):
    assert check_relpath(value) == value


@pytest.mark.parametrize("rel", ["../x", "/etc/passwd", "a/../../x", "a/../..", "..", ".", ""])
def test_resolve_under_refuses_what_leaves_the_root(tmp_path, rel):
    with pytest.raises(PathEscapeError) as err:
        resolve_under(
            tmp_path / "root", rel, what="asset path", where="catalog.sqlite", root_label="the root"
        )
    assert err.value.root == str(tmp_path / "root") and err.value.value == rel
    assert "catalog.sqlite" in str(err.value)


def test_resolve_under_keeps_a_relative_root_relative_and_media_path_makes_it_absolute(tmp_path, monkeypatch):
    """Callers take the answer relative to the root again (the collectors' asset paths under
    ``--root data``), so a relative root gives a relative path; what a decoder opens goes through
    ``media_path``, which starts with ``/``: FFmpeg then opens a file, never the protocol a name
    like ``tcp:HOST:PORT/v.mp4`` would select."""
    monkeypatch.chdir(tmp_path)
    got = resolve_under("data", "netaporter/1/video.mp4")
    assert got == Path("data/netaporter/1/video.mp4") and got.relative_to("data")
    assert inside(".", "videos", "a.mp4") == Path("videos/a.mp4")
    assert media_path(resolve_under(".", "tcp:127.0.0.1:9/v.mp4")) == str(tmp_path / "tcp:127.0.0.1:9/v.mp4")
    assert media_path("concat:a.mp4|b.mp4") == str(tmp_path / "concat:a.mp4|b.mp4")


def test_resolve_under_normalises_what_stays_inside(tmp_path):
    root = tmp_path / "root"
    assert resolve_under(root, "a/../b/c.mp4") == root / "b/c.mp4"
    assert resolve_under(root, str(root / "x/y.jpg")) == root / "x/y.jpg"  # absolute but inside
    assert resolve_under(root, ".", allow_root=True) == root


def test_inside_refuses_parts_that_name_no_file(tmp_path):
    assert inside(tmp_path, "tiktok", "7001") == tmp_path / "tiktok/7001"
    for parts in [("tiktok", ""), ("tiktok", ".."), ("tiktok", "."), ("..",), ("a", "/etc")]:
        with pytest.raises(PathEscapeError):
            inside(tmp_path, *parts)


def test_symlinks_are_followed_only_when_asked(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("x")
    (root / "link").symlink_to(outside, target_is_directory=True)
    assert resolve_under(root, "link/secret.txt") == root / "link/secret.txt"  # lexical: the owner's link
    with pytest.raises(PathEscapeError):
        resolve_under(root, "link/secret.txt", follow_symlinks=True)
    linked_root = tmp_path / "alias"
    linked_root.symlink_to(root, target_is_directory=True)  # a linked root itself is fine
    assert resolve_under(linked_root, "a.txt", follow_symlinks=True) == linked_root / "a.txt"


# -- properties ------------------------------------------------------------------------


@FUZZ
@given(rel=PATH_TEXT)
def test_no_relative_value_ever_escapes_the_root(tmp_path, rel):
    root = tmp_path / "root"
    try:
        got = resolve_under(root, rel)
    except PathEscapeError as exc:
        assert exc.root == str(root)
        return
    assert _strictly_inside(got, root), (rel, got)


@FUZZ
@given(parts=st.lists(PATH_TEXT, min_size=1, max_size=4))
def test_no_joined_parts_ever_escape_the_root(tmp_path, parts):
    root = tmp_path / "root"
    try:
        got = inside(root, *parts)
    except PathEscapeError:
        return
    assert _strictly_inside(got, root), (parts, got)


@FUZZ
@given(rel=PATH_TEXT)
def test_a_canonical_path_joins_to_the_same_file_inside(tmp_path, rel):
    try:
        check_relpath(rel)
    except ValueError:
        return
    root = tmp_path / "root"
    got = resolve_under(root, rel)  # never refused
    assert got == root / rel and _strictly_inside(got, root)
    assert ".." not in Path(rel).parts and not Path(rel).is_absolute() and "\\" not in rel
    assert Path(rel).stem not in (".", "..") and ":" not in rel.split("/")[0]


@FUZZ
@given(name=PATH_TEXT)
def test_a_safe_name_is_one_component_directly_under_the_root(tmp_path, name):
    try:
        check_safe_name(name)
    except ValueError:
        return
    got = inside(tmp_path, "source", name)
    assert got.parent == tmp_path / "source" and got.name == name
