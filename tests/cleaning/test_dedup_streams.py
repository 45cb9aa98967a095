"""One video stream in two files is an exact duplicate: a remux into another container, or the
same file with a rotation tag (a phone re-post), whose bytes and displayed frames differ
(audit_real R3: the rotated copy went to test, its original to train)."""

from __future__ import annotations

import subprocess

import cv2
import imageio_ffmpeg

from collectors.api import collect
from movingfashion.media.probe import probe_video, video_stream_digest
from schemas.catalog import Catalog
from tests.cleaning.media_helpers import scene, still_image, write_mp4


def _copy(src, dst, *before_input: str) -> None:
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", *before_input, "-i", str(src)]
    subprocess.run([*cmd, "-c", "copy", str(dst)], check=True, timeout=120)


def test_a_remux_and_a_rotation_tagged_copy_are_exact_duplicates(tmp_path):
    from cleaning.pipeline import clean

    home = tmp_path / "mine"
    original = write_mp4(home / "look.mp4", scene(7, n=40, w=160, h=96))
    _copy(original, home / "look-remux.mkv")
    _copy(original, home / "look-phone.mp4", "-display_rotation", "90")
    write_mp4(home / "other.mp4", scene(8, n=40, w=160, h=96))
    for name, seed in (("look", 1), ("look-remux", 1), ("look-phone", 1), ("other", 2)):
        cv2.imwrite(str(home / f"{name}.jpg"), still_image(seed, 120, 160))
    assert probe_video(home / "look-phone.mp4").width == 96  # displayed upright: another picture
    digests = {p.name: video_stream_digest(p) for p in sorted(home.iterdir()) if p.suffix != ".jpg"}
    assert (
        digests["look.mp4"] == digests["look-remux.mkv"] == digests["look-phone.mp4"] != digests["other.mp4"]
    )
    assert len({p.read_bytes() for p in (original, home / "look-remux.mkv", home / "look-phone.mp4")}) == 3
    (home / "manifest.csv").write_text(
        "video,shop_image,class\n"
        + "".join(
            f"{n},{n.rsplit('.', 1)[0]}.jpg,trousers\n"
            for n in ("look.mp4", "look-remux.mkv", "look-phone.mp4")
        )
        + "other.mp4,other.jpg,skirt\n"
    )
    root = tmp_path / "data"
    assert collect("local", [str(home / "manifest.csv")], root=root, catalog=root / "catalog.sqlite").ok == 4
    with Catalog(root / "catalog.sqlite") as cat:
        report = clean(cat, root)
        rows = {r.item.source_id: r for r in cat.items()}
    assert report["duplicate_videos"].get("exact") == 2, report["duplicate_videos"]
    three = ("look", "look-remux", "look-phone")
    kept = [k for k in three if rows[k].status == "accepted"]
    assert len(kept) == 1 and rows["other"].status == "accepted", {
        k: (r.status, r.reason) for k, r in rows.items()
    }
    for copy in set(three) - set(kept):
        assert (rows[copy].status, rows[copy].duplicate_of) == ("duplicate", f"local/{kept[0]}"), rows[copy]
