"""`mf publish` never reads or writes outside its folders: a tampered catalog row (an id like
``../../../evil``, an asset path leaving the collection root) is refused, exit 2, nothing written."""

from __future__ import annotations

import pytest

from cleaning.publish import publish
from movingfashion.app.cli import cli
from schemas.catalog import Catalog
from schemas.cli_support import run_main
from schemas.items import AssetKind, Status
from schemas.paths import PathEscapeError


def _exit_code(args) -> int:
    try:
        run_main(cli, args)
    except SystemExit as exc:
        return int(exc.code)
    return 0


def _files(top):
    return sorted(p.relative_to(top).as_posix() for p in top.rglob("*"))


def _first_accepted(cat: Catalog):
    return next(r for r in cat.items(status=Status.ACCEPTED) if r.item.source == "netaporter")


@pytest.mark.parametrize("evil", ["../../../evil", "a/b", "..", "x\x00y"])
def test_an_unsafe_product_id_is_refused_and_nothing_is_written(
    catalog_copy, cleaned_world, tmp_path, capsys, evil
):
    with Catalog(catalog_copy) as cat:
        victim = _first_accepted(cat)
        cat.set_item_state(victim.item.source, victim.item.source_id, product_id=evil)
        splits_before = {r.item.source_id: r.split for r in cat.items()}
    out = tmp_path / "w" / "x" / "ds"
    before = _files(tmp_path)
    args = ["publish", "--catalog", str(catalog_copy), "--root", str(cleaned_world.root), "--out", str(out)]
    assert _exit_code(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert repr(evil) in err and "product id" in err and str(catalog_copy) in err and str(out) in err
    assert _files(tmp_path) == before  # no dataset folder, no evil_0.mp4 / evil.jpg above it
    with Catalog(catalog_copy) as cat:
        assert {r.item.source_id: r.split for r in cat.items()} == splits_before


def test_an_asset_path_leaving_the_root_is_refused_before_anything_is_read_or_written(
    catalog_copy, cleaned_world, tmp_path, capsys
):
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"not yours")
    with Catalog(catalog_copy) as cat:
        victim = _first_accepted(cat)
        vid = cat.assets(source=victim.item.source, source_id=victim.item.source_id, kind=AssetKind.VIDEO)[0]
        rel = "../" * (len(cleaned_world.root.parts) + 2) + str(secret).lstrip("/")
        cat.upsert_assets([vid.model_copy(update={"path": rel, "sha256": None})])
        with pytest.raises(PathEscapeError) as err:
            publish(cat, cleaned_world.root, tmp_path / "ds")
    assert err.value.value == rel and "outside the collection root" in str(err.value)
    assert not (tmp_path / "ds").exists()
    args = [
        "publish",
        "--catalog",
        str(catalog_copy),
        "--root",
        str(cleaned_world.root),
        "--out",
        str(tmp_path / "ds"),
    ]
    assert _exit_code(args) == 2
    err_line = capsys.readouterr().err.strip()
    assert rel in err_line and str(cleaned_world.root) in err_line and not (tmp_path / "ds").exists()
