"""The builder's batch access: every registry backend behind VideoSource, prefetching, key frames."""

from __future__ import annotations

import numpy as np
import pytest

from movingfashion.media.video_source import VideoSource, frame_indices, prefetch_batches
from schemas.errors import MediaError


@pytest.fixture(scope="module")
def video(gt_dataset):
    return sorted((gt_dataset / "videos").glob("*.mp4"))[0]


@pytest.mark.parametrize("backend", ["decord", "opencv", "pyav", "torchcodec"])
def test_every_backend_agrees_with_auto(video, backend):
    a, b = VideoSource(video), VideoSource(video, backend=backend)
    assert b.backend == backend and a.backend in ("torchcodec", "pyav")
    assert (a.frames, a.width, a.height) == (b.frames, b.width, b.height)
    assert a.fps == pytest.approx(b.fps, rel=0.02)
    idx = [0, 5, 6, 30]
    fa, fb = a.get_batch(idx), b.get_batch(idx)
    assert fa.shape == (4, a.height, a.width, 3) and fa.dtype == np.uint8
    assert np.abs(fa.astype(int) - fb.astype(int)).mean() < 3  # same frames, decoder rounding aside


def test_unknown_backend_and_missing_file_are_clear_errors(video, tmp_path):
    with pytest.raises(MediaError, match="unknown video backend 'cv2'"):
        VideoSource(video, backend="cv2")
    with pytest.raises(MediaError, match="video file not found"):
        VideoSource(tmp_path / "gone.mp4")


def test_prefetch_yields_every_batch_in_order(video):
    src = VideoSource(video)
    idx = frame_indices(src.frames, 3)
    got = list(prefetch_batches(src, idx, 4))
    assert [i for chunk, _ in got for i in chunk] == idx
    np.testing.assert_array_equal(got[1][1], src.get_batch(idx[4:8]))


def test_prefetch_ramps_its_first_batches_up(video):
    """``first``: small batches first (detection starts while decoding goes on), doubling up to
    ``batch``; the same frames in the same order as without."""
    src = VideoSource(video)
    idx = frame_indices(src.frames, 2)
    got = list(prefetch_batches(src, idx, 8, first=2))
    assert [len(c) for c, _ in got][:3] == [2, 4, 8] and all(len(c) <= 8 for c, _ in got)
    assert [i for chunk, _ in got for i in chunk] == idx
    plain = np.concatenate([f for _, f in prefetch_batches(src, idx, 8)])
    np.testing.assert_array_equal(np.concatenate([f for _, f in got]), plain)


def test_prefetch_reraises_decode_errors(video):
    src = VideoSource(video)
    with pytest.raises(MediaError):
        list(prefetch_batches(src, [0, 1, src.frames + 50], 2))


def test_frame_indices_stride_and_keyframes(video):
    assert frame_indices(10, 4) == [0, 4, 8]
    assert frame_indices(10, 1, key_indices=[0, 30, 5]) == [0, 5]
    # with last=True the first and last frame are always in (a stride may never reach the last)
    assert frame_indices(10, 4, last=True) == [0, 4, 8, 9] and frame_indices(9, 4, last=True) == [0, 4, 8]
    assert (
        frame_indices(10, 1, key_indices=[5], last=True) == [0, 5, 9] and frame_indices(0, 2, last=True) == []
    )
    keys = VideoSource(video).key_indices()
    assert keys and keys[0] == 0 and len(keys) < VideoSource(video).frames


@pytest.mark.parametrize("backend", ["auto", "decord", "opencv", "pyav", "torchcodec"])
def test_frames_as_a_list_are_the_batchs_bytes(video, backend):
    """``get_frames`` (what the builder decodes into: one array per frame, no fresh batch per
    call) gives ``get_batch``'s frames byte for byte, in the order asked, repeats and all; so does
    ``prefetch_batches(as_list=True)``; every backend, torchcodec's own frame-by-frame path too."""
    src = VideoSource(video, backend=backend)
    idx = [7, 0, 5, 5, 30, src.frames - 1]
    got = src.get_frames(idx)
    want = src.get_batch(idx)
    assert isinstance(got, list) and len(got) == len(idx)
    assert all(f.shape == (src.height, src.width, 3) and f.dtype == np.uint8 for f in got)
    np.testing.assert_array_equal(np.stack(got), want)
    seq = frame_indices(src.frames, 2)
    listed = list(prefetch_batches(src, seq, 8, first=2, as_list=True))
    assert all(isinstance(f, list) for _, f in listed)
    assert [i for chunk, _ in listed for i in chunk] == seq
    np.testing.assert_array_equal(
        np.stack([x for _, f in listed for x in f]),
        np.concatenate([f for _, f in prefetch_batches(src, seq, 8)]),
    )
    src.close()


@pytest.fixture(scope="module")
def bframe_clip(tmp_path_factory):
    """176x144, 60 frames, B-frames and one key frame: where torchcodec's own batch call is slow."""
    import subprocess

    from movingfashion.media.ffmpeg import ffmpeg_exe

    path = tmp_path_factory.mktemp("bframes") / "one_key.mp4"
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "testsrc2=size=176x144:rate=30", "-frames:v", "60", "-c:v", "libx264", "-preset", "ultrafast",
         "-bf", "3", "-g", "600", "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    return path


def test_torchcodec_frames_one_at_a_time_are_its_batch(video, bframe_clip):
    """torchcodec's ``get`` and ``get_list`` decode frame by frame: the bytes of torchcodec's own
    batch call (``get_frames_at``) and of PyAV, in the order asked, repeats and all, on a clip
    with B-frames and one key frame too."""
    from movingfashion.media.readers import PyAVReader, TorchCodecReader, torchcodec_problem

    if torchcodec_problem() is not None:
        pytest.skip(f"torchcodec cannot run here: {torchcodec_problem()}")
    for path in (video, bframe_clip):
        r, ref = TorchCodecReader(str(path), device="cpu"), PyAVReader(str(path))
        idx = [9, 2, 2, 0, len(r) - 1, 31, 30]
        want = r._dec.get_frames_at(idx).data.numpy()
        np.testing.assert_array_equal(r.get(idx), want)
        np.testing.assert_array_equal(ref.get(idx), want)
        np.testing.assert_array_equal(np.stack(r.get_list(idx)), want)
        np.testing.assert_array_equal(np.stack(r.get_list(idx, each=lambda f: f[::2])), want[:, ::2])
        assert r.get([]).shape == (0, *r.size, 3)
        r.close()
        ref.close()
