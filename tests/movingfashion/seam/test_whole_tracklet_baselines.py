"""Max Confidence and Max Matching choose their single frame "by looking at the entire pool of
frames in a tracklet" (paper section 5), not among the T sampled frames: the test bank keeps the
query tracklet's most confident detection (``slots["maxconf"]``), and Max Matching takes the best
score over every frame the bank keeps."""

from __future__ import annotations

import dataclasses
import json
import shutil

import torch

from movingfashion.models.matchrcnn import margin_matrix, score_matrix
from movingfashion.models.ranking import ranks_of_targets
from movingfashion.seam.evaluate import single_frame_scores, whole_tracklet_scores
from movingfashion.seam.features import build_bank, most_confident, pool_parts
from schemas.dataset import Tracklet, VideoTracklets
from tests.movingfashion.seam.test_query_counts import _model_with_encoder


def test_the_most_confident_frame_is_found_over_the_whole_tracklet():
    cand = list(range(0, 60))
    conf = {f: 0.5 for f in cand} | {37: 0.97, 41: 0.97, 3: float("nan"), 99: 1.0}  # 99: not a candidate
    assert most_confident(cand, conf) == 37  # the earliest of equals; NaN and other frames ignored
    parts = pool_parts(cand, 5, [5], conf)
    assert parts["maxconf"] == [37] and 37 not in parts["rrs5"] + parts["uniform"]
    assert pool_parts(cand, 5, [5])["maxconf"] == [30]  # no confidence known: the middle frame
    assert pool_parts(cand, 5, [5], {3: float("nan")})["maxconf"] == [30]


