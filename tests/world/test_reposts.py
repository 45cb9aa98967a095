"""Re-post variants and retakes of the synthetic world: deterministic, recorded in the truth, boxes follow."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from movingfashion.media.readers import read_video
from movingfashion.world.catalog import plan_world
from movingfashion.world.config import WorldConfig
from movingfashion.world.reposts import make_repost
from movingfashion.world.truth import (
    COPY_VARIANTS,
    FILLED_VARIANTS,
    MIRRORED_ROTATED_VARIANTS,
    ONE_BAR_VARIANTS,
    REFRAMED_VARIANTS,
    ROTATED_VARIANTS,
    DuplicateKind,
    RepostVariant,
    load_video_gt,
    load_world,
)


def _frames(n: int = 10, w: int = 64, h: int = 80) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for _ in range(n)]


@pytest.mark.parametrize("kind", list(RepostVariant))
def test_reposts_are_deterministic_and_sized(kind):
    src = _frames()
    a = make_repost(kind, (64, 80), len(src), np.random.default_rng(5))
    b = make_repost(kind, (64, 80), len(src), np.random.default_rng(5))
    fa, fb = list(a.frames(src)), list(b.frames(src))
    assert a.detail == b.detail and a.size == b.size and a.kind == kind
    assert all(np.array_equal(x, y) for x, y in zip(fa, fb, strict=True))
    assert all(f.shape == (a.size[1], a.size[0], 3) for f in fa)
    assert all(0 <= k < len(src) for k in a.source_index)


def test_mirror_pad_and_speed_map_boxes_and_frames():
    src = _frames()
    m = make_repost(RepostVariant.MIRROR, (64, 80), 10, np.random.default_rng(1))
    assert np.array_equal(next(m.frames(src)), src[0][:, ::-1])
    assert m.box([10, 20, 30, 40]) == [34.0, 20.0, 54.0, 40.0]
    lb = make_repost(RepostVariant.LETTERBOX, (64, 80), 10, np.random.default_rng(1))
    ax, bx, ay, by = lb.affine
    assert lb.size[1] > 80 * ax and by > 0  # bars above and below
    assert lb.box([0, 0, 64, 80]) == [
        round(bx, 1),
        round(by, 1),
        round(64 * ax + bx, 1),
        round(80 * ay + by, 1),
    ]
    sp = make_repost(RepostVariant.SPEED, (64, 80), 60, np.random.default_rng(2))
    s = float(sp.detail.split()[1])
    assert len(sp.source_index) == pytest.approx(60 / s, abs=1)
    assert sp.source_index == sorted(sp.source_index)
    crop = make_repost(RepostVariant.CROP, (64, 80), 10, np.random.default_rng(3))
    assert crop.box([-50, -50, -10, -10]) is None  # left the frame


def test_knobs_off_plan_the_same_world_and_on_only_add_items():
    base = plan_world(24, 0, WorldConfig())
    assert not any(s.variant or s.retake_of for s in base)
    more = plan_world(24, 0, WorldConfig(repost_variants=1, retakes=2))
    assert [(s.product_id, s.duplicate_of, s.meta) for s in more[: len(base)]] == [
        (s.product_id, s.duplicate_of, s.meta) for s in base
    ]
    extra = more[len(base) :]
    assert sorted(s.variant for s in extra if s.variant) == sorted(str(k) for k in COPY_VARIANTS)
    assert sum(1 for s in extra if s.retake_of) == 2


#: each later re-post knob: the world it is added to (every knob before it on), what it is set
#: to, and the re-posts that adds, in order
LATER_KNOBS = [
    pytest.param({}, {"rotated_reposts": 1}, list(ROTATED_VARIANTS), id="rotated"),
    pytest.param(
        {"rotated_reposts": 1},
        {"mirrored_rotated_reposts": 1, "reframed_reposts": 1},
        [*MIRRORED_ROTATED_VARIANTS, *REFRAMED_VARIANTS],
        id="mirrored_rotated+reframed",
    ),
    pytest.param({"reframed_reposts": 1}, {"filled_reposts": 2}, list(FILLED_VARIANTS) * 2, id="filled"),
    pytest.param({"filled_reposts": 1}, {"one_bar_reposts": 3}, list(ONE_BAR_VARIANTS) * 3, id="one_bar"),
]


@pytest.mark.parametrize(("before", "knobs", "added"), LATER_KNOBS)
def test_a_later_repost_knob_is_off_by_default_and_only_appends(before, knobs, added):
    """A world planned with the knobs before it is planned the same with it on, plus its re-posts
    (each a re-encode of its source, a trim a sub-clip of it) at the end; a world's parameters
    name the knob only when it is on (those of earlier worlds stay as they were)."""
    from movingfashion.world.generate import _params

    cfg = WorldConfig(repost_variants=1, retakes=2, **before)
    base = plan_world(24, 0, cfg)
    assert not any(str(s.variant) in set(map(str, added)) for s in base)
    more = plan_world(24, 0, cfg.model_copy(update=knobs))
    assert [(s.product_id, s.variant, s.meta) for s in more[: len(base)]] == [
        (s.product_id, s.variant, s.meta) for s in base
    ]
    extra = more[len(base) :]
    assert [s.variant for s in extra] == [str(k) for k in added]
    for s in extra:
        kind = DuplicateKind.SUBCLIP if s.variant == RepostVariant.TRIM else DuplicateKind.REENCODE
        assert s.duplicate_of and s.duplicate_kind == kind, s
    assert not set(knobs) & set(_params(20, 0, True, WorldConfig())["config"])
    config = _params(20, 0, True, WorldConfig(**knobs))["config"]
    assert {k: config[k] for k in knobs} == knobs


@pytest.mark.parametrize("kind", ROTATED_VARIANTS)
def test_rotated_reposts_turn_frames_and_boxes_clockwise(kind):
    src = _frames(3)
    r = make_repost(kind, (64, 80), 3, np.random.default_rng(0))
    turns = {RepostVariant.ROTATE_90: 1, RepostVariant.ROTATE_180: 2, RepostVariant.ROTATE_270: 3}[kind]
    assert np.array_equal(next(r.frames(src)), np.rot90(src[0], -turns))  # np.rot90: counter-clockwise
    assert r.size == ((80, 64) if turns % 2 else (64, 80))
    marked = np.zeros((80, 64, 3), np.uint8)
    marked[10:20, 5:15] = 255
    ys, xs = np.nonzero(r.pixels(marked)[..., 0])
    assert r.box([5, 10, 15, 20]) == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


@pytest.mark.parametrize("kind", MIRRORED_ROTATED_VARIANTS)
def test_mirrored_rotated_reposts_mirror_then_turn_frames_and_boxes(kind):
    src = _frames(3)
    r = make_repost(kind, (64, 80), 3, np.random.default_rng(0))
    turns = int(str(kind).rsplit("_", 1)[1]) // 90
    assert np.array_equal(next(r.frames(src)), np.rot90(src[0][:, ::-1], -turns))
    assert r.size == ((80, 64) if turns % 2 else (64, 80))
    marked = np.zeros((80, 64, 3), np.uint8)
    marked[10:20, 5:15] = 255
    ys, xs = np.nonzero(r.pixels(marked)[..., 0])
    assert r.box([5, 10, 15, 20]) == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def test_frame_rate_pillarbox_and_trim_reposts_map_time_and_boxes():
    fr = make_repost(RepostVariant.FRAME_RATE, (64, 80), 60, np.random.default_rng(0))
    fps = round(30 * fr.fps_scale)
    assert fps in (24, 25, 60) and len(fr.source_index) == round(60 * fps / 30)
    assert fr.source_index[0] == 0 and fr.source_index[-1] >= 58  # the same duration
    wide = make_repost(RepostVariant.PILLARBOX_WIDE, (64, 80), 10, np.random.default_rng(1))
    ax, bx, _, _ = wide.affine
    assert wide.size[0] / wide.size[1] == pytest.approx(16 / 9, abs=0.03)
    assert min(bx, wide.size[0] - bx - 64 * ax) >= 1  # bars on both sides, often off centre
    assert wide.size[0] - 64 * ax > 0.5 * wide.size[0]  # a 4:5 clip: 55% of the width barred
    frame = next(wide.frames(_frames(1)))
    assert frame[:, : int(bx) - 1].std() == 0 and frame[:, int(bx + 64 * ax) + 1 :].std() == 0
    trim = make_repost(RepostVariant.TRIM, (64, 80), 60, np.random.default_rng(2))
    idx = trim.source_index
    assert idx == list(range(idx[0], idx[0] + len(idx))) and idx[0] > 0 and idx[-1] < 59
    assert 0.25 * 60 <= len(idx) <= 0.45 * 60


@pytest.mark.parametrize("size", [(288, 512), (320, 384), (256, 144)])
@pytest.mark.parametrize("seed", range(4))
def test_a_crop_to_fill_keeps_a_window_of_another_aspect_and_its_boxes_follow(size, seed):
    w, h = size
    r = make_repost(RepostVariant.CROP_FILL, size, 3, np.random.default_rng(seed))
    ax, bx, ay, by = r.affine
    assert ax == pytest.approx(ay, rel=0.02)  # zoomed in, not stretched
    kept_w, kept_h = r.size[0] / ax / w, r.size[1] / ay / h  # shares of the source's sides kept
    assert max(kept_w, kept_h) == pytest.approx(1, abs=0.02) and 0.3 <= min(kept_w, kept_h) <= 0.86
    assert abs(np.log(r.size[0] / r.size[1] / (w / h))) > np.log(1 / 0.86)  # another aspect
    marked = np.zeros((h, w, 3), np.uint8)
    x0, y0 = int(-bx / ax) + 8, int(-by / ay) + 8  # inside the kept window
    marked[y0 : y0 + 20, x0 : x0 + 20] = 255
    ys, xs = np.nonzero(r.pixels(marked)[..., 0] > 127)
    got = r.box([x0, y0, x0 + 20, y0 + 20])
    assert got == pytest.approx([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], abs=1.5)


@pytest.mark.parametrize("size", [(288, 512), (320, 384), (256, 144)])
@pytest.mark.parametrize("seed", range(4))
def test_a_blurred_fill_fits_the_clip_over_its_blurred_enlarged_copy(size, seed):
    w, h = size
    src = _frames(1, w, h)[0]
    r = make_repost(RepostVariant.BLUR_FILL, size, 1, np.random.default_rng(seed))
    ax, bx, ay, by = r.affine
    iw, ih = round(w * ax), round(h * ay)
    assert abs(np.log(r.size[0] / r.size[1] / (w / h))) > np.log(1 / 0.86)  # another aspect
    assert (bx == 0 or by == 0) and abs(r.size[0] - iw - 2 * bx) <= 1 and abs(r.size[1] - ih - 2 * by) <= 1
    out = r.pixels(src).astype(np.float32)
    inner = out[int(by) : int(by) + ih, int(bx) : int(bx) + iw]
    assert np.abs(inner - cv2.resize(src, (iw, ih), interpolation=cv2.INTER_AREA)).max() == 0
    fill = np.concatenate([out[: int(by)].reshape(-1, 3), out[int(by) + ih :].reshape(-1, 3)])
    if bx:
        fill = np.concatenate([out[:, : int(bx)].reshape(-1, 3), out[:, int(bx) + iw :].reshape(-1, 3)])
    assert fill.std(axis=0).max() > 0.5  # not a bar: the picture blurred (noise: all but flat)
    assert r.box([0, 0, w, h]) == [round(bx, 1), round(by, 1), round(bx + w * ax, 1), round(by + h * ay, 1)]


@pytest.mark.parametrize("size", [(288, 512), (320, 384), (256, 144)])
@pytest.mark.parametrize("seed", range(6))
def test_a_one_bar_repost_puts_the_clip_at_one_end_over_a_bar_of_over_40_percent(size, seed):
    w, h = size
    src = _frames(1, w, h)[0]
    r = make_repost(RepostVariant.ONE_BAR, size, 1, np.random.default_rng(seed))
    ax, bx, ay, by = r.affine
    iw, ih = round(w * ax), round(h * ay)
    ow, oh = r.size
    assert ax == pytest.approx(ay, rel=0.02) and bx == 0 and ow == iw
    assert 0.4 < 1 - ih / oh <= 0.61  # one bar, more than 40% of the frame
    assert by == 0 or by == oh - ih  # at the top or the bottom: no bar on the other side
    out = r.pixels(src).astype(np.float32)
    y0 = int(by)
    inner = out[y0 : y0 + ih]
    assert np.abs(inner - cv2.resize(src, (iw, ih), interpolation=cv2.INTER_AREA)).max() == 0
    bar = out[ih:] if y0 == 0 else out[: oh - ih]
    colour = np.median(bar.reshape(-1, 3), axis=0)
    assert colour.max() <= 40 or colour.min() >= 215  # dark or white
    assert (np.abs(bar - colour).max(axis=2) <= 10).mean() > 0.9  # one colour but for a caption
    assert r.box([0, 0, w, h]) == [0.0, float(y0), float(iw), float(y0 + ih)]


@pytest.mark.slow
def test_repost_world_truth_records_variants_and_retakes(repost_world):
    truth = load_world(repost_world)
    variants = [v for v in truth.videos if v.variant]
    assert {v.variant for v in variants} == set(COPY_VARIANTS)
    assert all(
        v.duplicate_of and v.duplicate_kind == DuplicateKind.REENCODE and v.variant_detail for v in variants
    )
    retakes = [v for v in truth.videos if v.retake_of]
    assert len(retakes) == 6 and not any(v.duplicate_of for v in retakes)
    for v in retakes:  # same garment, another clip
        src = truth.video(v.retake_of)
        assert truth.product(v.product_id).df2_class == truth.product(src.product_id).df2_class
        assert v.sha256 != src.sha256
        a, b = read_video(repost_world / src.path), read_video(repost_world / v.path)
        assert np.abs(a.astype(np.int16) - b.astype(np.int16)).mean() > 10
    for v in variants:
        gt = load_video_gt(repost_world, v)
        assert len(gt.frames) == v.frames and gt.product_id == v.product_id
        if v.variant == RepostVariant.MIRROR:
            src = truth.video(v.duplicate_of)
            a, b = load_video_gt(repost_world, src).item_boxes(), gt.item_boxes()
            for t, box in b.items():
                assert box == pytest.approx(
                    [src.width - a[t][2], a[t][1], src.width - a[t][0], a[t][3]], abs=0.11
                )
            fa, fb = read_video(repost_world / src.path), read_video(repost_world / v.path)
            assert np.abs(fa[:, :, ::-1].astype(np.int16) - fb.astype(np.int16)).mean() < 6


def test_rerendering_reposts_and_a_retake_gives_identical_files(tmp_path):
    from movingfashion.world.generate import _render_product

    cfg = WorldConfig(repost_variants=1, retakes=3)
    specs = plan_world(20, 47, cfg)
    extra = [s for s in specs if s.variant or s.retake_of]
    src = next(s for s in specs if any(e.retake_of == s.product_id for e in extra))
    mine = [e for e in extra if src.product_id in (e.duplicate_of, e.retake_of)]
    assert any(e.retake_of for e in mine)
    shas = []
    for run in ("a", "b"):
        res = _render_product((str(tmp_path / run), src, mine, cfg, True, 47))
        shas.append({pid: [v["sha256"] for v in r["videos"]] for pid, r in res.items()})
    assert shas[0] == shas[1] and len(shas[0]) == 1 + len(mine)
    assert len({s for v in shas[0].values() for s in v}) == 1 + len(
        mine
    )  # every clip differs from the others
