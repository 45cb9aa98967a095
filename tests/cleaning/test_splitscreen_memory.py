"""Split-screen detection: the temporal std is accumulated frame by frame, same numbers as before."""

from __future__ import annotations

import subprocess
import tracemalloc
from pathlib import Path

import numpy as np

from cleaning.config import SplitScreenConfig
from cleaning.splitscreen import detect_split_screen, detect_split_screen_file, temporal_std
from movingfashion.media.ffmpeg import ffmpeg_exe
from movingfashion.media.readers import default_cache


def test_temporal_std_is_bit_identical_to_the_stacked_float_std() -> None:
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, (16, 37, 53, 3), dtype=np.uint8)
    want = frames.astype(np.float32).mean(axis=3).std(axis=0)
    assert np.array_equal(temporal_std(frames), want)
    assert np.array_equal(temporal_std(list(frames)), want)


def test_a_list_of_frames_gives_the_same_result_as_the_stack() -> None:
    rng = np.random.default_rng(5)
    frames = np.zeros((8, 40, 60, 3), np.uint8)
    frames[:, :, :30] = rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)  # a still, detailed half
    frames[:, :, 30:] = rng.integers(0, 256, (8, 40, 30, 3), dtype=np.uint8)  # a moving half
    a, b = detect_split_screen(frames), detect_split_screen(list(frames))
    assert a is not None and b is not None
    assert (a.still_half, a.still_box, a.still_std, a.moving_std) == (
        b.still_half, b.still_box, b.still_std, b.moving_std)  # fmt: skip
    assert np.array_equal(a.still_image, b.still_image)


def test_detection_on_a_1080p_clip_holds_no_float_copy_of_the_samples(tmp_path: Path) -> None:
    path = tmp_path / "hd.mp4"
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "testsrc2=size=1920x1080:rate=30", "-frames:v", "16", "-c:v", "libx264", "-preset", "ultrafast",
         "-bf", "2", "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    cfg = SplitScreenConfig(sample_frames=16)
    full_frame = 1920 * 1080 * 3
    default_cache().get(path)
    tracemalloc.start()
    try:
        detect_split_screen_file(path, 16, cfg)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        default_cache().clear()
    # the 16 decoded samples and a few frame-sized float planes; before: a float32 copy of all 16
    assert peak < 24 * full_frame, f"peak {peak / full_frame:.1f} frames"
