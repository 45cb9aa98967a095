"""Duplicate videos (exact, re-encoded, cropped, sub-clips) and images on files made in the test."""

from __future__ import annotations

import subprocess

import imageio_ffmpeg
import numpy as np
import pytest

from cleaning.config import DedupConfig
from cleaning.dedup import (
    ImageRecord,
    VideoRecord,
    colour_signature,
    find_image_duplicates,
    find_video_duplicates,
    video_pair_evidence,
)
from cleaning.fingerprint import fingerprint_video, sample_times
from cleaning.phash import hamming, phash
from cleaning.probe import probe_video
from schemas.atomic import sha256_file
from schemas.taxonomy import Partition
from tests.cleaning.media_helpers import scene, still_image, write_mp4


def _ffmpeg(src, dst, vf):
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-y",
            "-loglevel",
            "error",
            "-i",
            str(src),
            "-vf",
            vf,
            "-c:v",
            "libx264",
            "-crf",
            "30",
            "-threads",
            "1",
            str(dst),
        ],
        check=True,
    )
    return dst


def _record(path, key=None, partition=Partition.HARD):
    p = probe_video(path).probe
    return VideoRecord(
        key or path.stem,
        sha256_file(path),
        fingerprint_video(path, p.frames, p.fps, p.width, p.height),
        p.frames,
        p.fps,
        p.width,
        p.height,
        partition,
        path,
    )


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("dedup")
    orig = {f"orig{s}": write_mp4(d / f"orig{s}.mp4", scene(s, 75, 192, 144)) for s in range(6)}
    made = {
        "re0": _ffmpeg(orig["orig0"], d / "re0.mp4", "scale=144:108,eq=brightness=0.06"),
        "crop1": _ffmpeg(orig["orig1"], d / "crop1.mp4", "crop=180:134:6:5,scale=240:180"),
        "sub2": _ffmpeg(
            orig["orig2"], d / "sub2.mp4", "trim=start_frame=23:end_frame=58,setpts=PTS-STARTPTS"
        ),
    }
    copy = d / "copy3.mp4"
    copy.write_bytes(orig["orig3"].read_bytes())
    made["copy3"] = copy
    return {**orig, **made}


def test_sample_times_follow_the_time_step():
    assert sample_times(90, 30.0, 0.5, 100) == [0, 15, 30, 45, 60, 75]
    assert sample_times(90, 30.0, 0.5, 3) == [0, 15, 30]
    assert sample_times(0, 30.0, 0.5, 10) == []


def test_video_duplicates_found_with_kinds_and_nothing_else(videos):
    recs = [_record(p, k) for k, p in sorted(videos.items())]
    res = find_video_duplicates(recs)
    clusters = sorted(sorted(c) for c in res.clusters)
    assert clusters == [["copy3", "orig3"], ["crop1", "orig1"], ["orig0", "re0"], ["orig2", "sub2"]]
    kinds = {frozenset((p.a, p.b)): p.kind for p in res.pairs}
    assert kinds[frozenset(("copy3", "orig3"))] == "exact"
    assert kinds[frozenset(("orig0", "re0"))] == "reencode"
    assert kinds[frozenset(("crop1", "orig1"))] == "reencode"
    assert kinds[frozenset(("orig2", "sub2"))] == "subclip"
    # keep rule: the longest video, then the highest resolution, then the smallest key
    assert res.duplicate_of["sub2"] == "orig2"
    assert res.duplicate_of["re0"] == "orig0"  # same length, orig0 is larger
    assert res.duplicate_of["orig1"] == "crop1"  # crop1 was upscaled: larger
    assert res.duplicate_of["orig3"] == "copy3"  # identical: smallest key


def test_cropped_copy_matches_with_a_margin_on_hashes_and_pixels(videos):
    """crop1 is 94% x 93% of orig1, upscaled: a window of the grid matches it, far from every threshold."""
    cfg = DedupConfig()
    recs = [_record(videos[k], k) for k in ("crop1", "orig1", "orig4", "orig5")]
    ev = {(e.a, e.b): e for e in video_pair_evidence(recs, cfg, exhaustive=True)}
    e = ev[("crop1", "orig1")]
    assert e.duplicate and e.kind == "reencode"
    assert e.bits <= cfg.frame_distance / 2  # median aligned distance; the whole-frame hash was 4-16 bits
    assert e.hash_score == 1.0
    assert e.score is not None and e.score >= cfg.verify_threshold + 0.1
    # without the files (hashes only) the pair is still found
    bare = [VideoRecord(r.key, r.sha256, r.fingerprint, r.frames, r.fps, r.width, r.height) for r in recs]
    assert [c for c in find_video_duplicates(bare, cfg).clusters] == [["crop1", "orig1"]]
    assert all(not x.duplicate for k, x in ev.items() if k != ("crop1", "orig1"))


