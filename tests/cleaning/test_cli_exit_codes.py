"""Exit codes of `mf clean`, `mf splits` and `mf publish`: 0 all done, 1 some items failed
(listed), 2 bad input (one line naming the file)."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from movingfashion.app.cli import cli
from schemas.catalog import Catalog
from schemas.cli_support import run_main
from schemas.items import AssetKind, Status
from schemas.official import read_official, shop_relpath


def _exit_code(args) -> int:
    try:
        run_main(cli, args)
    except SystemExit as exc:
        return int(exc.code)
    return 0


def test_clean_exits_1_and_lists_the_item_it_could_not_process(catalog_copy, cleaned_world):
    with Catalog(catalog_copy) as cat:
        victim = next(r for r in cat.items(status=Status.ACCEPTED) if r.item.source == "netaporter")
        src, sid = victim.item.source, victim.item.source_id
        vid = cat.assets(source=src, source_id=sid, kind=AssetKind.VIDEO)[0]
        cat.upsert_assets([vid.model_copy(update={"path": "../../elsewhere/video.mp4"})])
    args = ["clean", "--catalog", str(catalog_copy), "--root", str(cleaned_world.root)]
    res = CliRunner().invoke(cli, [*args, "--json"])
    assert res.exit_code == 1, res.output
    rep = json.loads(res.stdout)
    assert [(f["item"], f["step"]) for f in rep["failed"]] == [(f"{src}/{sid}", "probe")]
    assert "outside the collection root" in rep["failed"][0]["error"]
    assert sum(rep["status"].values()) == rep["items"] - 1  # the others were cleaned
    with Catalog(catalog_copy) as cat:  # the failed item keeps its state
        row = cat.get_item(src, sid)
        assert (row.status, row.reason) == (victim.status, victim.reason)
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1 and f"failed: 1\n  {src}/{sid} [probe]: " in res.stdout


def test_clean_with_nothing_failing_exits_0(catalog_copy, cleaned_world):
    args = ["clean", "--catalog", str(catalog_copy), "--root", str(cleaned_world.root), "--json"]
    assert _exit_code(args) == 0


@pytest.mark.parametrize(
    "make_args,names",
    [
        (
            lambda c, r, t: ["clean", "--catalog", str(t / "none.sqlite"), "--root", r],
            ["none.sqlite", "not found"],
        ),
        (
            lambda c, r, t: ["clean", "--catalog", c, "--root", str(t / "noroot")],
            ["noroot", "root not found"],
        ),
        (
            lambda c, r, t: ["clean", "--catalog", str(t / "junk.sqlite"), "--root", r],
            ["junk.sqlite", "cannot open"],
        ),
        (
            lambda c, r, t: ["clean", "--catalog", c, "--root", r, "--config", str(t / "x.yaml")],
            ["x.yaml", "not found"],
        ),
        (
            lambda c, r, t: ["clean", "--catalog", c, "--root", r, "--config", str(t / "steps.yaml")],
            ["steps.yaml", "steps"],
        ),
        (lambda c, r, t: ["splits", "rebuild", "--catalog", str(t / "none.sqlite")], ["none.sqlite"]),
        (lambda c, r, t: ["splits", "check", "--catalog", str(t / "junk.sqlite")], ["junk.sqlite"]),
        (
            lambda c, r, t: [
                "publish",
                "--catalog",
                str(t / "none.sqlite"),
                "--root",
                r,
                "--out",
                str(t / "ds"),
            ],
            ["none.sqlite"],
        ),
        (
            lambda c, r, t: [
                "publish",
                "--catalog",
                c,
                "--root",
                r,
                "--out",
                str(t / "ds"),
                "--config",
                str(t / "steps.yaml"),
            ],
            ["steps.yaml"],
        ),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_it(
    catalog_copy, cleaned_world, tmp_path, capsys, make_args, names
):
    (tmp_path / "junk.sqlite").write_text("not a database")
    (tmp_path / "steps.yaml").write_text("steps: [probe, dedup]\n")
    args = make_args(str(catalog_copy), str(cleaned_world.root), tmp_path)
    assert _exit_code(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and all(n in err for n in names), err
    assert not (tmp_path / "none.sqlite").exists() and not (tmp_path / "ds").exists()


def test_publish_exits_1_and_leaves_out_the_product_whose_media_is_gone(
    catalog_copy, cleaned_world, tmp_path
):
    root = tmp_path / "root"
    shutil.copytree(cleaned_world.root, root)
    with Catalog(catalog_copy) as cat:
        accepted = cat.items(status=Status.ACCEPTED)
        gone = accepted[0]
        vid = cat.assets(source=gone.item.source, source_id=gone.item.source_id, kind=AssetKind.VIDEO)[0]
    (root / vid.path).unlink()
    out = tmp_path / "ds"
    args = ["publish", "--catalog", str(catalog_copy), "--root", str(root), "--out", str(out), "--json"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1, res.output
    rep = json.loads(res.stdout)
    assert [f["product"] for f in rep["failed"]] == [gone.product_id] and "missing" in rep["failed"][0][
        "error"
    ]
    assert rep["products"] == len(accepted) - 1
    published = {**read_official(out / "train.json"), **read_official(out / "test.json")}
    assert gone.product_id not in published and len(published) == len(accepted) - 1
    manifest = json.loads((out / "manifest.json").read_text())["files"]
    assert not {
        f for f in manifest if f.split("/")[-1].startswith((f"{gone.product_id}_", f"{gone.product_id}."))
    }
    assert shop_relpath(accepted[1].product_id, accepted[1].partition) in manifest
    # once the file is back, a rerun publishes everything and exits 0
    shutil.copyfile(cleaned_world.root / vid.path, root / vid.path)
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0 and json.loads(res.stdout)["products"] == len(accepted)


def test_splits_check_exits_1_listing_a_group_that_spans_both_splits(catalog_copy):
    assert _exit_code(["splits", "rebuild", "--catalog", str(catalog_copy)]) == 0
    with Catalog(catalog_copy) as cat:
        dup = next(r for r in cat.items(status=Status.DUPLICATE) if r.split)
        cat.set_item_state(
            dup.item.source, dup.item.source_id, split="test" if dup.split == "train" else "train"
        )
    res = CliRunner().invoke(cli, ["splits", "check", "--catalog", str(catalog_copy), "--json"])
    assert res.exit_code == 1
    assert any(p.startswith("duplicate group of") for p in json.loads(res.stdout)["leakage"])
