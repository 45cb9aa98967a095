"""``mf verify``: a clean archive-shaped folder exits 0; each kind of break exits 1 and names the
product, the field and the fix; a folder that cannot be audited exits 2."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from movingfashion.archive.describe import write_manifest
from movingfashion.archive.verify import CHECKS, verify_dataset
from tests.mf_cli import run_mf
from tests.movingfashion.helpers import (
    edit_split,
    hard_shop_as_jpg,
    image_in_both_splits,
    legacy_source_code,
    older_shop_folder,
    product_in_both_splits,
    same_stem_in_two_folders,
    two_test_videos,
    unknown_source_code,
    video_in_both_splits,
    video_outside_videos,
)


def test_a_clean_archive_exits_0_and_every_check_ran(archive_dir, capsys):
    code, out, _ = run_mf(["verify", "--dataset", str(archive_dir)], capsys)
    assert code == 0, out
    assert "clean: every invariant holds" in out
    for name in CHECKS:
        assert name in out
    code, out, _ = run_mf(["verify", "--dataset", str(archive_dir), "--json"], capsys)
    doc = json.loads(out)
    assert code == 0 and doc["ok"] and doc["breaks"] == 0
    assert doc["products"] == {"train": 2, "test": 2} and doc["videos"] == 5 and doc["images"] == 4
    status = {c["check"]: c["status"] for c in doc["checks"]}
    # no manifest and no entries.jsonl in the archive: those two say so, every other check ran
    assert status.pop("manifest") == "skipped" and status.pop("entries") == "skipped"
    assert set(status.values()) == {"ok"}
    assert all(c["checked"] > 0 for c in doc["checks"] if c["status"] == "ok")


def _dot_path(r: Path) -> None:
    edit_split(r, "train", lambda d: d["r1"]["video_paths"].__setitem__(1, "./videos/r1_1.mp4"))


def _video_twice(r: Path) -> None:
    def fn(d: dict) -> None:
        d["r1"]["video_paths"][1] = d["r1"]["video_paths"][0]

    edit_split(r, "train", fn)


def _product_twice(r: Path) -> None:
    text = (r / "train.json").read_text()
    entry = json.dumps(json.loads(text)["h1"])
    (r / "train.json").write_text(text[:-1] + f', "h1": {entry}}}')


def _same_bytes_in_both(r: Path) -> None:
    shutil.copyfile(r / "imgs/r1.jpg", r / "imgs/r2.jpg")
    write_manifest(r)


def _missing_video(r: Path) -> None:
    (r / "videos/h2_0.mp4").unlink()


def _garbage_video(r: Path) -> None:
    (r / "videos/h1_0.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))


def _truncated_video(r: Path) -> None:
    data = (r / "videos/r1_1.mp4").read_bytes()
    (r / "videos/r1_1.mp4").write_bytes(data[: len(data) // 2])


def _garbage_image(r: Path) -> None:
    (r / "imgs/r2.jpg").write_bytes(b"<html>not an image</html>")


def _changed_after_manifest(r: Path) -> None:
    write_manifest(r)
    edit_split(r, "train", lambda d: d["r1"].update(note="edited by hand"))


def _unlisted_file(r: Path) -> None:
    write_manifest(r)
    (r / "notes.txt").write_text("added after publishing\n")


def _frame_past_the_end(r: Path) -> None:
    n = len(json.loads((r / "test.json").read_text())["h2"]["tracklets"][0])  # a box on every frame
    edit_split(r, "test", lambda d: d["h2"]["tracklets"][0].update({str(n): [10, 40, 40, 80]}))


def _box_outside(r: Path) -> None:
    edit_split(r, "train", lambda d: d["h1"]["tracklets"][0].update({"3": [10, 40, 500, 80]}))


def _box_with_a_huge_number(r: Path) -> None:
    """A 400-digit integer (was an OverflowError traceback)."""
    edit_split(r, "train", lambda d: d["h1"]["tracklets"][0].update({"3": [10, 40, 10**400, 80]}))


def _no_img_path(r: Path) -> None:
    edit_split(r, "test", lambda d: d["r2"].pop("img_path"))


def _entries_disagree(r: Path) -> None:
    rows = []
    for split in ("train", "test"):
        for pid, e in json.loads((r / f"{split}.json").read_text()).items():
            rows.append(
                {
                    "product_id": pid,
                    "split": "train" if pid == "h2" else split,  # h2 is in test.json
                    "partition": "regular" if e["source"] == 1 else "hard",
                    "video_paths": e["video_paths"],
                    "img_path": e["img_path"],
                }
            )
    (r / "entries.jsonl").write_text("".join(json.dumps(x) + "\n" for x in rows))


def _entries_product_twice(r: Path) -> None:
    """Two catalog products published under one id: two rows, one product in the split files."""
    rows = []
    for split in ("train", "test"):
        for pid, e in json.loads((r / f"{split}.json").read_text()).items():
            rows.append(
                {
                    "product_id": pid,
                    "split": split,
                    "partition": "regular" if e["source"] == 1 else "hard",
                    "video_paths": e["video_paths"],
                    "img_path": e["img_path"],
                }
            )
    rows.insert(0, {**next(x for x in rows if x["product_id"] == "h1"), "partition": "regular"})
    (r / "entries.jsonl").write_text("".join(json.dumps(x) + "\n" for x in rows))


def _truncated_tracklet_file(r: Path) -> None:
    (r / "tracklets").mkdir(exist_ok=True)
    (r / "tracklets" / "r1_0.json").write_text('{"product_id": "r1", "video": "videos/r1_0.mp4", "frames": ')


def _tracklet_file_is_a_pipe(r: Path) -> None:
    """Never read (reading waits for a writer forever): a break naming it."""
    (r / "tracklets").mkdir(exist_ok=True)
    (r / "tracklets" / "r1_0.json").unlink(missing_ok=True)
    os.mkfifo(r / "tracklets" / "r1_0.json")


def _tracklet_file_is_a_device(r: Path) -> None:
    """A link to a device (``/dev/zero`` would be read without end): never read."""
    (r / "tracklets").mkdir(exist_ok=True)
    (r / "tracklets" / "r1_0.json").unlink(missing_ok=True)
    (r / "tracklets" / "r1_0.json").symlink_to("/dev/null")


def _tracklet_file_of_another_video(r: Path) -> None:
    (r / "tracklets").mkdir(exist_ok=True)
    doc = {"product_id": "r1", "video": "videos/h1_0.mp4", "frames": 12, "width": 128, "height": 96}
    (r / "tracklets" / "r1_0.json").write_text(json.dumps({**doc, "tracklets": []}))


def _tracklet_file(r: Path, name: str, product_id: str, video: str) -> None:
    (r / "tracklets").mkdir(exist_ok=True)
    doc = {"product_id": product_id, "video": video, "frames": 12, "width": 128, "height": 96}
    (r / "tracklets" / name).write_text(json.dumps({**doc, "tracklets": []}))


def _tracklets_of_a_gone_product(r: Path) -> None:
    """A product taken down: its file of a video another product still lists stays behind."""
    _tracklet_file(r, "r1_0@gone.json", "gone", "videos/r1_0.mp4")


def _tracklets_of_an_unlisted_video(r: Path) -> None:
    _tracklet_file(r, "x9_0.json", "x9", "videos/x9_0.mp4")


def _tracklet_file_of_another_product(r: Path) -> None:
    _tracklet_file(r, "r1_0.json", "h1", "videos/r1_0.mp4")


def _tracklets_of_a_video_no_longer_shared(r: Path) -> None:
    """r1's own file of a video it once shared: only r1 lists it now, so its file is r1_0.json."""
    _tracklet_file(r, "r1_0@r1.json", "r1", "videos/r1_0.mp4")


