"""A video whose body was cut short in a way the transfer cannot tell (no Content-Length, or a
wrong one) is never recorded as done: the content check sees the missing frames, the asset and
item fail ``truncated_body`` (retried), and a rerun fetches it again."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from collectors.api import collect
from collectors.checks import probe_image, probe_video
from collectors.config import load_collect_config
from movingfashion.media.ffmpeg import ffmpeg_exe
from schemas.catalog import Catalog
from schemas.errors import FetchError
from tests.collectors.conftest import info
from tests.collectors.fakesite import FakeSite, Route, jpeg_bytes, loopback_http

FAST_HTTP = loopback_http()


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", *args], check=True)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    """A faststart H.264 video (its header first, as web video is served; B-frames) and a clip
    cut from it by stream copy at a non-key frame (an edit list: the decoder drops the frames
    before the cut point, so fewer frames decode than the header declares, all of them there)."""
    tmp = tmp_path_factory.mktemp("trunc")
    whole, clip = tmp / "whole.mp4", tmp / "clip.mp4"
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=3",
        "-c:v", "libx264", "-bf", "2", "-g", "50", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(whole),
    )  # fmt: skip
    _ffmpeg("-ss", "1.3", "-i", str(whole), "-t", "1", "-c", "copy", str(clip))
    return {"whole": whole, "clip": clip}


def _cut(src: Path, dst: Path, keep: int) -> Path:
    dst.write_bytes(src.read_bytes()[:keep])
    return dst


def test_probe_refuses_a_video_cut_short_as_truncated_body_retried(videos, tmp_path):
    whole = videos["whole"]
    assert probe_video(whole).frames == 75
    size = whole.stat().st_size
    for keep in (size // 2, size - 1):
        with pytest.raises(FetchError) as ei:
            probe_video(_cut(whole, tmp_path / f"cut{keep}.mp4", keep))
        assert ei.value.reason == "truncated_body" and ei.value.retryable, keep
        assert "of the 75 frames" in ei.value.message


def test_probe_keeps_a_whole_video_whose_decoder_drops_frames(videos):
    """An edit list (a stream-copied cut): fewer frames decode than declared, but every frame's
    data is in the file: not truncated (fetching it again would give the same file)."""
    from movingfashion.media.probe import probe_video as media_probe

    info_ = media_probe(videos["clip"], count_decodable=True)
    assert info_.decodable < info_.frames  # the case this test is about
    assert probe_video(videos["clip"]).frames == info_.frames


@pytest.mark.parametrize("ext, codec", [("webm", "libvpx-vp9"), ("mkv", "libx264")])
def test_probe_refuses_a_matroska_or_webm_cut_short(tmp_path, ext, codec):
    """Matroska and WebM headers hold no frame count: the duration they declare for the video
    track tells a download cut short (the audio track, longer here, is not taken for it)."""
    whole = tmp_path / f"whole.{ext}"
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=3", "-f", "lavfi", "-i", "sine=duration=4",
        "-c:v", codec, "-b:v", "300k", "-c:a", "libopus", str(whole),
    )  # fmt: skip
    assert probe_video(whole).frames == 75
    for keep in (whole.stat().st_size * 6 // 10,):
        with pytest.raises(FetchError) as ei:
            probe_video(_cut(whole, tmp_path / f"cut.{ext}", keep))
        assert ei.value.reason == "truncated_body" and ei.value.retryable
        assert "of the 75 frames" in ei.value.message


def test_probe_still_refuses_a_file_with_no_frame(tmp_path):
    bad = tmp_path / "x.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    with pytest.raises(FetchError) as ei:
        probe_video(bad)
    assert ei.value.reason == "not_a_video"


def _nap_site(site: FakeSite, pid: str, video: bytes, **video_route) -> None:
    page = {"@context": "https://schema.org", "@type": "Product", "name": "Silk dress", "sku": pid}
    site.routes[f"/en-us/shop/product/{pid}"] = Route(
        f"<html><head><script type='application/ld+json'>{json.dumps(page)}</script></head></html>".encode(),
        content_type="text/html",
    )
    site.routes[f"/videos/productPage/{pid}_detail.mp4"] = Route(
        video, content_type="video/mp4", **video_route
    )
    for n, view in enumerate(("fr", "in", "bk", "cu")):
        site.routes[f"/images/products/{pid}/{pid}_{view}_l.jpg"] = Route(
            jpeg_bytes(n), content_type="image/jpeg"
        )


@pytest.mark.parametrize("declare_length", [False, True], ids=["close-delimited", "wrong-length"])
def test_a_video_cut_short_is_failed_then_fetched_whole_by_the_rerun(videos, tmp_path, declare_length):
    body = videos["whole"].read_bytes()
    out, cat_path = tmp_path / "out", tmp_path / "c.sqlite"
    with FakeSite() as site:
        if declare_length:  # a CDN edge declaring the (short) length it sends: the transfer looks whole
            _nap_site(site, "1234567", body[: len(body) // 2])
        else:  # no Content-Length, the connection closed half way; HEAD is hit 1, the GET 2
            _nap_site(site, "1234567", body, declare_length=False, truncate_first=2)
        cfg = load_collect_config(base_url=site.base).model_copy(update={"http": FAST_HTTP})
        s = collect("netaporter", ["1234567"], root=out, catalog=cat_path, cfg=cfg, workers=1)
        assert (s.ok, s.failed) == (0, 1) and s.reasons == {"truncated_body": 1}, s.human()
        with Catalog(cat_path) as cat:
            assert cat.get_item("netaporter", "1234567").status == "failed"
            (video,) = cat.assets(source="netaporter", source_id="1234567", kind="video")
            assert (video.status, video.reason, video.path) == ("failed", "truncated_body", None)
        assert not list((out / "netaporter/1234567").glob("*video*"))  # nothing half is kept
        site.routes["/videos/productPage/1234567_detail.mp4"] = Route(body, content_type="video/mp4")
        s2 = collect("netaporter", ["1234567"], root=out, catalog=cat_path, cfg=cfg, workers=1)
        assert s2.ok == 1, s2.human()
    with Catalog(cat_path) as cat:
        (video,) = cat.assets(source="netaporter", source_id="1234567", kind="video")
        assert video.status == "downloaded" and video.sha256 == hashlib.sha256(body).hexdigest()
        assert cat.get_item("netaporter", "1234567").status == "downloaded"


def test_a_ytdl_download_cut_short_is_failed_not_done(videos, tmp_path):
    """yt-dlp's own downloads are checked the same way when they are put into the layout."""
    body = videos["whole"].read_bytes()
    out, cat_path = tmp_path / "out", tmp_path / "c.sqlite"
    with FakeSite() as site:
        site.routes["/tt/7001.mp4"] = Route(
            body, content_type="video/mp4", declare_length=False, truncate_first=9
        )
        infos = tmp_path / "infos"
        infos.mkdir()
        (infos / "7001.info.json").write_text(json.dumps(info("7001", site.url("/tt/7001.mp4"))))
        cfg = load_collect_config(base_url=site.base).model_copy(update={"http": FAST_HTTP})
        s = collect("tiktok", [str(infos)], root=out, catalog=cat_path, cfg=cfg, workers=1)
        assert (s.ok, s.failed) == (0, 1) and s.reasons == {"truncated_body": 1}, s.human()
        assert not list((out / "tiktok/7001").glob("video*"))
        site.routes["/tt/7001.mp4"] = Route(body, content_type="video/mp4")
        s2 = collect("tiktok", [str(infos)], root=out, catalog=cat_path, cfg=cfg, workers=1)
        assert s2.ok == 1, s2.human()
    assert (out / "tiktok/7001/video.mp4").read_bytes() == body


