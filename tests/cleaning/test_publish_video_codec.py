"""`mf publish` writes `videos/*.mp4` as H.264 MP4: an H.264 MP4/MOV collected file is copied
byte for byte, any other container or codec (a VP9 WebM, HEVC) is re-encoded."""

from __future__ import annotations

import json
import shutil
import subprocess

import av
import pytest

from cleaning.probe import probe_video
from cleaning.publish import STATE_FILE, publish
from cleaning.publish import publisher as publisher_mod
from cleaning.publish.recipes import _video_recipe
from schemas import activity
from schemas.atomic import sha256_file
from schemas.catalog import Catalog
from schemas.errors import LocalFault
from schemas.items import AssetKind, Crop, MediaAsset, Status, VideoProbe


def _asset(
    path: str, codec: str | None, crop: Crop | None = None, pix_fmt: str | None = "yuv420p"
) -> MediaAsset:
    probe = VideoProbe(frames=30, fps=30.0, width=64, height=48, duration_s=1.0, codec=codec, pix_fmt=pix_fmt)
    return MediaAsset(source="tiktok", source_id="1", kind=AssetKind.VIDEO, path=path, probe=probe, crop=crop)


@pytest.mark.parametrize(
    ("path", "codec", "recipe"),
    [
        ("a/video.mp4", "h264", "copy"),
        ("a/video.MOV", "h264", "copy"),
        ("a/video.mp4", None, "copy"),  # no codec recorded (a record made by hand)
        ("a/video.webm", "vp9", "h264"),
        ("a/video.mkv", "h264", "h264"),
        ("a/video.ts", "h264", "h264"),
        ("a/video.mp4", "hevc", "h264"),
        ("a/video.mp4", "av1", "h264"),
    ],
)
def test_video_recipe_copies_only_h264_mp4(path, codec, recipe):
    assert _video_recipe(_asset(path, codec)) == recipe


@pytest.mark.parametrize(
    ("pix_fmt", "recipe"),
    [
        ("yuv420p", "copy"),
        ("yuvj420p", "copy"),  # full range: browsers play it
        (None, "copy"),  # not recorded (a record made by hand)
        ("yuv420p10le", "h264"),  # High 10: browsers do not play it
        ("yuv444p", "h264"),  # High 4:4:4 Predictive: nor this
        ("yuv422p", "h264"),
    ],
)
def test_only_8_bit_420_h264_is_copied(pix_fmt, recipe):
    assert _video_recipe(_asset("a/video.mp4", "h264", pix_fmt=pix_fmt)) == recipe


def test_the_probe_records_the_pixel_format_and_older_probes_are_redone(tmp_path):
    """A 10-bit H.264 MP4 is probed as yuv420p10le, so publish re-encodes it; a cached probe
    from before pixel formats were recorded is a miss (the file is probed again)."""
    from cleaning.config import ProbeConfig
    from cleaning.steps.probe import probe_entry_ok
    from movingfashion.media.ffmpeg import ffmpeg_exe

    path = tmp_path / "ten.mp4"
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "testsrc2=size=64x48:rate=10", "-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p10le", str(path)],
        check=True,
    )  # fmt: skip
    result = probe_video(path, ProbeConfig(min_frames=1, min_duration_s=0.0, min_video_side=1))
    assert result.ok and result.probe.pix_fmt == "yuv420p10le" and result.probe.codec == "h264"
    asset = MediaAsset(
        source="tiktok", source_id="1", kind=AssetKind.VIDEO, path="a/ten.mp4", probe=result.probe
    )
    assert _video_recipe(asset) == "h264"
    entry = {"ok": True, "reason": None, "probe": result.probe.model_dump()}
    assert probe_entry_ok(entry, video=True)
    del entry["probe"]["pix_fmt"]
    assert not probe_entry_ok(entry, video=True)


def test_a_cropped_video_keeps_its_crop_recipe():
    crop = Crop(box=[0, 0, 32, 48])
    assert _video_recipe(_asset("a/video.webm", "vp9", crop)) == "crop:0,0,32,48"


def test_the_worlds_videos_are_h264_mp4_and_copied(cleaned_world):
    """The synthetic world's (and so the demo's) videos are H.264 MP4: published byte for byte."""
    with Catalog(cleaned_world.catalog_path) as cat:
        videos = [a for a in cat.assets(kind=AssetKind.VIDEO) if a.status == Status.ACCEPTED]
    assert videos
    assert {a.probe.codec for a in videos} == {"h264"}
    assert {a.path.rsplit(".", 1)[-1] for a in videos} == {"mp4"}
    assert {_video_recipe(a) for a in videos if a.crop is None} == {"copy"}


