"""Small H.264 videos whose frames carry their own index, and official JSON around them."""

from __future__ import annotations

import json
import shutil
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from movingfashion.media.ffmpeg import encode_frames

BITS = 7
BLOCK = 16
W, H = 128, 96


def coded_frame(i: int, w: int = W, h: int = H) -> np.ndarray:
    """A frame whose top row of 16x16 blocks spells ``i`` in binary, plus a moving box."""
    img = np.full((h, w, 3), 128, np.uint8)
    for b in range(BITS):
        img[:BLOCK, b * BLOCK : (b + 1) * BLOCK] = 255 if (i >> b) & 1 else 0
    x = 10 + (i % 40)
    img[40:80, x : x + 30] = (200, 40, 40)
    return img


def read_code(frame: np.ndarray) -> int:
    """Decode the index a :func:`coded_frame` carries (robust to H.264 loss)."""
    val = 0
    for b in range(BITS):
        block = frame[4 : BLOCK - 4, b * BLOCK + 4 : (b + 1) * BLOCK - 4]
        if block.mean() > 128:
            val |= 1 << b
    return val


def box_of(i: int) -> list[int]:
    x = 10 + (i % 40)
    return [x, 40, x + 30, 80]


def write_video(path: Path, n: int, *, gop: int = 12) -> Path:
    return encode_frames((coded_frame(i) for i in range(n)), path, fps=30, gop=gop, crf=18)


def write_forged_video(path: Path, frames: int) -> Path:
    """A whole 12-frame MP4 at ``path`` whose time-to-sample table (``stts``) declares ``frames``
    frames: the count a probe reads from its header (a forged or damaged one)."""
    write_video(path, 12)
    data = bytearray(path.read_bytes())
    at = data.index(b"stts")
    assert struct.unpack_from(">III", data, at + 4) == (0, 1, 12)  # version and flags, one entry, its count
    struct.pack_into(">I", data, at + 12, frames)
    path.write_bytes(bytes(data))
    return path


def write_image(path: Path, colour=(10, 200, 30)) -> Path:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.zeros((64, 48, 3), np.uint8)
    img[:] = colour[::-1]
    cv2.imwrite(str(path), img)
    return path


