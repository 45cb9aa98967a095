"""Probe: decodes, counts frames, and rejects bad media with the reason."""

from __future__ import annotations

import subprocess

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from cleaning.config import CleaningConfig, ProbeConfig
from cleaning.probe import probe_image, probe_video
from cleaning.steps.registry import load_cleaning_config
from schemas.errors import ConfigError
from tests.cleaning.media_helpers import scene, write_mp4


def run_ffmpeg(*args: str) -> None:
    """Run the ffmpeg of imageio-ffmpeg quietly; fail the test on an error."""
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", *args], check=True)


@pytest.fixture(scope="module")
def good_mp4(tmp_path_factory):
    return write_mp4(tmp_path_factory.mktemp("probe") / "good.mp4", scene(1, 45, 160, 120))


def test_good_video_probe_matches_what_was_encoded(good_mp4):
    res = probe_video(good_mp4)
    assert res.ok and res.reason is None
    p = res.probe
    assert (p.frames, p.width, p.height) == (45, 160, 120)
    assert p.fps == pytest.approx(30.0)
    assert p.duration_s == pytest.approx(1.5)
    assert p.codec == "h264"


def test_truncated_video_is_rejected(good_mp4, tmp_path):
    # moov atom in front (faststart), then cut the media data: the container declares every
    # frame but the last ones cannot be decoded
    fs = write_mp4(tmp_path / "fs.mp4", scene(1, 45, 160, 120), extra=["-movflags", "+faststart"])
    data = fs.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    res = probe_video(cut)
    assert not res.ok and res.reason.startswith("truncated"), res.reason
    # moov atom at the end: a cut file does not even open
    cut2 = tmp_path / "cut2.mp4"
    raw = good_mp4.read_bytes()
    cut2.write_bytes(raw[: len(raw) // 2])
    res2 = probe_video(cut2)
    assert not res2.ok and res2.reason.startswith("corrupt")


def test_an_edit_list_clip_hiding_many_frames_is_valid(good_mp4, tmp_path):
    """A stream-copied cut at a non-key frame hides the frames before the cut point (an edit
    list), here more than the 10% tolerance: every frame's data is in the file, so it is valid,
    as the collector and ``mf verify`` decide, and the frames it shows are counted."""
    from movingfashion.media.probe import probe_video as media_probe

    src = write_mp4(tmp_path / "src.mp4", scene(2, 90, 160, 120), extra=["-bf", "2", "-g", "60"])
    clip = tmp_path / "clip.mp4"
    run_ffmpeg("-ss", "1.5", "-i", str(src), "-t", "1", "-c", "copy", str(clip))
    info = media_probe(clip, count_decodable=True)
    assert info.decodable < info.frames * 0.9  # the case this test is about
    res = probe_video(clip)
    assert res.ok, res.reason
    assert res.probe.frames == info.decodable


@pytest.mark.parametrize("ext, codec", [("webm", "libvpx-vp9"), ("mkv", "libx264")])
def test_a_matroska_or_webm_cut_short_is_truncated(tmp_path, ext, codec):
    """No frame count in the header: the video track's declared duration tells the cut."""
    whole = tmp_path / f"whole.{ext}"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=3", "-c:v", codec, str(whole))
    assert probe_video(whole).probe.frames == 75
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 6 // 10])
    res = probe_video(cut)
    assert not res.ok and res.reason.startswith("truncated") and "of 75 declared" in res.reason, res.reason


@pytest.mark.parametrize("content", [b"", b"not a video at all" * 50])
def test_corrupt_or_empty_file_is_rejected(tmp_path, content):
    f = tmp_path / "bad.mp4"
    f.write_bytes(content)
    res = probe_video(f)
    assert not res.ok and res.reason.startswith("corrupt")


def test_missing_file_is_rejected(tmp_path):
    res = probe_video(tmp_path / "nope.mp4")
    assert not res.ok and res.reason.startswith("missing")


def test_too_short_and_too_small_use_config_thresholds(tmp_path):
    short = write_mp4(tmp_path / "short.mp4", scene(2, 6, 160, 120))
    res = probe_video(short)
    assert not res.ok and res.reason.startswith("too_short") and res.probe.frames == 6
    assert probe_video(short, ProbeConfig(min_frames=5, min_duration_s=0.1)).ok
    small = write_mp4(tmp_path / "small.mp4", scene(2, 30, 48, 40))
    res = probe_video(small)
    assert not res.ok and res.reason.startswith("too_small")
    assert probe_video(small, ProbeConfig(min_video_side=32)).ok


def test_too_long_and_too_large_use_config_thresholds(good_mp4):
    """The upper limits (probe.max_frames, max_duration_s, max_video_pixels): a video past one
    is rejected naming the measure and the key to raise; the defaults pass a short clip."""
    assert probe_video(good_mp4).ok  # 45 frames, 1.5 s, 160x120
    res = probe_video(good_mp4, ProbeConfig(max_frames=44))
    assert not res.ok and res.reason == "too_long: 45 frames > 44 (probe.max_frames)"
    res = probe_video(good_mp4, ProbeConfig(max_duration_s=1.0))
    assert not res.ok and res.reason == "too_long: 1.5 s > 1 s (probe.max_duration_s)"
    res = probe_video(good_mp4, ProbeConfig(max_video_pixels=160 * 120 - 1))
    assert not res.ok and res.reason.startswith("too_large: 160x120 = 19200 pixels > 19199")
    assert res.probe.frames == 45  # the probe is kept with the rejection
    assert probe_video(good_mp4, ProbeConfig(max_frames=45, max_duration_s=1.5, max_video_pixels=19200)).ok


def test_images_probe_and_reject(tmp_path):
    good = tmp_path / "a.jpg"
    cv2.imwrite(str(good), np.full((80, 60, 3), 128, np.uint8))
    res = probe_image(good)
    assert res.ok and (res.probe.width, res.probe.height) == (60, 80)
    tiny = tmp_path / "t.png"
    cv2.imwrite(str(tiny), np.zeros((10, 10, 3), np.uint8))
    assert probe_image(tiny).reason.startswith("too_small")
    bad = tmp_path / "b.jpg"
    bad.write_bytes(b"\xff\xd8garbage")
    assert probe_image(bad).reason.startswith("corrupt")


def test_config_yaml_override_and_errors(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("probe:\n  min_frames: 3\ndedup:\n  frame_distance: 9\n")
    cfg = load_cleaning_config(cfg_file)
    assert cfg.probe.min_frames == 3 and cfg.dedup.frame_distance == 9
    assert cfg.probe.min_video_side == CleaningConfig().probe.min_video_side
    cfg_file.write_text("probe:\n  min_frames: -1\n")
    with pytest.raises(ConfigError, match="min_frames"):
        load_cleaning_config(cfg_file)
    cfg_file.write_text("probe:\n  no_such_knob: 1\n")
    with pytest.raises(ConfigError, match="no_such_knob"):
        load_cleaning_config(cfg_file)


def test_zero_frame_video_is_rejected(tmp_path):
    import subprocess

    import imageio_ffmpeg

    out = tmp_path / "zero.mp4"
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-y",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=c=red:s=160x120:r=30",
            "-frames:v",
            "0",
            "-c:v",
            "libx264",
            str(out),
        ],
        check=True,
    )
    res = probe_video(out)
    assert not res.ok and res.reason.split(":")[0] in ("zero_frames", "corrupt")


@pytest.mark.parametrize("probe", [probe_video, probe_image])
def test_a_folder_given_as_media_is_named_a_folder_not_missing(tmp_path, probe):
    folder = tmp_path / "clip.mp4"
    folder.mkdir()
    res = probe(folder)
    assert not res.ok
    assert res.reason.startswith("not_a_file:"), res.reason
    assert str(folder) in res.reason and "is a folder" in res.reason and "file inside it" in res.reason
