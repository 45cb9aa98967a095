"""Re-encodes turned 90, 180 or 270 degrees (a phone clip re-uploaded rotated, or its rotation tag
dropped) are duplicates, with the turn named; the turned hashes pair nothing else."""

from __future__ import annotations

import numpy as np
import pytest

from cleaning.config import DedupConfig
from cleaning.dedup import find_video_duplicates, video_pair_evidence
from cleaning.fingerprint import VideoFingerprint, fingerprint_frames
from cleaning.phash import dct_coefficients, dct_hash, normalise, turned_hashes
from tests.cleaning.media_helpers import reencode, scene, write_mp4
from tests.cleaning.test_dedup import _record

#: ffmpeg filters turning a clip clockwise by the angle
TURNS = {90: "transpose=1", 180: "hflip,vflip", 270: "transpose=2"}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("rotated")
    orig = {f"orig{s}": write_mp4(d / f"orig{s}.mp4", scene(s, 60, 192, 144)) for s in range(4)}
    turned = {
        f"turn{a}": reencode(orig[f"orig{i}"], d / f"turn{a}.mp4", TURNS[a]) for i, a in enumerate(TURNS)
    }
    return {**orig, **turned}


def test_turned_hashes_equal_the_hashes_of_turned_pictures():
    rng = np.random.default_rng(3)
    small = normalise(rng.normal(size=(50, 32, 32)).astype(np.float32).cumsum(1).cumsum(2))
    got = turned_hashes(dct_coefficients(small))
    for k in (1, 2, 3):
        assert (got[:, k - 1] == dct_hash(np.ascontiguousarray(np.rot90(small, k, axes=(1, 2))))).all()


def test_a_turned_frame_matches_its_source_on_a_turned_view():
    frames = scene(1, 8, 96, 64)[..., 0]
    fp = fingerprint_frames(frames, range(8))
    for k in (1, 2, 3):
        other = fingerprint_frames(np.ascontiguousarray(np.rot90(frames, -k, axes=(1, 2))), range(8))
        # the copy turned k quarter turns clockwise, turned back k counter-clockwise, is the source
        assert (np.bitwise_count(other.turned[:, k - 1] ^ fp.hashes) <= 4).all()
    back = VideoFingerprint.from_json(fp.to_json())
    assert (back.turned == fp.turned).all() and back.turned.shape == (8, 3)


def test_rotated_reencodes_are_duplicates_with_the_turn_named(clips):
    recs = [_record(p, k) for k, p in sorted(clips.items())]
    res = find_video_duplicates(recs)
    assert sorted(sorted(c) for c in res.clusters if len(c) > 1) == [
        ["orig0", "turn90"],
        ["orig1", "turn180"],
        ["orig2", "turn270"],
    ]
    pairs = {(p.a, p.b): p for p in res.pairs}
    for i, angle in enumerate(TURNS):
        p = pairs[(f"orig{i}", f"turn{angle}")]  # turn<angle> is orig<i> turned clockwise by angle
        assert p.kind == "reencode"
        assert p.transform == f"rotated {angle}"
        assert p.score is not None and p.score >= DedupConfig().verify_threshold


def test_rotations_off_find_none_and_on_pair_nothing_else(clips):
    recs = [_record(p, k) for k, p in sorted(clips.items())]
    off = DedupConfig(match_rotated=False)
    assert [c for c in find_video_duplicates(recs, off).clusters if len(c) > 1] == []
    ev = video_pair_evidence(recs, DedupConfig(), exhaustive=True)
    dup = {(e.a, e.b) for e in ev if e.duplicate}
    assert dup == {("orig0", "turn90"), ("orig1", "turn180"), ("orig2", "turn270")}


@pytest.mark.slow
def test_world_rotated_reposts_are_found_with_their_turn_and_nothing_else(dedup_world, world_dedup):
    """The world with every re-post knob (test_dedup_mixed.py): one re-post per quarter turn."""
    from movingfashion.world.truth import ROTATED_VARIANTS

    found = world_dedup(dedup_world("mixed"))
    truth, res, scores = found.truth, found.result, found.scores
    for kind in [*ROTATED_VARIANTS, "exact", "reencode", "subclip"]:
        assert scores[str(kind)]["n"] >= 1
        assert scores[str(kind)]["recall"] == 1.0 and scores[str(kind)]["precision"] == 1.0, (kind, scores)
    assert scores["false_pairs"]["pairs"] == []
    pairs = {(p.a, p.b): p for p in res.pairs}
    for v in truth.videos:
        if v.variant in ROTATED_VARIANTS:
            angle = int(str(v.variant).split("_")[1])  # the re-post is its source turned clockwise
            a, b = sorted((v.video_id, str(v.duplicate_of)))
            assert pairs[(a, b)].transform == f"rotated {angle if b == v.video_id else 360 - angle}"


@pytest.mark.slow
def test_world_without_rotated_reposts_gets_no_new_duplicate(repost_world, world_dedup):
    found = world_dedup(repost_world)
    on, off = found.result, find_video_duplicates(found.records, DedupConfig(match_rotated=False))
    assert sorted(map(sorted, on.clusters)) == sorted(map(sorted, off.clusters))
    assert not any("rotated" in p.transform for p in on.pairs)
    assert found.scores["false_pairs"]["pairs"] == []