def make_dataset(root: Path) -> Path:
    """An official-format folder in the archive's layout (source 1 Regular / 0 Hard, ``imgs/`` with a
    ``.png`` Hard shop image): 3 products, one with 2 videos, entries.jsonl, a richer tracklet."""
    root.mkdir(parents=True, exist_ok=True)
    spec = {  # pid -> (source, class, [(n_frames, first boxed, last boxed)])
        "101": (1, 8, [(60, 5, 54)]),
        "102": (1, 1, [(40, 0, 39), (50, 10, 45)]),
        "ab_C": (0, 9, [(45, 0, 44)]),
    }
    train, entries = {}, []
    for pid, (source, cls, vids) in spec.items():
        paths, trks = [], []
        for n_vid, (n, lo, hi) in enumerate(vids):
            rel = f"videos/{pid}_{n_vid}.mp4"
            write_video(root / rel, n)
            paths.append(rel)
            trks.append({str(f): box_of(f) for f in range(lo, hi + 1)})
        shop = f"imgs/{pid}.jpg" if source == 1 else f"imgs/{pid}.png"
        write_image(root / shop)
        train[pid] = {
            "video_paths": paths,
            "img_path": shop,
            "source": source,
            "tracklets": trks,
        }
        entries.append(
            {
                "product_id": pid,
                "df2_class": cls,
                "partition": "regular" if source == 1 else "hard",
                "split": "train",
                "video_paths": paths,
                "img_path": shop,
            }
        )
    (root / "train.json").write_text(json.dumps(train))
    test = {"102": train["102"]}
    (root / "test.json").write_text(json.dumps(test))
    (root / "entries.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    # richer tracklet file for 101: confidence falls off away from frame 30
    boxes = train["101"]["tracklets"][0]
    vt = {
        "product_id": "101",
        "video": "videos/101_0.mp4",
        "frames": 60,
        "width": W,
        "height": H,
        "ground_truth": 0,
        "tracklets": [
            {
                "video": "videos/101_0.mp4",
                "boxes": boxes,
                "scores": {k: round(1 - abs(int(k) - 30) / 60, 3) for k in boxes},
            }
        ],
    }
    (root / "tracklets").mkdir(exist_ok=True)
    (root / "tracklets" / "101_0.json").write_text(json.dumps(vt))
    return root


#: The archive-shaped folder of :func:`make_archive`: ``train.json`` holds ``r1`` (Regular, source 1,
#: two videos, ``imgs/r1.jpg``) and ``h1`` (Hard, source 0, ``imgs/h1.png``); ``test.json`` holds
#: ``r2`` (Regular) and ``h2`` (Hard), one video each. Videos are frame-coded clips of 128 x 96
#: pixels, each of another length (no two files alike), with a tracklet box on every frame.
ARCHIVE_FRAMES = 12  #: frames of the first video; each next one is 2 frames longer
#: product id -> (split, source, number of videos)
ARCHIVE_SPEC = {"r1": ("train", 1, 2), "h1": ("train", 0, 1), "r2": ("test", 1, 1), "h2": ("test", 0, 1)}


def split_entry(tracklets: list[dict[str, Any]], *, pid: str = "p", source: int = 1) -> dict[str, Any]:
    """A split file's entry for product ``pid``: one video per tracklet (one at least), its shop
    image (``.jpg`` for Regular, source 1; ``.png`` for Hard)."""
    return {
        "video_paths": [f"videos/{pid}_{i}.mp4" for i in range(max(1, len(tracklets)))],
        "img_path": f"imgs/{pid}.jpg" if source == 1 else f"imgs/{pid}.png",
        "source": source,
        "tracklets": tracklets,
    }


def big_tracklet(n: int = 400, start: int = 0) -> dict[str, list[int | float]]:
    """``n`` frames from ``start`` of random valid boxes (seeded by ``start``); one frame in 3 of
    whole numbers (ints stay ints)."""
    rng = np.random.default_rng(start)
    out: dict[str, list[int | float]] = {}
    for f in range(start, start + n):
        x1, y1 = rng.uniform(0, 500, 2).round(2).tolist()
        box = [x1, y1, x1 + float(rng.uniform(1, 200)), y1 + float(rng.uniform(1, 200))]
        out[str(f)] = [int(v) for v in box] if f % 3 == 0 else box  # ints stay ints
    return out


def make_archive(root: Path) -> Path:
    """Write a folder shaped like the real MovingFashion archive into ``root`` (see :data:`ARCHIVE_SPEC`)."""
    splits: dict[str, dict] = {"train": {}, "test": {}}
    lengths: dict[str, int] = {}
    for i, (pid, (split, source, n)) in enumerate(ARCHIVE_SPEC.items()):
        videos = [f"videos/{pid}_{k}.mp4" for k in range(n)]
        for v in videos:
            lengths[v] = ARCHIVE_FRAMES + 2 * len(lengths)
            write_video(root / v, lengths[v])
        shop = f"imgs/{pid}.jpg" if source == 1 else f"imgs/{pid}.png"
        write_image(root / shop, colour=(40 * i, 200 - 40 * i, 30))
        splits[split][pid] = {
            "video_paths": videos,
            "img_path": shop,
            "source": source,
            "tracklets": [{str(f): box_of(f) for f in range(lengths[v])} for v in videos],
        }
    for split, data in splits.items():
        (root / f"{split}.json").write_text(json.dumps(data))
    return root


def edit_split(root: Path, split: str, fn: Callable[[dict], None]) -> None:
    """Rewrite ``root/<split>.json`` with ``fn`` applied to its JSON."""
    data = json.loads((root / f"{split}.json").read_text())
    fn(data)
    (root / f"{split}.json").write_text(json.dumps(data))


def move_file(root: Path, src: str, dst: str) -> None:
    """Move ``root/src`` to ``root/dst`` (its folder made)."""
    (root / dst).parent.mkdir(parents=True, exist_ok=True)
    shutil.move(root / src, root / dst)


# Defects of a copy of :func:`make_archive`'s folder that ``mf verify`` breaks on and
# ``mf schema validate`` reports (in the comment: the check, split, product and field they hit).


def legacy_source_code(r: Path) -> None:
    """source_codes, train, h1, source."""
    edit_split(r, "train", lambda d: d["h1"].update(source=2))


def unknown_source_code(r: Path) -> None:
    """source_codes, train, r1, source."""
    edit_split(r, "train", lambda d: d["r1"].update(source=5))


def video_outside_videos(r: Path) -> None:
    """prefixes, train, r1, video_paths[0]."""
    move_file(r, "videos/r1_0.mp4", "clips/r1_0.mp4")
    edit_split(r, "train", lambda d: d["r1"]["video_paths"].__setitem__(0, "clips/r1_0.mp4"))


def older_shop_folder(r: Path) -> None:
    """prefixes, train, h1, img_path."""
    move_file(r, "imgs/h1.png", "shop/h1.png")
    edit_split(r, "train", lambda d: d["h1"].update(img_path="shop/h1.png"))


def hard_shop_as_jpg(r: Path) -> None:
    """shop_suffix, test, h2, img_path."""
    move_file(r, "imgs/h2.png", "imgs/h2.jpg")
    edit_split(r, "test", lambda d: d["h2"].update(img_path="imgs/h2.jpg"))


def two_test_videos(r: Path) -> None:
    """test_one_video, test, r2, video_paths."""
    shutil.copyfile(r / "videos/r2_0.mp4", r / "videos/r2_1.mp4")

    def fn(d: dict) -> None:
        d["r2"]["video_paths"].append("videos/r2_1.mp4")
        d["r2"]["tracklets"].append({})

    edit_split(r, "test", fn)


def product_in_both_splits(r: Path) -> None:
    """leakage, test, h1, (product id)."""
    train = json.loads((r / "train.json").read_text())
    edit_split(r, "test", lambda d: d.update(h1=train["h1"]))


def video_in_both_splits(r: Path) -> None:
    """leakage, test, r2, video_paths."""
    edit_split(r, "test", lambda d: d["r2"]["video_paths"].__setitem__(0, "videos/r1_0.mp4"))


def image_in_both_splits(r: Path) -> None:
    """leakage, test, h2, img_path."""
    edit_split(r, "test", lambda d: d["h2"].update(img_path="imgs/h1.png"))


def same_stem_in_two_folders(r: Path) -> None:
    """tracklets, train, h1, video_paths: two videos named alike in two folders, one tracklet file
    for both, which mf-tracklets refuses (mf verify called the folder clean)."""
    (r / "videos" / "x").mkdir()
    shutil.copy(r / "videos" / "h1_0.mp4", r / "videos" / "x" / "r1_0.mp4")
    (r / "videos" / "h1_0.mp4").unlink()
    edit_split(r, "train", lambda d: d["h1"].update(video_paths=["videos/x/r1_0.mp4"]))


def make_df2(root: Path) -> Path:
    """A DeepFashion2-format mini split 'validation': 2 pairs, shop + user images, one style-0 item.

    pair 1 style 1 (trousers, class 8): shop 000001, users 000002..000004 (3 images)
    pair 1 style 2 (skirt, class 9):   shop 000001 item2, user 000005
    pair 2 style 1 (vest, class 5):    shop 000006, users 000007..000018 (12 images)
    000019: user image of pair 2 with style 0 (not a positive pair, must be left out)
    """
    import cv2

    split = root / "validation"
    (split / "image").mkdir(parents=True, exist_ok=True)
    (split / "annos").mkdir(parents=True, exist_ok=True)

    def item(cid, box, style, name):
        n = {8: 14, 9: 8, 5: 15}[cid]
        lms = []
        for j in range(n):
            lms += [box[0] + j, box[1] + j, 2 if j % 3 else 1]
        return {
            "category_id": cid,
            "category_name": name,
            "style": style,
            "bounding_box": box,
            "landmarks": lms,
            "segmentation": [[box[0], box[1], box[2], box[1], box[2], box[3]]],
            "scale": 2,
            "occlusion": 1,
            "zoom_in": 1,
            "viewpoint": 2,
        }

    plan = [(1, "shop", 1, [item(8, [10, 20, 60, 90], 1, "trousers"), item(9, [5, 5, 40, 30], 2, "skirt")])]
    plan += [(i, "user", 1, [item(8, [10 + i, 20, 60 + i, 90], 1, "trousers")]) for i in (2, 3, 4)]
    plan += [(5, "user", 1, [item(9, [5, 5, 40, 30], 2, "skirt")])]
    plan += [(6, "shop", 2, [item(5, [0, 0, 50, 50], 1, "vest")])]
    plan += [(i, "user", 2, [item(5, [i, i, 50 + i, 50 + i], 1, "vest")]) for i in range(7, 19)]
    plan += [(19, "user", 2, [item(5, [0, 0, 30, 30], 0, "vest")])]
    for num, source, pair, items in plan:
        img = np.full((100 + num, 120, 3), (num * 13) % 256, np.uint8)
        cv2.imwrite(str(split / "image" / f"{num:06d}.jpg"), img)
        anno = {"source": source, "pair_id": pair}
        anno.update({f"item{k + 1}": it for k, it in enumerate(items)})
        (split / "annos" / f"{num:06d}.json").write_text(json.dumps(anno))
    return root


def make_df2_black(root: Path, n: int = 3) -> Path:
    """``n`` black 200x100 images per split: 000001 a shop image, the rest user images of pair 1."""
    import cv2

    for split in ("train", "validation"):
        (root / split / "image").mkdir(parents=True)
        (root / split / "annos").mkdir(parents=True)
        for i in range(1, n + 1):
            name = f"{i:06d}"
            cv2.imwrite(str(root / split / "image" / f"{name}.jpg"), np.zeros((100, 200, 3), np.uint8))
            anno = {
                "source": "shop" if i == 1 else "user",
                "pair_id": 1,
                "item1": {"category_id": 8, "style": 1, "bounding_box": [20, 10, 120, 90]},
                "item2": {"category_id": 1, "style": 0, "bounding_box": [0, 0, 50, 50]},
            }
            (root / split / "annos" / f"{name}.json").write_text(json.dumps(anno))
    return root
