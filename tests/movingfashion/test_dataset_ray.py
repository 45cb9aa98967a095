"""``mf crop-cache`` on Ray writes the cache it writes locally (arrays and entries, byte for byte)."""

from __future__ import annotations

from movingfashion.dataset import MovingFashionDataset, build_crop_cache
from movingfashion.executors import make_executor
from tests.ray_fixtures import tree_bytes


def test_crop_cache_on_ray_equals_local(ray_session, gt_dataset, tmp_path):
    def dataset():
        return MovingFashionDataset(
            gt_dataset, "train", crop="tracklet", crop_size=64, on_bad="skip", shop_size=None
        )

    local_ds, ray_ds = dataset(), dataset()
    counts = build_crop_cache(local_ds, tmp_path / "local", pool=4)
    with make_executor("ray", workers=2) as ex:
        assert build_crop_cache(ray_ds, tmp_path / "ray", pool=4, executor=ex) == counts
        assert sum(ex.nodes.values()) == counts["built"] > 0
    assert tree_bytes(tmp_path / "ray") == tree_bytes(tmp_path / "local")
    assert ray_ds.skipped == local_ds.skipped
    with make_executor("ray") as ex:  # a rerun finds everything cached
        assert build_crop_cache(ray_ds, tmp_path / "ray", pool=4, executor=ex) == {
            "built": 0,
            "already_cached": counts["built"],
        }