def _stale_shared_file_beside_the_video_s_own(r: Path) -> None:
    _tracklet_file(r, "r1_0.json", "r1", "videos/r1_0.mp4")
    _tracklets_of_a_video_no_longer_shared(r)


def _frame_key_with_leading_zero(r: Path) -> None:
    """'03' beside '3': two boxes for frame 3, the reader keeping one of them."""
    edit_split(r, "train", lambda d: d["h1"]["tracklets"][0].update({"03": [10, 40, 40, 80]}))


def _frame_key_twice(r: Path) -> None:
    text = (r / "train.json").read_text()
    at = text.index('"3": [', text.index('"h1"'))
    (r / "train.json").write_text(text[:at] + '"3": [1, 1, 20, 20], ' + text[at:])


def _field_twice(r: Path) -> None:
    text = (r / "test.json").read_text()
    at = text.index('"img_path"', text.index('"r2"'))
    (r / "test.json").write_text(text[:at] + '"img_path": "imgs/h2.png", ' + text[at:])


def _file_linked_from_outside(r: Path) -> None:
    (r.parent / "private.txt").write_text("not part of the dataset\n")
    (r / "notes.txt").symlink_to(r.parent / "private.txt")


def _video_linked_from_outside(r: Path) -> None:
    shutil.move(r / "videos/r1_0.mp4", r.parent / "elsewhere.mp4")
    (r / "videos/r1_0.mp4").symlink_to(r.parent / "elsewhere.mp4")


