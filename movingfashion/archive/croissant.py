"""Croissant 1.1 metadata of a dataset folder (``croissant.json``), Responsible-AI fields included.

Written by hand from the folder's tables (:mod:`movingfashion.archive.tables`), so publishing
needs no Croissant library; the tests validate it with ``mlcroissant``.

* **Dataset**: name, description, licence, url, creators, datePublished, version, keywords,
  citeAs, ``conformsTo`` Croissant 1.1, and the ``rai:`` fields (:func:`rai_fields`).
* **Distribution**: one ``FileObject`` with its SHA-256 per JSON file (split files,
  ``entries.jsonl``, the tables); ``FileSet`` s by ``includes`` pattern for ``videos/*.mp4``,
  ``imgs/*.jpg`` (Regular), ``imgs/*.png`` (Hard), the front/rear/fabric views and the richer
  ``tracklets/*.json`` where the folder has them, and for the table files read by the record sets.
* **RecordSets**: ``splits`` (train / test, ``cr:Split``), ``pairs`` (product id, split, video
  path, shop image path, source, partition, class) and ``tracklet_boxes`` (product, split, video,
  frame, box; left out, with its file set, while no video has a box: readers cannot open empty
  tables).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from movingfashion.archive.tables import BOXES_DIR, PAIRS_DIR, Tables
from schemas.atomic import sha256_file
from schemas.dataset import DatasetInfo

CONFORMS_TO = "http://mlcommons.org/croissant/1.1"

#: The JSON-LD context of Croissant 1.1 documents (schema.org vocabulary, ``cr:``, ``rai:``).
CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "excludes": "cr:excludes",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}

JSON = "application/json"
JSONL = "application/jsonlines"
#: Media file sets: (id, include pattern, encoding format, description).
MEDIA_SETS = (
    ("videos", "videos/*.mp4", "video/mp4", "Videos (H.264 MP4), one or more per product"),
    ("shop-images-regular", "imgs/*.jpg", "image/jpeg", "Shop images of the Regular partition (JPEG)"),
    ("shop-images-hard", "imgs/*.png", "image/png", "Shop images of the Hard partition (PNG)"),
    ("front-views", "front/*.jpg", "image/jpeg", "Front view: the model of the video, frontal pose"),
    ("rear-views", "rear/*.jpg", "image/jpeg", "Rear view of the shop item"),
    ("fabric-views", "fabric/*.jpg", "image/jpeg", "Close-up of the shop item's fabric"),
    ("tracklet-files", "tracklets/*.json", JSON, "Every tracklet the builder found per video (richer)"),
)


def rai_fields(info: DatasetInfo) -> dict[str, Any]:
    """The Croissant Responsible-AI fields (also the card's sections), for collected or rendered data."""
    if info.synthetic:
        collection = (
            "Rendered by the MovingFashion toolkit's synthetic world: garments of the 13 DeepFashion2 "
            "categories worn by drawn figures, in e-commerce-like (Regular) and social-media-like "
            "(Hard) clips, exported from the world's ground truth. No real person, site or account."
        )
        personal = ["None: every person, garment, caption and scene is rendered; no real individual appears."]
        biases = [
            "The renderer's choices (figures, poses, colours, patterns, rooms) set what the data covers; "
            "they stand in for, and do not measure, the real sources' distributions."
        ]
    else:
        collection = (
            "Regular pairs: product pages of an e-commerce site (the product video, the shop image on a "
            "plain background, front/rear/fabric views). Hard pairs: public social media posts (TikTok, "
            "Instagram) with the shop image from the post's carousel or from a split-screen video. "
            "Collected with the MovingFashion toolkit's polite client (robots.txt honoured, per-host rate "
            "limits, Retry-After), every file recorded with its SHA-256 in a catalog."
        )
        personal = [
            "Videos show people (professional models; social media users and bystanders) whose faces "
            "and bodies are visible, and may show usernames or watermarks. The annotation files hold "
            "no names; product ids are the sources' ids.",
            "Use the data for research only and honour takedown requests: remove the item from the "
            "catalog and republish.",
        ]
        biases = [
            "Regular videos come from one luxury retailer: mostly womenswear, professional models, "
            "studio light and poses.",
            "Hard videos come from fashion posts on two platforms: their users, regions, body types "
            "and styles are not a sample of the population.",
            "Classes and partitions are imbalanced (e.g. dresses and tops far outnumber slings "
            "and vests); the split keeps 10% of every class and partition in test.",
        ]
    return {
        "rai:dataCollection": collection,
        "rai:dataCollectionType": ["Web Scraping"] if not info.synthetic else ["Simulation"],
        "rai:dataPreprocessingProtocol": [
            "Probe every file (declared vs decodable frames; corrupt, truncated, short or small media "
            "rejected).",
            "Remove exact, re-encoded and partial (sub-clip) duplicate videos, keeping the longest.",
            "Recover the shop image of split-screen videos; publish such videos cropped to their moving half.",
            "Map titles and categories to the 13 DeepFashion2 classes; drop other items (bags, shoes, ...).",
            "Merge items carrying the same shop image into one product with several videos.",
            "Split 90/10 within every class and partition; a test product keeps one video (the longest).",
        ],
        "rai:dataAnnotationProtocol": [
            "One ground-truth tracklet per video: a clothing detector finds garments in every frame; the "
            "detection matching the shop image best (single-frame matching head) is the pivot; detections "
            "of other frames matching the pivot join it, at most one per frame.",
            "Sequences whose tracklet matches the shop image poorly are flagged for review; at least half "
            "of a kept tracklet's boxes must contain the item.",
        ],
        "rai:annotationsPerItem": "One ground-truth tracklet (a box per frame where the item is seen) per video.",
        "rai:machineAnnotationTools": ["Match-RCNN detector and single-frame matcher (mf-tracklets)"],
        "rai:dataBiases": biases,
        "rai:dataLimitations": [
            "Only the 13 DeepFashion2 clothing categories; accessories, bags and shoes are left out.",
            "Tracklets are machine-made pseudo-labels, not hand-drawn boxes: some frames hold a wrong or "
            "loose box.",
            "Test products have one video each; train products may have several.",
            "Shop images of the Hard partition are often photos from the post itself, not studio shots.",
            "Sources change and remove media: a rebuild does not give the same items twice.",
        ],
        "rai:personalSensitiveInformation": personal,
        "rai:dataUseCases": [
            "Video-to-shop retrieval research: train and evaluate SEAM Match-RCNN and baselines with the "
            "MovingFashion protocol (top-K accuracy over the test shop gallery; Regular, Hard, per class).",
            "Clothing detection and tracking in videos (the tracklet boxes).",
            "Not for identifying, tracking or profiling people, and not for commercial use (CC BY-NC-SA 4.0).",
        ],
        "rai:dataSocialImpact": (
            "Helps research on finding the clothes worn in videos; misuse could profile the people shown. "
            "The licence forbids commercial use and the card asks for takedown requests to be honoured."
        ),
        "rai:dataReleaseMaintenancePlan": (
            "Rebuilt from the catalog with `mf publish` (deterministic: the same catalog gives the same "
            "bytes); each release carries a version, a manifest of SHA-256 and passes `mf verify`. An item "
            "taken down is removed from the catalog and the dataset republished."
        ),
    }


def _file_object(
    root: Path, rel: str, fmt: str, description: str, hashes: dict[str, str] | None = None
) -> dict[str, Any]:
    """A file's Croissant record; its SHA-256 taken from ``hashes`` (relative path -> hex) when
    there, else computed and put there."""
    if hashes is None:
        hashes = {}
    if rel not in hashes:
        hashes[rel] = sha256_file(root / rel)
    return {
        "@type": "cr:FileObject",
        "@id": rel,
        "name": rel,
        "description": description,
        "contentUrl": rel,
        "encodingFormat": fmt,
        "sha256": hashes[rel],
    }


def _file_set(fid: str, includes: str, fmt: str, description: str) -> dict[str, Any]:
    return {
        "@type": "cr:FileSet",
        "@id": fid,
        "name": fid,
        "description": description,
        "encodingFormat": fmt,
        "includes": includes,
    }


def _field(rs: str, name: str, dtype: str, description: str, file_set: str, **extra: Any) -> dict[str, Any]:
    return {
        "@type": "cr:Field",
        "@id": f"{rs}/{name}",
        "name": name,
        "description": description,
        "dataType": dtype,
        "source": {"fileSet": {"@id": file_set}, "extract": {"column": name}},
        **extra,
    }


def _split_ref() -> dict[str, Any]:
    return {"references": {"field": {"@id": "splits/name"}}}


def croissant_metadata(
    root: str | Path,
    info: DatasetInfo,
    tables: Tables,
    date_published: str,
    *,
    hashes: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The ``croissant.json`` document of a dataset folder whose tables are already written.
    ``hashes``: the SHA-256 of each file it lists (relative path -> hex), filled as they are
    computed (the manifest written next takes them instead of reading those files again)."""
    base = Path(root)
    dist: list[dict[str, Any]] = []
    for split in tables.splits:
        dist.append(
            _file_object(
                base, f"{split}.json", JSON, f"Official MovingFashion annotations, {split} split", hashes
            )
        )
    if (base / "entries.jsonl").is_file():
        dist.append(
            _file_object(
                base,
                "entries.jsonl",
                JSONL,
                "One row per product: class, partition, split, paths, SHA-256, source metadata",
                hashes,
            )
        )
    for split in tables.splits:
        dist.append(
            _file_object(
                base, f"{PAIRS_DIR}/{split}.jsonl", JSONL, f"Video-shop pairs, {split} split", hashes
            )
        )
    for split in tables.splits:
        dist.append(
            _file_object(
                base,
                f"{BOXES_DIR}/{split}.jsonl",
                JSONL,
                f"Ground-truth tracklet boxes, {split} split",
                hashes,
            )
        )
    dist.append(_file_set("pair-tables", f"{PAIRS_DIR}/*.jsonl", JSONL, "The pair tables of every split"))
    # The record set reads only box tables that hold rows: mlcroissant cannot open an empty JSONL
    # table ("Column 'split' does not exist in node 'box-tables'" when all are, before
    # mf-tracklets build), and one empty beside an all-numeric one turned its product ids into
    # floats (b'1923649965303.0'). No box at all: no file set and no record set.
    boxed = [s for s in tables.splits if tables.box_counts.get(s)]
    if boxed:
        one = len(boxed) == 1 < len(tables.splits)  # (train and test are the only splits)
        dist.append(
            _file_set(
                "box-tables",
                f"{BOXES_DIR}/{boxed[0]}.jsonl" if one else f"{BOXES_DIR}/*.jsonl",
                JSONL,
                f"The box table of the {boxed[0]} split (no other split has a box yet)"
                if one
                else "The box tables of every split",
            )
        )
    from movingfashion.archive.verify import held_tracklet_names

    held = held_tracklet_names(base)  # the files of videos publish holds back: not published
    for fid, includes, fmt, description in MEDIA_SETS:
        folder, pattern = includes.split("/", 1)
        if (base / folder).is_dir() and any((base / folder).glob(pattern)):
            fs = _file_set(fid, includes, fmt, description)
            out = sorted(h for h in held if h.startswith(f"{folder}/") and PurePosixPath(h).match(includes))
            if out:
                fs["excludes"] = out
            dist.append(fs)
    splits_rs = {
        "@type": "cr:RecordSet",
        "@id": "splits",
        "name": "splits",
        "description": "The splits of the dataset.",
        "dataType": "cr:Split",
        "key": {"@id": "splits/name"},
        "field": [
            {"@type": "cr:Field", "@id": "splits/name", "name": "name", "dataType": "sc:Text"},
            {"@type": "cr:Field", "@id": "splits/url", "name": "url", "dataType": "sc:URL"},
        ],
        "data": [
            {"splits/name": s, "splits/url": "cr:TrainingSplit" if s == "train" else "cr:TestSplit"}
            for s in tables.splits
        ],
    }
    pairs = {
        "@type": "cr:RecordSet",
        "@id": "pairs",
        "name": "pairs",
        "description": "Video-to-shop pairs: one record per (product, video). Paths are relative to the "
        "dataset folder; source is the official partition code (0 = Hard, 1 = Regular).",
        "key": [{"@id": "pairs/product_id"}, {"@id": "pairs/video_path"}],
        "field": [
            _field("pairs", "product_id", "sc:Text", "Product id (key of the split files)", "pair-tables"),
            _field("pairs", "split", "sc:Text", "train or test", "pair-tables", **_split_ref()),
            _field(
                "pairs", "video_index", "sc:Integer", "Position in the product's video_paths", "pair-tables"
            ),
            _field("pairs", "video_path", "sc:Text", "Video file (videos/...)", "pair-tables"),
            _field("pairs", "img_path", "sc:Text", "Shop image file (imgs/...)", "pair-tables"),
            _field(
                "pairs",
                "source",
                "sc:Integer",
                "Official partition code: 0 = Hard, 1 = Regular",
                "pair-tables",
            ),
            _field("pairs", "partition", "sc:Text", "regular or hard", "pair-tables"),
            _field("pairs", "df2_class", "sc:Integer", "DeepFashion2 category id, 1..13", "pair-tables"),
            _field("pairs", "class_name", "sc:Text", "DeepFashion2 category name", "pair-tables"),
        ],
    }
    boxes = {
        "@type": "cr:RecordSet",
        "@id": "tracklet_boxes",
        "name": "tracklet_boxes",
        "description": "Ground-truth tracklets: one record per (product, video, frame) with the shop item's box.",
        "key": [
            {"@id": "tracklet_boxes/product_id"},
            {"@id": "tracklet_boxes/video_path"},
            {"@id": "tracklet_boxes/frame"},
        ],
        "field": [
            _field("tracklet_boxes", "product_id", "sc:Text", "Product id", "box-tables"),
            _field("tracklet_boxes", "split", "sc:Text", "train or test", "box-tables", **_split_ref()),
            _field("tracklet_boxes", "video_path", "sc:Text", "Video file (videos/...)", "box-tables"),
            _field("tracklet_boxes", "frame", "sc:Integer", "Frame index, 0-based", "box-tables"),
            _field(
                "tracklet_boxes",
                "box",
                "sc:Float",
                "[x1, y1, x2, y2] in pixels of the frame",
                "box-tables",
                isArray=True,
                arrayShape="4",
            ),
        ],
    }
    creators = [
        {"@type": f"sc:{c.kind}", "name": c.name, **({"url": c.url} if c.url else {})} for c in info.creators
    ]
    return {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "name": info.name,
        "alternateName": info.pretty_name,
        "description": info.description,
        "conformsTo": CONFORMS_TO,
        "citeAs": info.citation,
        "creator": creators,
        "datePublished": date_published,
        "keywords": info.keywords,
        "license": info.license_url,
        "url": info.url,
        "version": info.version,
        "isLiveDataset": False,
        **rai_fields(info),
        "distribution": dist,
        "recordSet": [splits_rs, pairs, boxes] if boxed else [splits_rs, pairs],
    }
