"""``mf-tracklets qa`` refused the whole dataset (or reference) for one product whose split-file
entry the reader refuses (a bad box, a malformed number, a frame key twice), where ``build`` and
``export`` hold that product out. Now it follows the same policy (``--on-bad``, one home:
:func:`schemas.official.read_official_on_bad`): ``skip`` holds the product out of the scores,
names it (file, product, field, what to do; ``--json``: ``held_out``) and scores the others, exit
1; ``raise`` refuses, naming the same, exit 2."""

from __future__ import annotations

import json

import pytest

from tests.annotations.test_qa_reference import P_BOX, Q_BOX, _official, _reference, _tracklet_file
from tests.damage import UNREADABLE_BOXES, unreadable_box
from tests.mf_cli import run_tracklets


def _pair(tmp_path):
    videos = {"P": "videos/P_0.mp4", "R": "videos/R_0.mp4"}
    ds = _official(
        tmp_path / "ds",
        {pid: {"videos": [v], "tracklets": [{"0": [1, 2, 3, 4]}]} for pid, v in videos.items()},
    )
    ref = _reference(tmp_path / "ref", {"P": [P_BOX], "R": [Q_BOX]})
    _tracklet_file(ds, "P", videos["P"], P_BOX)
    _tracklet_file(ds, "R", videos["R"], Q_BOX)
    return ds, ref


def _qa(ds, ref, capsys, *more):
    return run_tracklets(["qa", "--dataset", str(ds), "--reference", str(ref), *more], capsys)


@pytest.mark.parametrize("kind", sorted(UNREADABLE_BOXES))
@pytest.mark.parametrize("which", ["ds", "ref"])
def test_the_product_is_held_out_and_the_others_scored(tmp_path, capsys, caplog, kind, which):
    ds, ref = _pair(tmp_path)
    bad_file = (ds if which == "ds" else ref) / "train.json"
    unreadable_box(bad_file, "R", kind)
    code, out, err = _qa(ds, ref, capsys, "--json")
    assert code == 1, err
    got = json.loads(out)
    ((held),) = got["held_out"]
    assert (held["file"], held["product_id"], held["frame_key"]) == (str(bad_file), "R", "0")
    assert "held out of the QA" in caplog.text and "fix the product's entry" in caplog.text
    if which == "ds":  # R is not scored at all: neither a failure nor missing from the reference
        assert (got["videos"], got["pass_rate"], got["missing"]) == (1, 1.0, [])
    else:  # the reference no longer knows R's boxes: R's video is missing from it, P still scored
        assert (got["videos"], got["pass_rate"], got["missing"]) == (1, 1.0, ["videos/R_0.mp4"])
    code, out, err = _qa(ds, ref, capsys)
    assert code == 1 and "held out: 1 product" in out and "product 'R'" in out
    code, out, err = _qa(ds, ref, capsys, "--on-bad", "raise")
    assert code == 2 and out == "" and "Traceback" not in err
    for part in (str(bad_file), "product 'R'", "tracklets[0]", "frame key '0'"):
        assert part in err, err