def test_an_image_cut_short_is_failed_retried_not_rejected(videos, tmp_path):
    """A shop view cut with a Content-Length that says so (the transfer looks whole) was
    rejected ``not_an_image`` for good (a rerun skipped it); a JPEG or PNG missing its end is
    ``truncated_body``, retried, as a cut video is, and the rerun fetches it whole."""
    out, cat_path = tmp_path / "out", tmp_path / "c.sqlite"
    shop = "/images/products/1234567/1234567_fr_l.jpg"
    with FakeSite() as site:
        _nap_site(site, "1234567", videos["whole"].read_bytes())
        whole = site.routes[shop].body
        site.routes[shop] = Route(whole[: len(whole) * 2 // 3], content_type="image/jpeg")
        cfg = load_collect_config(base_url=site.base).model_copy(update={"http": FAST_HTTP})
        s = collect("netaporter", ["1234567"], root=out, catalog=cat_path, cfg=cfg, workers=1)
        assert (s.ok, s.failed) == (0, 1) and s.reasons == {"truncated_body": 1}, s.human()
        with Catalog(cat_path) as cat:
            (asset,) = cat.assets(source="netaporter", source_id="1234567", kind="shop")
            assert (asset.status, asset.reason) == ("failed", "truncated_body")
        site.routes[shop] = Route(whole, content_type="image/jpeg")
        s2 = collect("netaporter", ["1234567"], root=out, catalog=cat_path, cfg=cfg, workers=1)
        assert s2.ok == 1, s2.human()
    with Catalog(cat_path) as cat:
        (asset,) = cat.assets(source="netaporter", source_id="1234567", kind="shop")
        assert asset.status == "downloaded" and asset.sha256 == hashlib.sha256(whole).hexdigest()
    png = tmp_path / "cut.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(FetchError) as ei:
        probe_image(png)
    assert ei.value.reason == "truncated_body" and ei.value.retryable
    png.write_bytes(b"GIF87a? no: plain bytes")  # no image at all: still rejected for good
    with pytest.raises(FetchError) as ei:
        probe_image(png)
    assert ei.value.reason == "not_an_image"
    png.write_bytes(b"<html>blocked</html>")  # a web page (a bot wall): retried, whatever its type said
    with pytest.raises(FetchError) as ei:
        probe_image(png)
    assert ei.value.reason == "html_instead_of_media" and ei.value.retryable
