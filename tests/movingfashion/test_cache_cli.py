"""``mf crop-cache`` and ``mf training-copy`` on a split whose tracklets are not all built yet:
each product without one listed once, saying what to do (before: twice each, "empty tracklet"
then "no usable video left", with no hint). A split with none built is one error
(test_unusable_split_one_line)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.damage import assert_same_tree
from tests.mf_cli import run_mf


@pytest.fixture
def no_tracklets(tiny_dataset, tmp_path):
    """``tiny_dataset`` as mf publish writes it before mf-tracklets build (empty tracklets), but
    for product 101's (a split with no usable video is one error, not a listing)."""
    root = tmp_path / "dataset"
    shutil.copytree(tiny_dataset, root)
    shutil.rmtree(root / "tracklets")
    data = json.loads((root / "train.json").read_text())
    for pid, e in data.items():
        if pid != "101":
            e["tracklets"] = [{} for _ in e["video_paths"]]
    (root / "train.json").write_text(json.dumps(data))
    return root


@pytest.mark.parametrize("command", ["crop-cache", "training-copy"])
def test_products_without_tracklets_are_listed_once_with_the_fix(no_tracklets, tmp_path, capsys, command):
    args = [command, "--dataset", str(no_tracklets), "--crop-size", "32"]
    code, out, _ = run_mf([*args, "--out", str(tmp_path / "a")], capsys)
    assert code == 1
    listed = [line for line in out.splitlines() if line.startswith("  skipped ")]
    # both commands name what a skip left out alike: "skipped product '101': <reason>"
    assert sorted(line.split("'")[1] for line in listed if line.startswith("  skipped product '")) == [
        "102",
        "ab_C",
    ], out
    assert len(listed) == 2 and "skipped 2 products" in out, out
    assert all("empty tracklet" in line and "run mf-tracklets build first" in line for line in listed), out
    code, out, _ = run_mf([*args, "--out", str(tmp_path / "b"), "--json"], capsys)
    skipped = json.loads(out)["skipped"]
    assert code == 1 and sorted(s["item"] for s in skipped) == ["102", "ab_C"]
    assert all("run mf-tracklets build first" in s["reason"] for s in skipped)
    assert [s["left_out"] for s in skipped] == [f"product {s['item']!r}" for s in skipped]
    assert json.loads(out)["skipped_counts"] == {"products": 2}


@pytest.mark.parametrize(
    ("command", "what"), [("crop-cache", "crop cache"), ("training-copy", "training copy")]
)
def test_an_out_folder_inside_the_dataset_is_refused_before_anything_is_written(
    tiny_dataset, tmp_path, capsys, command, what
):
    """``--out dataset/copy`` wrote the copy into the dataset folder: files its manifest does not
    list, so ``mf verify`` broke on each and the next ``mf publish`` refused the folder."""
    root = tmp_path / "dataset"
    shutil.copytree(tiny_dataset, root)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    code, _, err = run_mf(
        [command, "--dataset", str(root), "--crop-size", "32", "--out", str(root / "copy")], capsys
    )
    assert code == 2 and f"the {what} folder is inside the dataset folder" in err and "--out" in err, err
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before


@pytest.mark.parametrize("pool", ["0", "-3"])
def test_a_pool_below_one_frame_names_the_pool(tiny_dataset, tmp_path, capsys, pool):
    """``mf crop-cache --pool 0`` said "frames: clip length T must be >= 1, got 0", naming an
    option the command does not have, after making the --out folder; the library call too."""
    from movingfashion.dataset import MovingFashionDataset, build_crop_cache
    from schemas.errors import ConfigError

    out = tmp_path / "cache"
    args = [
        "crop-cache",
        "--dataset",
        str(tiny_dataset),
        "--crop-size",
        "32",
        "--out",
        str(out),
        "--pool",
        pool,
    ]
    code, _, err = run_mf(args, capsys)
    assert code == 2 and "--pool" in err and "frames" not in err, err
    assert not out.exists()
    with pytest.raises(ConfigError, match="pool must be a whole number >= 1") as exc:
        build_crop_cache(MovingFashionDataset(tiny_dataset, "train", crop_size=32), out, pool=int(pool))
    assert exc.value.where == "pool" and not out.exists()


def test_a_wrong_out_or_workers_answers_before_torch_loads(tmp_path):
    """The checks of the command line come before the dataset module (torch, 3 s a process) is
    imported: a --out inside the dataset, --workers without Ray."""
    root = tmp_path / "dataset"
    root.mkdir()
    (root / "train.json").write_text("{}")
    inside = "inside the dataset folder"
    runs = [  # (command, options, what its one error line says)
        ("training-copy", ["--out", str(root / "copy")], inside),
        ("crop-cache", ["--out", str(root / "copy")], inside),
        ("crop-cache", ["--out", str(tmp_path / "cache"), "--workers", "2"], "--workers is read"),
    ]
    code = (
        "import json, sys\n"
        "from movingfashion.app.cli import cli\n"
        "from schemas.cli_support import run_main\n"
        "try:\n    run_main(cli, json.loads(sys.argv[1]))\n"
        "except SystemExit as exc:\n    print('EXIT', exc.code)\n"
        "print('TORCH', 'torch' in sys.modules)\n"
    )
    for command, options, says in runs:
        argv = [command, "--dataset", str(root), *options]
        proc = subprocess.run([sys.executable, "-c", code, json.dumps(argv)], capture_output=True, text=True)
        assert proc.stdout.split()[-4:] == ["EXIT", "2", "TORCH", "False"], (argv, proc.stdout, proc.stderr)
        assert says in proc.stderr, (argv, proc.stderr)


@pytest.mark.parametrize(
    ("command", "what", "other", "planted"),
    [
        ("training-copy", "training copy", "crop cache", "videos%2F101_0.mp4.npy"),
        ("crop-cache", "crop cache", "training copy", "videos%2F101_0.mp4.jpgs"),
    ],
)
def test_an_out_folder_holding_the_other_kind_is_refused(
    tiny_dataset, tmp_path, capsys, command, what, other, planted
):
    """``mf crop-cache --out`` a training copy's folder (or the other way round) rewrote each
    video's ``<entry>.json``, which both name alike: the next ``mf training-copy`` there copied
    every video again (17 of 17 on a 30-product world)."""
    out = tmp_path / "store"
    out.mkdir()
    (out / planted).write_bytes(b"entry")
    (out / "videos%2F101_0.mp4.json").write_text('{"format": "the other"}')
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    code, _, err = run_mf(
        [command, "--dataset", str(tiny_dataset), "--crop-size", "32", "--out", str(out)], capsys
    )
    assert code == 2, err
    assert f"--out {out}: the folder holds a {other} ({planted})" in err, err
    assert f"pass a new or empty folder as --out for the {what}" in err, err
    assert_same_tree({p.name: p.read_bytes() for p in out.iterdir()}, before)