def _scored_dataset(tiny_dataset, tmp_path, peak: dict[str, int]):
    """The tiny dataset with one inference tracklet per test video: the ground truth's boxes,
    confidence 0.4 everywhere but 0.9 on the frame ``peak`` names."""
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    test = json.loads((root / "test.json").read_text())
    for pid, rec in test.items():
        for n, (rel, trk) in enumerate(zip(rec["video_paths"], rec["tracklets"], strict=True)):
            frames = sorted(int(f) for f in trk)
            top = frames[peak.get(rel, len(frames) // 3)]
            vt = VideoTracklets(
                product_id=pid,
                video=rel,
                frames=50,
                width=320,
                height=240,
                tracklets=[
                    Tracklet(
                        video=rel,
                        boxes={int(f): b for f, b in trk.items()},
                        scores={f: (0.9 if f == top else 0.4) for f in frames},
                        mode="inference",
                    )
                ],
            )
            (root / "tracklets").mkdir(exist_ok=True)
            (root / "tracklets" / f"{pid}_{n}.json").write_text(vt.model_dump_json())
    return root


def test_the_bank_keeps_the_most_confident_detection_and_the_baselines_use_the_whole_pool(
    tiny_dataset, tmp_path
):
    root = _scored_dataset(tiny_dataset, tmp_path, {})
    model = _model_with_encoder().eval()
    bank = build_bank(root, "test", model.encoder, crop_size=32, pool=4, clips=[3])
    assert "maxconf" in bank.slots and bank.slots["maxconf"].shape == (len(bank), 1)
    rows = torch.arange(len(bank))
    at = bank.slots["maxconf"][:, 0]
    assert torch.all(bank.conf[rows, at] == 0.9)  # the peak, over every frame of the tracklet
    sel = bank.slots["rrs3"]
    assert not torch.any(bank.conf[rows[:, None], sel] == 0.9)  # ... which no T frame is here

    whole = whole_tracklet_scores(model, bank, torch.device("cpu"))
    tframes = single_frame_scores(model, bank, sel, torch.device("cpu"))
    f = lambda z: model.f(z.float()).double()  # noqa: E731 (scores are float64)
    w, b = model.m.fc.weight.detach(), model.m.fc.bias.detach()
    shop = f(bank.shop_fmaps)
    with torch.no_grad():
        expect_conf = score_matrix(f(bank.fmaps[rows, at]), shop, w, b)
        every = torch.stack(
            [
                score_matrix(f(bank.fmaps[rows, torch.full_like(at, c)]), shop, w, b)
                for c in range(bank.fmaps.shape[1])
            ]
        )
    assert torch.allclose(whole["max_confidence"], expect_conf, atol=1e-5)
    assert torch.allclose(whole["max_matching"], every.max(0).values, atol=1e-5)
    assert torch.all(whole["max_matching"] >= tframes["max_matching"] - 1e-6)  # the T frames are in the pool


def test_a_bank_without_the_slot_keeps_the_t_frame_definitions(tiny_dataset, tmp_path):
    root = _scored_dataset(tiny_dataset, tmp_path, {})
    model = _model_with_encoder().eval()
    plain = build_bank(root, "test", model.encoder, crop_size=32, pool=4)  # no clips: no slots
    assert plain.slots == {} and whole_tracklet_scores(model, plain, torch.device("cpu")) == {}


def test_confident_margins_are_ranked_as_the_head_scored_them(tiny_dataset, tmp_path):
    """Margins past ~17 are all 1.0 through a float32 sigmoid: the scores must still rank the
    gallery as the margins do, not tie it (ties count against the true item)."""
    root = _scored_dataset(tiny_dataset, tmp_path, {})
    model = _model_with_encoder().eval()
    bank = build_bank(root, "test", model.encoder, crop_size=32, pool=4, clips=[3])
    # seven more shop images beside the true one: a gallery to rank
    extra = torch.rand((7, *bank.shop_fmaps.shape[1:]), generator=torch.Generator().manual_seed(0))
    bank = dataclasses.replace(bank, shop_fmaps=torch.cat([bank.shop_fmaps, extra.to(bank.shop_fmaps.dtype)]))
    fc = model.m.fc
    with torch.no_grad():
        x = model.f(bank.fmaps.flatten(0, 1).float()).view(len(bank), bank.fmaps.shape[1], -1)
        shop = model.f(bank.shop_fmaps.float())

        def margins(rows: torch.Tensor) -> torch.Tensor:
            return margin_matrix(rows.double(), shop.double(), fc.weight, fc.bias)

        every = torch.stack([margins(x[:, c]) for c in range(x.shape[1])])  # [P, V, G]
        # squeeze every pair's margin into about [20, 32] (the float32 bias rounds the shift):
        # confident, and apart in float64
        scale = 12.0 / float((every.max() - every.min()).clamp_min(1e-9))
        fc.weight.mul_(scale)
        fc.bias.mul_(scale)
        every = torch.stack([margins(x[:, c]) for c in range(x.shape[1])])
        fc.bias[1] += 20.0 - float(every.min())
        every = torch.stack([margins(x[:, c]) for c in range(x.shape[1])])
    assert float(every.min()) > 17.0 and float(every.max()) < 35.0
    assert torch.all(torch.sigmoid(every.float()) == 1.0)  # what a float32 score would hold
    rows = torch.arange(len(bank))
    sel = bank.slots["rrs3"]
    tframes = single_frame_scores(model, bank, sel, torch.device("cpu"))
    whole = whole_tracklet_scores(model, bank, torch.device("cpu"))
    t_max = torch.stack([every[sel[:, i], rows] for i in range(sel.shape[1])]).max(0).values
    expect = {
        "max_matching (T frames)": (tframes["max_matching"], t_max),
        "max_matching": (whole["max_matching"], every.max(0).values),
        "max_confidence": (whole["max_confidence"], every[bank.slots["maxconf"][:, 0], rows]),
    }
    for name, (scores, m) in expect.items():
        got, want = ranks_of_targets(scores, bank.targets), ranks_of_targets(m, bank.targets)
        assert torch.equal(got, want), name
    # the margins rank some true item ahead of a wrong one: a tied gallery would not
    assert bool((ranks_of_targets(every.max(0).values, bank.targets) < bank.shop_fmaps.shape[0] - 1).any())
