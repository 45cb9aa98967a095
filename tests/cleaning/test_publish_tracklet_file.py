"""The tracklet file publish keeps for one (video, product) is read in one place
(:func:`cleaning.publish.tracklet_file.read_tracklet_file`): by ``held._older_held_file`` (a
held-back video's file an older toolkit kept; symlinks refused) and by
``split_files._kept_file_tracklet`` (its ground truth back into the split files)."""

from __future__ import annotations

from cleaning.publish.held import _older_held_file
from cleaning.publish.split_files import _kept_file_tracklet
from tests.cleaning.test_publish_held_shared import BOX, VIDEO, _kept_file


def test_both_readers_take_the_file_about_the_video_and_product(tmp_path):
    out = tmp_path / "ds"
    _kept_file(out, "pa", shared=False)
    assert _older_held_file(out, VIDEO, "pa") and _kept_file_tracklet(out, VIDEO, "pa", shared=False) == {
        "0": BOX
    }
    # about another product, or missing: none
    assert (
        not _older_held_file(out, VIDEO, "pb") and _kept_file_tracklet(out, VIDEO, "pb", shared=False) == {}
    )
    assert _kept_file_tracklet(out, VIDEO, "pa", shared=True) == {}
    (out / "tracklets" / "v.json").write_text("not json")
    assert (
        not _older_held_file(out, VIDEO, "pa") and _kept_file_tracklet(out, VIDEO, "pa", shared=False) == {}
    )


def test_a_symlinked_held_file_is_not_adopted(tmp_path):
    real = tmp_path / "real"
    _kept_file(real, "pa", shared=False)
    out = tmp_path / "ds"
    (out / "tracklets").mkdir(parents=True)
    (out / "tracklets" / "v.json").symlink_to(real / "tracklets" / "v.json")
    assert not _older_held_file(out, VIDEO, "pa")
    (out / "tracklets" / "v.json").unlink()
    (out / "tracklets").rmdir()
    (out / "tracklets").symlink_to(real / "tracklets")
    assert not _older_held_file(out, VIDEO, "pa")
    assert _kept_file_tracklet(out, VIDEO, "pa", shared=False) == {"0": BOX}  # as before: read through
