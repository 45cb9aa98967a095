"""``mf crop-cache`` on Ray writes the cache it writes locally (arrays and entries, byte for byte);
a video that kills its worker is listed as failed and the others are cached."""

from __future__ import annotations

import os

from movingfashion.dataset import MovingFashionDataset, build_crop_cache
from movingfashion.executors import make_executor
from movingfashion.training_copy import entry_stem
from tests.damage import assert_same_tree
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
    assert_same_tree(tree_bytes(tmp_path / "ray"), tree_bytes(local))


class Poisoned(MovingFashionDataset):
    """Decoding one video kills the worker process (a decoder segfault, an out-of-memory kill)."""

    victim = ""

    def _check_video(self, rec, video, *args):
        if video.rel_path == self.victim:
            os._exit(1)
        return super()._check_video(rec, video, *args)


def test_a_video_that_kills_its_worker_is_listed_and_the_others_are_cached(
    ray_session, gt_dataset, local_crop_cache, tmp_path
):
    from movingfashion.executors.ray_backend import RayExecutor

    local, counts, _ = local_crop_cache
    ds = Poisoned(gt_dataset, "train", crop="tracklet", crop_size=64, on_bad="skip", shop_size=None)
    ds.victim = victim = ds.products[0].videos[0].rel_path
    with RayExecutor(workers=1, max_retries=0) as ex:  # its one worker dies: a new one goes on
        got = build_crop_cache(ds, tmp_path / "ray", pool=4, executor=ex)
    assert got == {"built": counts["built"] - 1, "already_cached": 0, "failed": 1}
    assert [(pid, why.split(":")[0]) for pid, why in ds.skipped] == [
        (ds.products[0].product_id, f"video {victim}")
    ]
    assert "worker died" in ds.skipped[0][1]
    stem = entry_stem(victim)
    assert tree_bytes(tmp_path / "ray") == {
        k: v for k, v in tree_bytes(local).items() if not k.startswith(stem + ".")
    }


def test_a_bad_video_is_named_on_ray_as_locally(ray_session, gt_dataset, tmp_path, monkeypatch):
    """A Ray worker reads the dataset's relative paths from the driver's folder; its error named
    the video by that absolute path, the local run by the path as given."""
    import shutil

    shutil.copytree(gt_dataset, tmp_path / "ds")
    monkeypatch.chdir(tmp_path)
    kw = dict(crop="tracklet", crop_size=64, on_bad="skip", shop_size=None)
    local = MovingFashionDataset("ds", "train", **kw)
    bad = local.products[0].videos[0]
    (tmp_path / "ds" / bad.rel_path).write_bytes(os.urandom(3000))
    local = MovingFashionDataset("ds", "train", **kw)
    build_crop_cache(local, tmp_path / "local", pool=4)
    on_ray = MovingFashionDataset("ds", "train", **kw)
    with make_executor("ray", workers=2) as ex:
        build_crop_cache(on_ray, tmp_path / "ray", pool=4, executor=ex)
    # the decoders' own words differ (a worker keeps no FFmpeg log); the video is named alike
    (pid, why), (ray_pid, ray_why) = local.skipped[0], on_ray.skipped[0]
    head = f"video {bad.rel_path}: ds/{bad.rel_path}: unreadable video"
    assert (ray_pid, len(on_ray.skipped)) == (pid, len(local.skipped))
    assert why.startswith(head) and ray_why.startswith(head), (why, ray_why)


class Unshared(MovingFashionDataset):
    """The dataset's folder is not mounted on the workers' node: every video is missing there
    (``driver``: the process that has it)."""

    driver = 0

    def _check_video(self, rec, video, *args):
        if os.getpid() != self.driver:
            raise FileNotFoundError(2, "No such file or directory", str(video.path))
        return super()._check_video(rec, video, *args)


def test_a_dataset_a_node_does_not_see_stops_the_cache_naming_the_path_and_the_node(
    ray_session, gt_dataset, tmp_path
):
    import pytest

    from schemas.errors import ConfigError

    ds = Unshared(gt_dataset, "train", crop="tracklet", crop_size=64, on_bad="skip", shop_size=None)
    ds.driver = os.getpid()
    ip = ray_session.util.get_node_ip_address()
    with make_executor("ray", workers=1) as ex, pytest.raises(ConfigError) as exc:
        build_crop_cache(ds, tmp_path / "ray", pool=4, executor=ex)
    text = str(exc.value)
    assert f"a worker of the executor on node {ip} (" in text, text
    assert any(f"cannot see {v.path}, which is here" in text for r in ds.products for v in r.videos), text
    assert "shared by every node at the same path" in text


class TwoBad(MovingFashionDataset):
    """Two videos do not decode; the first of them says so only once the second has (the file
    ``said`` exists), or after 60 s (a worker given both, the first first): as a long video
    would, on another worker."""

    bad: tuple[str, ...] = ()
    said: str = ""

    def _check_video(self, rec, video, *args):
        if video.rel_path in self.bad:
            if video.rel_path == self.bad[0]:
                import time

                deadline = time.monotonic() + 60
                while not os.path.exists(self.said) and time.monotonic() < deadline:
                    time.sleep(0.05)
            else:
                open(self.said, "w").close()
            from schemas.errors import MediaError

            raise MediaError("cannot decode", where=video.rel_path)
        return super()._check_video(rec, video, *args)


def test_skips_are_listed_in_the_videos_order_whichever_worker_finished_first(
    ray_session, gt_dataset, tmp_path
):
    """``mf crop-cache``'s ``skipped`` (its --json, its text) as a local run lists them, not in
    the order the workers happened to finish."""
    ds = TwoBad(gt_dataset, "train", crop="tracklet", crop_size=64, on_bad="skip", shop_size=None)
    slow, quick = ds.products[0], ds.products[1]
    ds.bad = (slow.videos[0].rel_path, quick.videos[0].rel_path)
    ds.said = str(tmp_path / "quick-failed")
    before = list(ds.skipped)
    with make_executor("ray", workers=2) as ex:
        got = build_crop_cache(ds, tmp_path / "ray", pool=4, executor=ex)
    assert got["failed"] == 2
    listed = [(pid, why.split(":")[0]) for pid, why in ds.skipped[len(before) :]]
    assert listed == [
        (slow.product_id, f"video {slow.videos[0].rel_path}"),
        (quick.product_id, f"video {quick.videos[0].rel_path}"),
    ]
