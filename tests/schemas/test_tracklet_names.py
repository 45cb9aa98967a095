"""The naming rule of tracklet files (:mod:`schemas.tracklet_names`): one home for making and
reading ``<video stem>@<product>`` names."""

from __future__ import annotations

import pytest

from schemas.tracklet_names import (
    is_tracklet_stem,
    product_key,
    product_stem,
    product_stem_pattern,
    split_stem,
    tracklet_key,
    tracklet_name_clashes,
    tracklet_stem,
    video_stem,
)


def test_a_product_stem_splits_back_into_its_video_stem_and_product():
    assert product_stem("videos/v1.mp4", "pa") == "v1@pa"
    assert split_stem("v1@pa") == ("v1", "pa")
    assert split_stem("v1") == ("v1", None)
    # a product id holds no '@' (a safe file name): it follows the last one
    assert split_stem(product_stem("videos/a@b.mp4", "pa")) == ("a@b", "pa")
    for junk in ("v1@", "@pa", "@"):
        assert split_stem(junk) == (junk, None)
    with pytest.raises(ValueError, match="product id"):
        product_stem("videos/v1.mp4", "p@q")


def test_is_tracklet_stem_knows_a_videos_files():
    assert is_tracklet_stem("v1", "videos/v1.mp4")
    assert is_tracklet_stem("v1@pa", "videos/v1.mp4")
    assert is_tracklet_stem("v1@pa", "videos/v1.mp4", "pa")
    assert is_tracklet_stem("v1", "videos/v1.mp4", "pa")  # the video's own file is any product's
    assert not is_tracklet_stem("v1@pb", "videos/v1.mp4", "pa")
    assert not is_tracklet_stem("v10@pa", "videos/v1.mp4")
    assert not is_tracklet_stem("v1@", "videos/v1.mp4")
    # a video whose stem holds '@': its own file, and its products' files
    assert is_tracklet_stem("a@b", "videos/a@b.mp4")
    assert is_tracklet_stem("a@b@pa", "videos/a@b.mp4", "pa")
    assert not is_tracklet_stem("a@b@pa", "videos/a.mp4")


def test_keys_and_messages_take_the_same_form():
    assert video_stem("videos/x/v1.mp4") == "v1"
    assert product_key("videos/v1.mp4", "pa") == "videos/v1.mp4@pa"
    assert tracklet_key("videos/v1.mp4", "pa", shared=True) == "videos/v1.mp4@pa"
    assert tracklet_key("videos/v1.mp4", "pa", shared=False) == "videos/v1.mp4"
    assert product_stem_pattern("videos/v1.mp4") == "v1@<product>"
    assert tracklet_stem("videos/v1.mp4", "pa", shared=True) == product_key("v1", "pa")


@pytest.mark.parametrize("shared", [False, True])
def test_a_video_named_like_another_videos_product_file_clashes(shared):
    rows = [("videos/a.mp4", "P1", "train"), ("videos/a@b.mp4", "P2", "train")]
    if shared:
        rows.append(("videos/a.mp4", "b", "test"))
    clashes = tracklet_name_clashes(rows)
    assert len(clashes) == 1 and clashes[0][0] == "a@b"
    assert {clashes[0][1][0], clashes[0][2][0]} == {"videos/a.mp4", "videos/a@b.mp4"}
    # an '@' whose head no listed video has is a name like any other
    assert tracklet_name_clashes([("videos/a@b.mp4", "P2", "train"), ("videos/c.mp4", "P1", "train")]) == []


def test_a_product_file_name_past_255_bytes_is_cut_stably_with_a_digest(tmp_path):
    """Two products with 128-character ids sharing a video named after the first
    (``<a>_0.mp4``): ``<a>_0@<b>.json`` is 264 bytes, which no common file system takes, so
    every build, pick and read of product b's file stopped on ENAMETOOLONG. The video stem is now
    cut to its first bytes plus a digest; the name is the same every time, under 255 bytes, and
    still read as that video's and product's file everywhere."""
    from annotations.builder import _product_files
    from annotations.tracklet_files import tracklet_file
    from cleaning.publish.sweep import _tracklets_of

    a, b = "a" * 128, "b" * 128
    video = f"videos/{a}_0.mp4"
    path = tracklet_file(tmp_path, video, b, shared=True)
    assert len(path.name.encode()) <= 255 and path == tracklet_file(tmp_path, video, b, shared=True)
    stem = path.stem
    assert stem.endswith(f"@{b}") and split_stem(stem)[1] == b
    path.parent.mkdir(parents=True)
    path.write_text("{}")  # ENAMETOOLONG before
    assert is_tracklet_stem(stem, video, b) and is_tracklet_stem(stem, video)
    assert not is_tracklet_stem(stem, video, "other") and not is_tracklet_stem(stem, f"videos/{a}_1.mp4")
    other = f"videos/{a}_1.mp4"  # begins alike: its own digest
    assert product_stem(other, b) != stem and is_tracklet_stem(product_stem(other, b), other, b)
    assert _tracklets_of(tmp_path, [video]) == [path] and _tracklets_of(tmp_path, [other]) == []
    assert _product_files(path.parent) == {split_stem(stem)[0]: {b: path}}
    assert product_stem("videos/x_0.mp4", b) == f"x_0@{b}"  # a name that fits is as it was
