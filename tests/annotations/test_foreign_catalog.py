"""`mf-tracklets build --catalog` and `mf-tracklets import --catalog` with another collection's
catalog: refused as the review page and the command-line review refuse it (one line naming the
catalog, the dataset and what to do, exit 2), before the models load and before anything is
written into that catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.annotations.review.review_dataset import other_catalog
from tests.mf_cli import run_tracklets


class _Reached(Exception):
    """The command got past its checks to the work it does (building, importing)."""


def _stop(*_a, **_k):
    raise _Reached


def _refused(code: int, out: str, err: str, other: Path, ds: Path) -> None:
    assert code == 2 and out == "" and "Traceback" not in err, err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: {other}: none of the "), line
    assert f"of the dataset {ds} is in this catalog" in line, line
    assert "pass the catalog" in line and "mf publish --catalog" in line, line


@pytest.mark.parametrize("command", ["build", "import"])
def test_a_catalog_of_another_collection_is_refused_before_anything_is_written(
    published, tmp_path, monkeypatch, capsys, command
):
    """The finding: `mf-tracklets build --catalog` took another collection's catalog without a
    word and wrote the dataset's flags and states into it (import recorded into it too). Now
    both stop at the start, the foreign catalog's bytes as they were; the dataset's own catalog
    still gets as far as the work."""
    import annotations.builder as builder
    import annotations.exchange.importer as importer

    ds, _ = published
    own = tmp_path / "catalog.sqlite"
    other = other_catalog(tmp_path)
    before = other.read_bytes()
    # the work past the checks (which live in the functions, so code calling them is checked too)
    monkeypatch.setattr(builder, "file_lock", _stop)  # the build's shard lock, taken after them
    monkeypatch.setattr(importer, "_dataset_videos", _stop)  # the import's first read
    source = tmp_path / "cvat.xml"
    source.write_text("<annotations/>")
    args = ["build"] if command == "build" else ["import", str(source)]

    code, out, err = run_tracklets([*args, "--dataset", str(ds), "--catalog", str(other)], capsys)
    _refused(code, out, err, other, ds)
    assert other.read_bytes() == before
    with pytest.raises(_Reached):
        run_tracklets([*args, "--dataset", str(ds), "--catalog", str(own)], capsys)


def test_the_functions_refuse_it_too_not_only_the_command_line(published, tmp_path):
    """The check lives in ``build_dataset_tracklets`` and ``import_cvat``, so a script or the app
    calling them with another collection's catalog is refused as the command line is."""
    from annotations.builder import build_dataset_tracklets
    from annotations.exchange.importer import import_cvat
    from schemas.errors import DataFormatError

    ds, _ = published
    other = other_catalog(tmp_path)
    before = other.read_bytes()
    source = tmp_path / "cvat.xml"
    source.write_text("<annotations/>")
    for call in (
        lambda: build_dataset_tracklets(ds, catalog=other),
        lambda: import_cvat(ds, source, catalog=other),
    ):
        with pytest.raises(DataFormatError, match="another collection's items"):
            call()
    assert other.read_bytes() == before