def _swap_in_vp9(cat: Catalog, root) -> tuple[MediaAsset, VideoProbe]:
    """Replace one accepted video of the catalog by a VP9 WebM of it (publish re-encodes it)."""
    accepted = {(r.item.source, r.item.source_id) for r in cat.items(status=Status.ACCEPTED)}
    videos = [
        a
        for a in cat.assets(kind=AssetKind.VIDEO)
        if a.status == Status.ACCEPTED and a.crop is None and (a.source, a.source_id) in accepted
    ]
    old = videos[0]
    src = root / old.path
    webm = src.with_name(src.stem + "-vp9.webm")
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(src), "-an",
         "-c:v", "libvpx-vp9", "-b:v", "0", "-crf", "40", "-deadline", "realtime", str(webm)],
        check=True,
    )  # fmt: skip
    probe = probe_video(webm).probe
    assert probe is not None and probe.codec == "vp9"
    new = old.model_copy(
        update={
            "path": webm.relative_to(root).as_posix(),
            "sha256": sha256_file(webm),
            "size": webm.stat().st_size,
            "content_type": "video/webm",
            "probe": probe,
        }
    )
    cat.delete_assets([old])
    cat.upsert_asset(new)
    return new, probe


def test_a_vp9_webm_video_is_published_as_h264_mp4(cleaned_world, catalog_copy, tmp_path):
    root = tmp_path / "collected"
    shutil.copytree(cleaned_world.root, root)
    out = tmp_path / "dataset"
    seen: list[str] = []
    stop = activity.listen(lambda: seen.append(activity.current() or ""))
    try:
        with Catalog(catalog_copy) as cat:
            new, probe = _swap_in_vp9(cat, root)
            publish(cat, root, out)
    finally:
        stop()
    # the re-encode showed its frames inside the bar over products, then its step ended
    steps = [t for t in seen if "frames encoded" in t]
    assert steps and steps[0].startswith("0% of videos/") and f"(0/{probe.frames} frames encoded)" in steps[0]
    assert (
        steps[-1].startswith("100% of videos/")
        and f"({probe.frames}/{probe.frames} frames encoded)" in steps[-1]
    )
    assert activity.current() is None
    recs = json.loads((out / STATE_FILE).read_text())
    made = [rel for rel, rec in recs.items() if isinstance(rec, dict) and rec.get("src") == new.sha256]
    assert len(made) == 1 and made[0].endswith(".mp4")
    with av.open(str(out / made[0])) as c:
        assert "mp4" in c.format.name
        s = c.streams.video[0]
        assert s.codec_context.name == "h264"
        assert sum(1 for p in c.demux(s) if p.size) == probe.frames
    # the other videos: still copied byte for byte
    copied = [rel for rel, rec in recs.items() if isinstance(rec, dict) and rec.get("recipe") == "copy"]
    assert any(rel.startswith("videos/") for rel in copied)
    for rel in copied:
        assert sha256_file(out / rel) == recs[rel]["src"]


def test_a_reencode_the_disk_cannot_hold_fails_before_encoding(
    cleaned_world, catalog_copy, tmp_path, monkeypatch
):
    root = tmp_path / "collected"
    shutil.copytree(cleaned_world.root, root)
    out = tmp_path / "dataset"
    encoded: list[str] = []
    real_transcode = publisher_mod.transcode
    monkeypatch.setattr(
        publisher_mod, "transcode", lambda *a, **k: encoded.append(str(a[0])) or real_transcode(*a, **k)
    )
    monkeypatch.setattr(publisher_mod, "REENCODE_SPACE_MARGIN", 2**60)  # more than any disk holds
    with Catalog(catalog_copy) as cat:
        new, _ = _swap_in_vp9(cat, root)
        with pytest.raises(LocalFault) as err:
            publish(cat, root, out)
        assert err.value.reason == "disk_full" and err.value.exit_code == 1
        assert str(out / "videos") in str(err.value) and "re-encoding videos/" in str(err.value)
        assert encoded == []  # refused before ffmpeg ran
        assert not [p for p in out.rglob("*") if p.name.endswith(".part")]
        monkeypatch.setattr(publisher_mod, "REENCODE_SPACE_MARGIN", 2**20)
        publish(cat, root, out)  # once there is room, the same command publishes it
    assert str(root / new.path) in encoded  # (split-screen crops are re-encoded too)
    recs = json.loads((out / STATE_FILE).read_text())
    assert [
        rec["recipe"] for rec in recs.values() if isinstance(rec, dict) and rec.get("src") == new.sha256
    ] == ["h264"]
