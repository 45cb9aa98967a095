"""Every command that opens a catalog refuses a damaged one: exit 2, one line naming the file and
the way back (sqlite3 .recover or a copy), no traceback, and the file's bytes unchanged.

The catalog is a real one (the small world as collected: items and assets of every source),
damaged in the middle as a bad sector or a torn write would leave it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from schemas.catalog import Catalog
from schemas.cli_support import run_main
from tests.damage import assert_same_tree, corrupt_mid_file


@pytest.fixture(scope="module")
def damaged(small_world, world_server, gt_dataset, tmp_path_factory):
    """(damaged catalog bytes, collection root, fixtures, a dataset folder, the world) to run against."""
    from movingfashion.world.seed import seed_catalog_from_world

    work = tmp_path_factory.mktemp("damaged")
    root, path = work / "collected", work / "pristine.sqlite"
    with Catalog(path) as cat:
        seed_catalog_from_world(small_world, cat, root)
    fixtures = world_server.write_fixtures(work / "fixtures")
    data = corrupt_mid_file(path, seed=7)
    return data, root, fixtures, gt_dataset, small_world, world_server.base_url


def _commands(root: Path, fx: dict, dataset: Path, world: Path, base_url: str, tmp: Path):
    """(name, entry point, argv) of every command that opens a catalog; {cat} is the catalog."""
    from annotations.cli import tracklets
    from collectors.cli import collect
    from movingfashion.app.cli import cli

    collect_common = ["--root", str(root), "--catalog", "{cat}", "--base-url", base_url]
    return [
        ("mf-collect netaporter", collect, ["netaporter", fx["sitemap"], *collect_common]),
        (
            "mf-collect tiktok",
            collect,
            ["tiktok", *fx["tiktok_info"], "--shop-map", fx["tiktok_shops"], *collect_common],
        ),
        ("mf-collect instagram", collect, ["instagram", *fx["instagram"], *collect_common]),
        ("mf-collect urls", collect, ["urls", fx["urls"], *collect_common]),
        ("mf collect", cli, ["collect", "urls", fx["urls"], *collect_common]),
        ("mf clean", cli, ["clean", "--catalog", "{cat}", "--root", str(root)]),
        ("mf splits rebuild", cli, ["splits", "rebuild", "--catalog", "{cat}"]),
        ("mf splits check", cli, ["splits", "check", "--catalog", "{cat}"]),
        ("mf publish", cli, ["publish", "--catalog", "{cat}", "--root", str(root), "--out", str(tmp / "ds")]),
        ("mf stats", cli, ["stats", "--catalog", "{cat}", "--json"]),
        (
            "mf stats --truth",
            cli,
            ["stats", "--catalog", "{cat}", "--root", str(root), "--world", str(world)],
        ),
        ("mf catalog status", cli, ["catalog", "status", "--catalog", "{cat}"]),
        ("mf catalog check", cli, ["catalog", "check", "--catalog", "{cat}"]),
        (
            "mf-tracklets build",
            tracklets,
            ["build", "--dataset", str(dataset), "--catalog", "{cat}", "--stride", "8"],
        ),
        (
            "mf-tracklets review",
            tracklets,
            ["review", "--dataset", str(dataset), "--catalog", "{cat}", "--accept", _a_video(dataset)],
        ),
        (
            "mf-tracklets review --serve",
            tracklets,
            ["review", "--dataset", str(dataset), "--catalog", "{cat}", "--serve", "--port", "0"],
        ),
        ("mf review", cli, ["review", "--dataset", str(dataset), "--catalog", "{cat}", "--port", "0"]),
        (
            "mf-tracklets import",
            tracklets,
            ["import", str(_cvat(dataset, tmp)), "--dataset", str(dataset), "--catalog", "{cat}"],
        ),
    ]


def _cvat(dataset: Path, tmp: Path) -> Path:
    """A CVAT file of one of the dataset's videos (exported outside the dataset folder)."""
    from annotations.exchange import export_dataset

    out = tmp / "cvat"
    if not out.is_dir():
        export_dataset(dataset, "cvat", out, videos=[_a_video(dataset)])
    return sorted(out.glob("*.xml"))[0]


def _a_video(dataset: Path) -> str:
    return sorted(dataset.glob("tracklets/*.json"))[0].stem


def test_every_command_refuses_a_damaged_catalog(damaged, tmp_path, capsys):
    data, root, fx, gt, world, base_url = damaged
    dataset = tmp_path / "dataset"
    shutil.copytree(gt, dataset)
    dataset_files = {p: p.read_bytes() for p in dataset.rglob("*") if p.is_file()}
    checked = []
    for name, cmd, argv in _commands(root, fx, dataset, world, base_url, tmp_path):
        cat = tmp_path / f"{name.replace(' ', '_')}.sqlite"
        cat.write_bytes(data)
        with pytest.raises(SystemExit) as done:
            run_main(cmd, [a.replace("{cat}", str(cat)) for a in argv])
        out = capsys.readouterr()
        lines = [x for x in out.err.splitlines() if x.strip()]
        assert done.value.code == 2, (name, out.err)
        assert len(lines) == 1, (name, out.err)
        assert str(cat) in lines[0] and ".recover" in lines[0] and "copy" in lines[0], (name, lines[0])
        assert "Traceback" not in out.err
        assert cat.read_bytes() == data, f"{name} wrote into the damaged catalog"
        left = [p.name for p in tmp_path.glob(cat.name + "-*")]
        assert not left, f"{name} left {left} beside the damaged catalog"
        checked.append(name)
    assert len(checked) == 18
    # nothing else was written either: no publish output, the dataset and its review log untouched
    assert not (tmp_path / "ds").exists()
    assert_same_tree({p: p.read_bytes() for p in dataset.rglob("*") if p.is_file()}, dataset_files)


def test_the_demo_refuses_a_damaged_catalog_in_its_folder(damaged, small_world, tmp_path, capsys):
    """A rerun of `mf demo` in a folder whose catalog got damaged: one line, exit 2, catalog untouched."""
    from movingfashion.app.cli import cli

    data = damaged[0]
    work = tmp_path / "demo"
    shutil.copytree(small_world, work / "world")  # the quick demo's world: reused, not rendered
    cat = work / "catalog.sqlite"
    cat.write_bytes(data)
    with pytest.raises(SystemExit) as done:
        run_main(cli, ["demo", "--quick", "--work", str(work), "--threads", "1"])
    err = capsys.readouterr().err
    errors = [x for x in err.splitlines() if x.startswith("error:")]
    assert done.value.code == 2, err
    assert len(errors) == 1 and str(cat) in errors[0] and ".recover" in errors[0]
    assert "Traceback" not in err
    assert cat.read_bytes() == data