# (break, check, split, product, field, words of the fix)
BREAKS = [
    (legacy_source_code, "source_codes", "train", "h1", "source", "write 0 for Hard"),
    (unknown_source_code, "source_codes", "train", "r1", "source", "0 for Hard or 1 for Regular"),
    (video_outside_videos, "prefixes", "train", "r1", "video_paths[0]", "move the file under videos/"),
    (older_shop_folder, "prefixes", "train", "h1", "img_path", "move the image to imgs/"),
    (hard_shop_as_jpg, "shop_suffix", "test", "h2", "img_path", "imgs/h2.png"),
    (_dot_path, "canonical_paths", "train", "r1", "video_paths[1]", "'videos/r1_1.mp4'"),
    (_video_twice, "repeats", "train", "r1", "video_paths[1]", "remove the repeated video"),
    (_product_twice, "repeats", "train", "h1", "(product id)", "merge the entries"),
    (two_test_videos, "test_one_video", "test", "r2", "video_paths", "keep one video per test product"),
    (product_in_both_splits, "leakage", "test", "h1", "(product id)", "keep the product in one split"),
    (video_in_both_splits, "leakage", "test", "r2", "video_paths", "remove it from the test product"),
    (image_in_both_splits, "leakage", "test", "h2", "img_path", "drop the test product"),
    (_same_bytes_in_both, "leakage", "test", "r2", "img_path", "drop one of them"),
    (_missing_video, "files", "test", "h2", "video_paths[0]", "restore the file"),
    (_garbage_video, "decodable", "train", "h1", "video_paths[0]", "re-encode the video"),
    (_truncated_video, "decodable", "train", "r1", "video_paths[1]", "re-encode the video"),
    (_garbage_image, "decodable", "test", "r2", "img_path", "re-encode it"),
    (_changed_after_manifest, "manifest", None, None, "train.json", "rerun `mf publish`"),
    (_unlisted_file, "manifest", None, None, "notes.txt", "rerun `mf publish`"),
    (_frame_past_the_end, "tracklets", "test", "h2", "tracklets[0]", "mf-tracklets build --force"),
    (_box_outside, "tracklets", "train", "h1", "tracklets[0]", "clip the boxes"),
    (_box_with_a_huge_number, "tracklets", "train", "h1", "tracklets[0]", "clip the boxes"),
    (same_stem_in_two_folders, "tracklets", "train", "h1", "video_paths", "give every video a file name"),
    (_truncated_tracklet_file, "tracklets", None, None, "tracklets/r1_0.json", "mf-tracklets build --force"),
    (_tracklet_file_is_a_pipe, "tracklets", None, None, "tracklets/r1_0.json", "mf-tracklets build --force"),
    (
        _tracklet_file_is_a_device,
        "tracklets",
        None,
        None,
        "tracklets/r1_0.json",
        "mf-tracklets build --force",
    ),
    (_tracklet_file_of_another_video, "tracklets", None, None, "tracklets/r1_0.json", "mf-tracklets build"),
    (_tracklets_of_a_gone_product, "tracklets", None, None, "tracklets/r1_0@gone.json", "delete it"),
    (_tracklets_of_an_unlisted_video, "tracklets", None, None, "tracklets/x9_0.json", "`mf publish`"),
    (_tracklet_file_of_another_product, "tracklets", None, None, "tracklets/r1_0.json", "mf-tracklets build"),
    (_tracklets_of_a_video_no_longer_shared, "tracklets", None, None, "tracklets/r1_0@r1.json", "rename it"),
    (
        _stale_shared_file_beside_the_video_s_own,
        "tracklets",
        None,
        None,
        "tracklets/r1_0@r1.json",
        "delete it",
    ),
    (_no_img_path, "schema", "test", "r2", "img_path", '"img_path"'),
    (_entries_disagree, "entries", "test", "h2", "entries.jsonl", "republish"),
    (_entries_product_twice, "entries", "train", "h1", "entries.jsonl", "give each product its own id"),
    (_frame_key_with_leading_zero, "tracklets", "train", "h1", "tracklets[0]", "'7', not '07'"),
    (_frame_key_twice, "repeats", "train", "h1", "tracklets[0]", "delete the repeated key"),
    (_field_twice, "repeats", "test", "r2", "(entry)", "delete the repeated key"),
    (_file_linked_from_outside, "files", None, None, "notes.txt", "copy the file into the folder"),
    (_video_linked_from_outside, "files", "train", "r1", "video_paths[0]", "copy the file into the folder"),
]


