"""``mf crop-cache`` on Ray writes the cache it writes locally (arrays and entries, byte for byte)."""

from __future__ import annotations

from movingfashion.dataset import MovingFashionDataset, build_crop_cache
from movingfashion.executors import make_executor
from tests.ray_fixtures import tree_bytes


def test_crop_cache_on_ray_equals_local(ray_session, gt_dataset, local_crop_cache, tmp_path):
    local, counts, skipped = local_crop_cache
    ray_ds = MovingFashionDataset(
        gt_dataset, "train", crop="tracklet", crop_size=64, on_bad="skip", shop_size=None
    )
    with make_executor("ray", workers=2) as ex:
        assert build_crop_cache(ray_ds, tmp_path / "ray", pool=4, executor=ex) == counts
        assert sum(ex.nodes.values()) == counts["built"] > 0
        assert ray_ds.skipped == skipped
        # a rerun finds everything cached (on the same executor: no second start)
        assert build_crop_cache(ray_ds, tmp_path / "ray", pool=4, executor=ex) == {
            "built": 0,
            "already_cached": counts["built"],
            "failed": 0,
        }
    assert tree_bytes(tmp_path / "ray") == tree_bytes(local)
