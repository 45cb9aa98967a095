"""A damaged or lost ``.publish-state.json`` has a way on in the same folder: the refusal names
``--rebuild-state``, which makes every media file again from its collected file, keeps the
tracklet files and writes the state anew; the next publish then writes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from annotations.tracklet_files import read_video_tracklets, set_official_tracklet
from cleaning.publish import STATE_FILE, publish
from schemas.catalog import Catalog
from schemas.official import read_official
from tests.cleaning.test_publish_stale_tracklets import _tracklet_files_of
from tests.mf_cli import run_mf


def _media(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for d in ("videos", "imgs", "front", "rear", "fabric")
        if (out / d).is_dir()
        for p in sorted((out / d).iterdir())
    }


@pytest.fixture(scope="module")
def built(cleaned_world, tmp_path_factory) -> Path:
    """A published folder with a tracklet file (human work) for one product's videos."""
    out = tmp_path_factory.mktemp("rebuild") / "ds"
    with Catalog(cleaned_world.catalog_path) as cat:
        assert publish(cat, cleaned_world.root, out)["verify"]["ok"]
    train = read_official(out / "train.json")
    pid = sorted(train)[0]
    for v in train[pid].video_paths:  # what mf-tracklets build wrote (and review checked)
        set_official_tracklet(out, read_video_tracklets(_tracklet_files_of(out, pid, v)[0]))
    with Catalog(cleaned_world.catalog_path) as cat:
        assert publish(cat, cleaned_world.root, out)["verify"]["ok"]
    assert read_official(out / "train.json")[pid].tracklets[0]
    return out


@pytest.mark.parametrize("damage", ["truncated", "deleted"])
def test_a_damaged_state_is_rebuilt_in_place_keeping_media_and_tracklets(
    built, cleaned_world, catalog_copy, tmp_path, capsys, damage
):
    out = tmp_path / "ds"
    shutil.copytree(built, out)
    state = (out / STATE_FILE).read_bytes()
    media, splits = _media(out), {s: (out / f"{s}.json").read_bytes() for s in ("train", "test")}
    tracklets = sorted(p.name for p in (out / "tracklets").glob("*.json"))
    if damage == "truncated":
        (out / STATE_FILE).write_bytes(state[: len(state) // 2])
    else:
        (out / STATE_FILE).unlink()
    args = ["publish", "--catalog", str(catalog_copy), "--root", str(cleaned_world.root), "--out", str(out)]
    code, _, err = run_mf([*args, "--json"], capsys)
    assert code == 2 and "--rebuild-state" in err, err  # was: "publish into a new --out folder"
    assert STATE_FILE in err if damage == "truncated" else "did not write" in err
    code, stdout, err = run_mf([*args, "--rebuild-state", "--json"], capsys)
    res = json.loads(stdout)
    assert code == 0 and res["verify"]["ok"] and res["state_rebuilt"], err
    assert res["written"] == len(media) and not res["removed"] and not res["removed_tracklets"]
    assert _media(out) == media  # made again, byte for byte
    assert {s: (out / f"{s}.json").read_bytes() for s in ("train", "test")} == splits  # tracklets in place
    assert sorted(p.name for p in (out / "tracklets").glob("*.json")) == tracklets
    assert (out / STATE_FILE).read_bytes() == state
    code, stdout, _ = run_mf([*args, "--json"], capsys)
    again = json.loads(stdout)
    assert code == 0 and again["written"] == 0 and not again["state_rebuilt"]


def test_rebuild_state_still_refuses_a_file_publish_did_not_write(
    built, cleaned_world, catalog_copy, tmp_path, capsys
):
    out = tmp_path / "ds"
    shutil.copytree(built, out)
    (out / STATE_FILE).write_text("{")
    (out / "imgs" / "holiday.jpg").write_text("mine")  # not in the manifest
    args = ["publish", "--catalog", str(catalog_copy), "--root", str(cleaned_world.root), "--out", str(out)]
    code, _, err = run_mf([*args, "--rebuild-state"], capsys)
    assert code == 2 and "imgs/holiday.jpg" in err, err
    assert (out / "imgs" / "holiday.jpg").read_text() == "mine" and (out / STATE_FILE).read_text() == "{"