@pytest.mark.parametrize(
    ("mutate", "check", "split", "product", "field", "fix"),
    BREAKS,
    ids=[b[0].__name__.lstrip("_") for b in BREAKS],
)
def test_each_break_names_product_field_and_fix(
    archive_dir, tmp_path, capsys, mutate, check, split, product, field, fix
):
    root = tmp_path / "ds"
    shutil.copytree(archive_dir, root)
    mutate(root)
    code, out, _ = run_mf(["verify", "--dataset", str(root), "--json"], capsys)
    assert code == 1, out
    doc = json.loads(out)
    assert not doc["ok"]
    found = next(c for c in doc["checks"] if c["check"] == check)
    assert found["status"] == "break"
    hits = [
        o
        for o in found["offenders"]
        if (o["split"], o["product"], o["field"]) == (split, product, field) and fix in o["fix"]
    ]
    assert hits, found["offenders"]
    # the table names the same break: product, field, fix
    code, out, _ = run_mf(["verify", "--dataset", str(root)], capsys)
    assert code == 1
    row = next(line for line in out.splitlines() if line.startswith(check))
    assert "BREAK" in row and field in out and fix in out
    if product:
        assert f"{split}/{product} {field}" in out


def test_a_shared_video_s_files_pass_until_it_is_no_longer_shared(archive_dir, tmp_path):
    """Each product's ``<video>@<product>.json`` of a video two products list is clean; once one
    of them drops the video, the other's ``@`` file is stale (nothing reads it) and named so."""
    root = tmp_path / "ds"
    shutil.copytree(archive_dir, root)
    edit_split(root, "train", lambda d: d["h1"]["video_paths"].append("videos/r1_0.mp4"))
    edit_split(root, "train", lambda d: d["h1"]["tracklets"].append({}))
    _tracklet_file(root, "r1_0@r1.json", "r1", "videos/r1_0.mp4")
    _tracklet_file(root, "r1_0@h1.json", "h1", "videos/r1_0.mp4")
    report = verify_dataset(root)
    assert report.ok, [b.describe() for b in report.breaks]
    edit_split(root, "train", lambda d: d["h1"].update(video_paths=d["h1"]["video_paths"][:1]))
    edit_split(root, "train", lambda d: d["h1"].update(tracklets=d["h1"]["tracklets"][:1]))
    breaks = {b.field: b for b in verify_dataset(root).check("tracklets").breaks}
    assert set(breaks) == {"tracklets/r1_0@r1.json", "tracklets/r1_0@h1.json"}
    stale = breaks["tracklets/r1_0@r1.json"]
    assert "stale" in stale.problem and "only r1 lists 'videos/r1_0.mp4'" in stale.problem
    assert "rename it to tracklets/r1_0.json" in stale.fix and "mf-tracklets build" in stale.fix
    assert "does not list" in breaks["tracklets/r1_0@h1.json"].problem


