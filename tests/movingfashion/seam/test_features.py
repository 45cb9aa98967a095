import torch

from movingfashion.seam.features import choose_query, mean_iou
from schemas.dataset import Tracklet, VideoTracklets
from tests.movingfashion.seam.synthetic import synthetic_bank


def test_query_is_the_inference_tracklet_with_the_best_mean_iou_with_the_ground_truth():
    gt = {0: [10, 10, 50, 90], 5: [12, 10, 52, 90], 9: [14, 10, 54, 90]}
    truth = Tracklet(video="v.mp4", boxes=gt, mode="ground-truth")  # never the query itself
    other = Tracklet(
        video="v.mp4",
        boxes={0: [100, 10, 140, 90], 5: [100, 10, 140, 90]},
        scores={0: 0.99, 5: 0.99},
        mode="inference",
    )
    partial = Tracklet(video="v.mp4", boxes={0: [10, 10, 50, 90]}, scores={0: 0.9}, mode="inference")
    good = Tracklet(
        video="v.mp4",
        boxes={0: [11, 10, 51, 90], 5: [12, 11, 52, 90], 9: [14, 10, 54, 91]},
        scores={0: 0.5, 5: 0.6, 9: 0.7},
        mode="inference",
        noise={5: "blur"},
    )
    vt = VideoTracklets(
        product_id="p",
        video="v.mp4",
        frames=10,
        width=200,
        height=100,
        tracklets=[truth, other, partial, good],
        ground_truth=0,
    )
    q = choose_query(gt, vt)
    assert q.source == "tracklets[3]" and q.boxes == good.boxes and q.scores == good.scores
    assert q.noise == {5: "blur"}
    assert 0.9 < q.iou < 1.0 and mean_iou(partial.boxes, gt) < q.iou
    # without the richer file, or without inference tracklets in it, the ground truth is the query
    for rich in (None, vt.model_copy(update={"tracklets": [truth]})):
        q = choose_query(gt, rich)
        assert (q.boxes, q.scores, q.source, q.iou) == (gt, {}, "ground_truth", 1.0)


def test_bank_subset_keeps_the_gallery_and_the_targets():
    bank = synthetic_bank(6, videos_per_product=2, pool=4)
    sub = bank.subset([1, 4])
    assert len(sub) == 2 and sub.gallery_ids == bank.gallery_ids
    assert sub.targets.tolist() == [0, 2] and torch.equal(sub.fmaps[1], bank.fmaps[4])
