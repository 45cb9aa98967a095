"""``mf train`` on a train split with a product it cannot load: the options are checked before
the dataset is read, the skip is listed once, and the exit status is 1, as for ``mf crop-cache``
and ``mf training-copy`` on the same dataset."""

from __future__ import annotations

import json
import shutil

import pytest

from movingfashion.seam import train as train_module
from schemas.cli_support import run_main


@pytest.fixture()
def broken(archive_dir, tmp_path):
    """The archive with one more train product whose video is missing."""
    root = tmp_path / "ds"
    shutil.copytree(archive_dir, root)
    train = json.loads((root / "train.json").read_text())
    entry = dict(next(iter(train.values())))
    train["zz_bad"] = {**entry, "video_paths": ["videos/nope.mp4"]}
    (root / "train.json").write_text(json.dumps(train))
    return root


@pytest.fixture()
def stub_phase2(monkeypatch):
    def phase2(dataset, out, cfg, **kw):
        return {"variant": cfg.model.variant.value, "checkpoint": f"{out}/last.pt", "final_loss": None}

    monkeypatch.setattr(train_module, "run_phase2", phase2)


def _train(args, capsys):
    from movingfashion.app.cli import cli

    with pytest.raises(SystemExit) as exc:
        run_main(cli, ["train", *args])
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_a_skipped_product_is_listed_once_and_exits_1(broken, tmp_path, capsys, caplog, stub_phase2):
    code, out, err = _train(["--dataset", str(broken), "--out", str(tmp_path / "run")], capsys)
    assert code == 1, (out, err)
    assert (out + err).count("zz_bad") == 1
    assert "skipped product 'zz_bad'" in out and "videos/nope.mp4" in out
    # the check before --out is made reads the split quietly: the run's own read warns (once)
    assert not [r for r in caplog.records if "skipped" in r.getMessage()]


def test_json_lists_the_skip(broken, tmp_path, capsys, stub_phase2):
    code, out, _ = _train(["--dataset", str(broken), "--out", str(tmp_path / "run"), "--json"], capsys)
    assert code == 1
    assert [s["item"] for s in json.loads(out)["skipped"]] == ["zz_bad"]


@pytest.mark.parametrize("method", ["seam", "asymnet"])
def test_an_option_error_comes_before_the_datasets_warning(broken, tmp_path, capsys, caplog, method):
    code, out, err = _train(
        ["--dataset", str(broken), "--out", str(tmp_path / "run"), "--epochs", "0", "--method", method],
        capsys,
    )
    assert code == 2
    assert "--epochs" in err and "skipped" not in err and "zz_bad" not in err, err
    assert not [r for r in caplog.records if "skipped" in r.getMessage()]  # the dataset was not read
    assert not (tmp_path / "run").exists()