def test_keep_rule_prefers_regular_on_ties(videos):
    a = _record(videos["orig3"], "hard-copy", Partition.HARD)
    b = _record(videos["copy3"], "zz-regular", Partition.REGULAR)
    res = find_video_duplicates([a, b])
    assert res.duplicate_of == {"hard-copy": "zz-regular"}


def test_image_duplicates():
    imgs = [still_image(s, 120, 160) for s in range(5)]
    near = np.clip(imgs[2].astype(int) + 12, 0, 255).astype(np.uint8)
    recolour = imgs[3][:, :, ::-1].copy()  # same shapes, other colours: pHash alone cannot tell
    recs = [
        ImageRecord(f"i{k}", f"{k:064x}", phash(im), 120, 160, colour=colour_signature(im))
        for k, im in enumerate(imgs)
    ]
    recs.append(ImageRecord("near2", "f" * 64, phash(near), 240, 320, colour=colour_signature(near)))
    recs.append(
        ImageRecord("recolour3", "e" * 64, phash(recolour), 120, 160, colour=colour_signature(recolour))
    )
    res = find_image_duplicates(recs)
    assert res.duplicate_of == {"i2": "near2"}  # the larger one is kept
    # pHash alone would have merged the recoloured image; the colour check keeps them apart
    assert hamming(phash(recolour), phash(imgs[3])) <= 8
    assert "recolour3" not in res.duplicate_of and "i3" not in res.duplicate_of


def test_image_duplicates_need_the_same_pixels_when_asked():
    """pHash and a background-dominated colour thumbnail match studio shots of other products of
    one cut; with ``same_picture`` (the shop images step checks the pixels) only copies and
    re-encodes of one picture are duplicates, and union-find chains nothing through the others."""
    import cv2

    from cleaning.dedup import image_difference

    def shot(stripe: int | None = None) -> np.ndarray:
        """A dark dress on a light studio background; ``stripe``: a light band at that row (another
        product of the same cut)."""
        img = np.full((160, 128, 3), 238, np.uint8)
        img[30:150, 34:94] = 40
        if stripe is not None:
            img[stripe : stripe + 10, 34:94] = 190
        return img

    a, b, c = shot(), shot(stripe=60), shot(stripe=80)
    jpeg = cv2.imdecode(cv2.imencode(".jpg", a, [cv2.IMWRITE_JPEG_QUALITY, 90])[1], cv2.IMREAD_UNCHANGED)
    imgs = {"a": a, "a-jpeg": jpeg, "b": b, "c": c}
    recs = [
        ImageRecord(k, f"{i:064x}", phash(im), 128, 160, colour=colour_signature(im))
        for i, (k, im) in enumerate(imgs.items())
    ]
    # the premise: the hashes alone chain all four into one product, the pixels tell them apart
    loose = find_image_duplicates(recs)
    assert len(loose.clusters) == 1 and len(loose.duplicate_of) == 3, loose.duplicate_of
    assert image_difference(a, jpeg) <= 3.0 < min(image_difference(a, b), image_difference(b, c))

    def same(x: ImageRecord, y: ImageRecord) -> bool:
        return image_difference(imgs[x.key], imgs[y.key]) <= 3.0

    strict = find_image_duplicates(recs, same_picture=same)
    assert strict.duplicate_of == {"a-jpeg": "a"}


def test_keep_rule_asks_the_callers_preference_first(videos):
    """``prefer`` (the cleaning step: whether the video's item can be accepted) comes before the
    video's own rank: here it keeps the smaller, Hard copy."""
    a = _record(videos["orig0"], "big", Partition.REGULAR)
    b = _record(videos["re0"], "small-usable", Partition.HARD)
    assert find_video_duplicates([a, b]).duplicate_of == {"small-usable": "big"}
    res = find_video_duplicates([a, b], prefer=lambda v: 0 if v.key == "small-usable" else 1)
    assert res.duplicate_of == {"big": "small-usable"}