def test_deep_decodes_every_frame(archive_dir, tmp_path):
    report = verify_dataset(archive_dir, deep=True)
    assert report.ok and report.deep
    root = tmp_path / "ds"
    shutil.copytree(archive_dir, root)
    _truncated_video(root)
    assert verify_dataset(root, deep=True).check("decodable").status == "break"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda r: None, "dataset folder not found"),
        (lambda r: r.mkdir(), "no train.json or test.json"),
        (lambda r: (r.mkdir(), (r / "train.json").write_text('{"a": [')), "malformed JSON"),
        (lambda r: (r.mkdir(), (r / "train.json").write_text("[1, 2]")), "keyed by product id"),
        (
            lambda r: (r.mkdir(), (r / "train.json").write_bytes(b'\xef\xbb\xbf{"a\xe9": 1}')),
            "not UTF-8 text (byte 6) (save it as UTF-8)",
        ),
    ],
)
def test_unusable_input_exits_2(tmp_path, capsys, make, message):
    root = tmp_path / "ds"
    make(root)
    code, _, err = run_mf(["verify", "--dataset", str(root)], capsys)
    assert code == 2 and message in err and str(root) in err


def _ffmpeg(*args: str) -> None:
    import subprocess

    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", *args], check=True)


def test_a_cut_with_an_edit_list_is_valid_and_a_truncated_one_is_not(archive_dir, tmp_path):
    """``ffmpeg -ss 0.5 -c copy`` keeps the packets before the cut (the key frame the first shown
    frame needs) and hides them with an edit list: the container declares more frames than a
    player shows, and that is no truncation. The same file cut short still is."""
    from movingfashion.archive.verify import video_facts

    src, cut = tmp_path / "src.mp4", tmp_path / "cut.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=128x96:rate=30", "-t", "3", "-c:v", "libx264", "-g", "30",
            "-bf", "2", "-pix_fmt", "yuv420p", str(src))  # fmt: skip
    _ffmpeg("-ss", "0.5", "-i", str(src), "-c", "copy", "-t", "1.5", "-movflags", "+faststart", str(cut))
    facts = video_facts(cut)
    assert facts.hidden > 0 and facts.frames > 0 and video_facts(cut, deep=True) == facts
    root = tmp_path / "ds"
    shutil.copytree(archive_dir, root)
    shutil.copyfile(cut, root / "videos/h1_0.mp4")
    edit_split(root, "train", lambda d: d["h1"].update(tracklets=[{"0": [10, 40, 40, 80]}]))
    report = verify_dataset(root)
    assert report.ok, [b.describe() for b in report.breaks]
    data = cut.read_bytes()
    for fraction in (99, 95, 90, 67):
        (root / "videos/h1_0.mp4").write_bytes(data[: len(data) * fraction // 100])
        for deep in (False, True):
            found = verify_dataset(root, deep=deep).check("decodable")
            assert found.status == "break", (fraction, deep)
            assert "truncated or damaged" in found.breaks[0].problem
