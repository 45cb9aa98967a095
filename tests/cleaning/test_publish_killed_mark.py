"""A publish killed after it began changing the folder and before it described it leaves
``.publish-pending``: mf verify then says to rerun publish (exit 2), instead of reporting the
half-written files as breaks or a first half-published folder as clean; the rerun finishes the
folder and removes the mark."""

from __future__ import annotations

import pytest

import cleaning.publish.run as publish_run
from cleaning.publish import publish
from movingfashion.archive.at_rest import PUBLISH_MARK, BeingWritten, verify_at_rest
from schemas.catalog import Catalog
from tests.mf_cli import run_mf


class Killed(BaseException):
    """Stands for a SIGKILL: nothing after it runs, nothing catches it."""


def _killed_at(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    def boom(*args, **kwargs):
        raise Killed

    monkeypatch.setattr(publish_run, name, boom)


@pytest.mark.parametrize("where", ["_entry", "describe"])
def test_a_killed_publish_is_named_by_verify_until_rerun(
    cleaned_world, catalog_copy, tmp_path, capsys, where
):
    out = tmp_path / "dataset"
    with Catalog(catalog_copy) as cat:
        if where == "describe":  # a republish killed just before the manifest
            publish(cat, cleaned_world.root, out)
            assert verify_at_rest(out).ok and not (out / PUBLISH_MARK).exists()
        with pytest.MonkeyPatch.context() as m:
            _killed_at(m, where)  # _entry: a first publish killed while it places the media
            with pytest.raises(Killed):
                publish(cat, cleaned_world.root, out)
        assert (out / PUBLISH_MARK).exists()
        with pytest.raises(BeingWritten, match="mf publish was stopped") as err:
            verify_at_rest(out)
        assert "rerun the same mf publish" in str(err.value)
        code, _, err_text = run_mf(["verify", "--dataset", str(out)], capsys)
        assert code == 2 and "mf publish was stopped" in err_text
        publish(cat, cleaned_world.root, out)
    assert not (out / PUBLISH_MARK).exists()
    report = verify_at_rest(out)
    assert report.ok, report.table()