def test_time_reversed_reposts_whole_or_cut_are_duplicates_verified_on_pixels(videos, tmp_path):
    frames = scene(4, 75, 192, 144)
    rev = _record(write_mp4(tmp_path / "rev4.mp4", frames[::-1].copy()))
    cut = _record(write_mp4(tmp_path / "revcut4.mp4", frames[10:60][::-1].copy()))
    recs = [_record(videos[f"orig{s}"]) for s in range(6)] + [rev, cut]
    cfg = DedupConfig()
    res = find_video_duplicates(recs, cfg)
    assert sorted(sorted(c) for c in res.clusters) == [["orig4", "rev4", "revcut4"]]
    assert res.kind == {"rev4": "reencode", "revcut4": "subclip"}
    ev = {(e.a, e.b): e for e in video_pair_evidence(recs, cfg)}
    for pair in (("orig4", "rev4"), ("orig4", "revcut4")):
        e = ev[pair]
        assert e.duplicate and e.score is not None and e.score >= cfg.verify_threshold, e
        assert e.speed == pytest.approx(-1.0, abs=0.05) and "reversed" in e.transform
    # switched off, the source stands alone again (the two reversed copies play the same way)
    off = find_video_duplicates(recs, DedupConfig(match_reversed=False))
    assert sorted(sorted(c) for c in off.clusters) == [["rev4", "revcut4"]]


class _Store:
    """A :class:`cleaning.dedup.PairCache` in a dict."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], object] = {}

    def get(self, sha_a, sha_b):
        return self.data.get((sha_a, sha_b))

    def put(self, sha_a, sha_b, value):
        self.data[(sha_a, sha_b)] = value


def test_verified_pairs_are_kept_and_not_verified_again(videos):
    from cleaning.dedup import FileFrames

    recs = [_record(videos[k], k) for k in ("orig0", "re0", "orig2", "sub2", "orig5")]
    decoded: list[int] = []
    files = FileFrames(recs)

    def frames(key, indices):
        decoded.append(len(indices))
        return files(key, indices)

    store = _Store()
    first = find_video_duplicates(recs, frames=frames, known=store)
    sha = {r.key: r.sha256 for r in recs}
    # the two candidate pairs, under their SHA-256 in key order
    assert decoded and set(store.data) == {(sha["orig0"], sha["re0"]), (sha["orig2"], sha["sub2"])}
    decoded.clear()
    again = find_video_duplicates(recs, frames=frames, known=store)
    assert decoded == []  # nothing decoded: both pairs come from the store
    assert again.pairs == first.pairs and again.duplicate_of == first.duplicate_of
    # a damaged entry is a miss: that pair is verified again and its entry rewritten
    key = next(iter(store.data))
    good = store.data[key]
    store.data[key] = {"score": "high"}
    third = find_video_duplicates(recs, frames=frames, known=store)
    assert decoded and third.pairs == first.pairs and store.data[key] == good


def test_images_of_unknown_hash_are_not_exact_duplicates_of_each_other():
    # no sha256 known and pHashes 64 bits apart: nothing says these are one picture
    a, b = ImageRecord("a", "", 0, 10, 10), ImageRecord("b", "", 2**64 - 1, 10, 10)
    assert find_image_duplicates([a, b]).duplicate_of == {}
    # equal known bytes still are, whatever their pHash
    c, d = ImageRecord("c", "ab" * 32, 0, 10, 10), ImageRecord("d", "ab" * 32, 2**64 - 1, 10, 10)
    assert find_image_duplicates([c, d]).duplicate_of == {"d": "c"}


def test_a_members_kind_is_its_link_to_the_kept_video_not_its_strongest_pair():
    """A re-encode of the kept video collected twice (a TikTok post and its URL-list copy, byte
    for byte the same): the re-encode was labelled "exact duplicate of <kept>" because one of its
    pairs (with its own copy) was exact, and the report counted no re-encode at all. A member's
    kind is now that of its weakest link on its strongest path to the kept video."""
    from cleaning.dedup import DuplicatePair, _clusters

    pairs = [
        DuplicatePair("kept", "re", "reencode"),
        DuplicatePair("re", "re-copy", "exact"),
        DuplicatePair("kept", "copy", "exact"),
        DuplicatePair("copy", "cut", "subclip"),
        DuplicatePair("re", "cut", "reencode"),  # a stronger path to the cut: through the re-encode
    ]
    order = ["kept", "copy", "re", "re-copy", "cut"]
    res = _clusters(order, pairs, order.index)
    assert res.duplicate_of == {k: "kept" for k in order[1:]}
    assert res.kind == {"copy": "exact", "re": "reencode", "re-copy": "reencode", "cut": "reencode"}
