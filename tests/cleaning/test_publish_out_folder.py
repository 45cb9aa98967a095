"""The output folder of `mf publish`: one holding anything a published dataset does not (a
catalog, a collection, a private session file) is refused before anything is written, since the
manifest, Croissant and the archive list every file of the folder; `--out .` archives beside the
folder like a named one."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from cleaning.publish import publish
from movingfashion.archive.pack import pack_dataset
from schemas.atomic import sha256_file
from schemas.catalog import Catalog
from tests.damage import assert_same_tree
from tests.mf_cli import run_mf


def _tree(top: Path) -> dict[str, bytes]:
    return {p.relative_to(top).as_posix(): p.read_bytes() for p in sorted(top.rglob("*")) if p.is_file()}


def test_an_output_folder_holding_the_catalog_and_a_session_file_is_refused_untouched(
    cleaned_world, catalog_copy, tmp_path, capsys
):
    proj = tmp_path / "proj"
    (proj / "data").mkdir(parents=True)
    shutil.copyfile(catalog_copy, proj / "data" / "catalog.sqlite")
    (proj / "session-myaccount").write_text("sessionid=SECRET")
    (proj / "session-myaccount").chmod(0o600)
    before = _tree(proj)
    args = ["publish", "--catalog", str(proj / "data" / "catalog.sqlite"), "--root", str(cleaned_world.root)]
    code, _, err = run_mf([*args, "--out", str(proj), "--archive", "--json"], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "data/" in err and "session-myaccount" in err and "nothing was changed" in err
    after = _tree(proj)  # the catalog itself is opened (its journal mode may change), nothing added
    assert after["session-myaccount"] == before["session-myaccount"]
    assert {n for n in after if not n.startswith("data/")} == {"session-myaccount"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "catalog.cleaning-cache.json",
        "catalog.sqlite",
        "proj",
    ]


def test_a_dataset_folder_publish_wrote_is_published_again(cleaned_world, catalog_copy, tmp_path, capsys):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        publish(cat, cleaned_world.root, out)
    (out / "notes.txt").write_text("mine")
    args = ["publish", "--catalog", str(catalog_copy), "--root", str(cleaned_world.root), "--out", str(out)]
    code, _, err = run_mf(args, capsys)
    assert code == 2 and "notes.txt" in err
    (out / "notes.txt").unlink()
    code, _, err = run_mf(args, capsys)
    assert code == 0, err


def test_publish_out_dot_archives_beside_the_folder(
    cleaned_world, catalog_copy, tmp_path, capsys, monkeypatch
):
    ds = tmp_path / "work" / "dataset"
    ds.mkdir(parents=True)
    monkeypatch.chdir(ds)
    args = ["publish", "--catalog", str(catalog_copy), "--root", str(cleaned_world.root), "--out", "."]
    code, _, err = run_mf([*args, "--archive"], capsys)
    assert code == 0, err
    zip_path = tmp_path / "work" / "dataset.zip"
    digest = sha256_file(zip_path)
    assert (tmp_path / "work" / "dataset.zip.sha256").read_text() == f"{digest}  dataset.zip\n"
    names = zipfile.ZipFile(zip_path).namelist()
    assert "dataset/train.json" in names and all(n.startswith("dataset/") for n in names)


def test_pack_dataset_names_the_zip_of_dot_and_dotdot_after_the_folder(tmp_path, monkeypatch):
    ds = tmp_path / "ds"
    (ds / "sub").mkdir(parents=True)
    (ds / "train.json").write_text("{}")
    monkeypatch.chdir(ds)
    path, digest = pack_dataset(".")
    assert path.resolve() == tmp_path / "ds.zip" and digest == sha256_file(tmp_path / "ds.zip")
    monkeypatch.chdir(ds / "sub")
    path2, digest2 = pack_dataset("..")
    assert path2.resolve() == tmp_path / "ds.zip" and digest2 == digest


def test_a_review_log_an_older_mf_tracklets_review_wrote_is_moved_not_refused(
    cleaned_world, catalog_copy, tmp_path, capsys
):
    """`mf-tracklets review --accept` wrote DATASET/review.jsonl before it wrote the hidden
    .review.jsonl: the next publish into the folder moves it there (kept, never published)."""
    import json

    from annotations.review.marks import read_decisions

    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        publish(cat, cleaned_world.root, out)
    record = {"video": "x_0", "product_id": "x", "decision": "accept", "at": "2024-01-01T00:00:00+00:00"}
    (out / "review.jsonl").write_text(json.dumps(record) + "\n")
    args = ["publish", "--catalog", str(catalog_copy), "--root", str(cleaned_world.root), "--out", str(out)]
    code, _, err = run_mf(args, capsys)
    assert code == 0, err
    assert not (out / "review.jsonl").exists() and read_decisions(out)["x_0"]["decision"] == "accept"
    files = json.loads((out / "manifest.json").read_text())["files"]
    assert not any("review" in name and name.endswith(".jsonl") for name in files)


def test_a_dataset_folder_and_a_collection_folder_inside_each_other_are_refused(
    cleaned_world, catalog_copy, tmp_path, capsys
):
    """The finding: ``mf publish --out ROOT/sub`` (the dataset inside the collection folder) was
    accepted, and so was the reverse; both are refused naming both folders, nothing written."""
    root = tmp_path / "collected"
    shutil.copytree(cleaned_world.root, root)
    before = _tree(root)
    args = ["publish", "--catalog", str(catalog_copy), "--root", str(root), "--out"]
    code, out, err = run_mf([*args, str(root / "sub")], capsys)
    assert code == 2 and out == "" and "Traceback" not in err, err
    (line,) = err.strip().splitlines()
    assert "the dataset folder (--out) lies inside the collection folder (--root)" in line
    assert f"({root / 'sub'} and {root})" in line
    assert_same_tree(_tree(root), before)
    assert not (root / "sub").exists()
    # the reverse: the collection inside the dataset folder
    ds = tmp_path / "ds"
    inner = ds / ".collected"
    shutil.copytree(cleaned_world.root, inner)
    code, out, err = run_mf(
        ["publish", "--catalog", str(catalog_copy), "--root", str(inner), "--out", str(ds)], capsys
    )
    assert code == 2 and "the collection folder (--root) lies inside the dataset folder (--out)" in err, err
    assert sorted(p.name for p in ds.iterdir()) == [".collected"]
