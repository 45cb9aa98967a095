"""A rerun of ``mf evaluate`` that reused its cached test bank said nothing: now one line on stderr
(and ``test_bank`` in ``--json``) says it reused the bank, where, how many and why it still
holds, or that it built it and why (a checkpoint on another encoder, a dataset that changed)."""

from __future__ import annotations

import json
import os
import shutil

import torch

from movingfashion.models.matchrcnn import SingleFrameMatcher
from movingfashion.seam.checkpoint import model_from_matcher, save_checkpoint
from movingfashion.seam.config import EvalConfig, ModelConfig
from movingfashion.seam.evaluate import run_evaluate


def _checkpoint(path, seed: int):
    torch.manual_seed(seed)
    model, arch = model_from_matcher(SingleFrameMatcher(crop_size=32), ModelConfig(variant="full"))
    save_checkpoint(path, model, arch, epoch=1)
    return path


def test_a_rerun_says_it_reused_the_bank_and_a_change_says_it_built_it(tiny_dataset, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    out = tmp_path / "eval"
    cfg = EvalConfig(
        frames=[2], main_frames=2, pools=1, pool_size=2, salient=False, attention_frames=2, pool_frames=4
    )

    def run(ckpt):
        lines: list[str] = []
        res = run_evaluate(root, [ckpt], cfg, out_dir=out, warn=lines.append)
        said = [x for x in lines if x.startswith("test bank: ")]
        assert len(said) == 1 and said[0] == res["test_bank"]["line"], lines
        # --json has it; results.json not (a rerun after a kill writes the same results.json)
        assert "test_bank" not in json.loads((out / "results.json").read_text())
        return res["test_bank"]

    a = _checkpoint(tmp_path / "a.pt", seed=0)
    first = run(a)
    assert first["action"] == "built" and "no cached bank" in first["why"], first
    again = run(a)
    assert again["action"] == "reused" and again["path"] == first["path"], again
    assert again["line"].startswith(f"test bank: reused {first['path']} ({again['videos']} queries"), again
    assert "still valid" in again["line"] and f"the {again['inputs']} files" in again["line"]
    other = run(_checkpoint(tmp_path / "b.pt", seed=1))  # another frozen encoder
    assert other["action"] == "built" and other["path"] != first["path"], other
    test_split = json.loads((root / "test.json").read_text())
    video = root / next(iter(test_split.values()))["video_paths"][0]  # a video of the test split
    st = video.stat()
    os.utime(video, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # re-encoded, same name
    changed = run(a)
    assert changed["action"] == "built" and "stale" in changed["why"] and video.name in changed["why"], (
        changed
    )
