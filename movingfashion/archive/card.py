"""The datasheet (``datasheet.md``) and the dataset card (``README.md``) of a dataset folder.

The card follows the Hugging Face convention: a YAML header (``pretty_name``, ``license``,
``task_categories``, ``tags``, ``size_categories``, ``configs`` with one ``data_files`` entry per
split pointing at the flat tables) above a Markdown body built from the datasheet's counts and
the Responsible-AI text of :func:`movingfashion.archive.croissant.rai_fields`.
"""

from __future__ import annotations

from collections import Counter

import yaml

from movingfashion.archive.croissant import rai_fields
from movingfashion.archive.tables import BOXES_DIR, PAIRS_DIR, Tables
from schemas.dataset import DatasetInfo
from schemas.render import code_block, md_link, md_text, md_user_markdown
from schemas.taxonomy import DF2_CLASSES

#: Hub task categories of video-to-shop retrieval (embeddings) and its tracklets (boxes).
TASK_CATEGORIES = ["image-feature-extraction", "object-detection"]


def size_category(n: int) -> str:
    """The hub's size bucket of ``n`` records (``n<1K``, ``1K<n<10K``, ...)."""
    if n < 1_000:
        return "n<1K"
    for lo, hi, name in ((1e3, 1e4, "1K<n<10K"), (1e4, 1e5, "10K<n<100K"), (1e5, 1e6, "100K<n<1M")):
        if lo <= n < hi:
            return name
    return "1M<n<10M"


def _counts(tables: Tables) -> dict[str, int]:
    pairs = tables.all_pairs()
    videos_per = Counter((r.split, r.product_id) for r in pairs)
    return {
        "products": len(videos_per),
        "pairs": len(pairs),
        "videos": len({r.video_path for r in pairs}),
        "images": len({r.img_path for r in pairs}),
        "multi": sum(n > 1 for n in videos_per.values()),
        "max_videos": max(videos_per.values(), default=0),
        "boxes": sum(tables.box_counts.values()),
        "boxed": sum(tables.boxed_pairs.values()),
    }


def datasheet(tables: Tables) -> str:
    """Markdown datasheet: counts per split, partition and DeepFashion2 class."""
    c = _counts(tables)
    products = {(r.split, r.product_id): r for r in tables.all_pairs()}
    by = Counter((r.df2_class, r.partition, r.split) for r in products.values())
    per_split = Counter(s for s, _ in products)
    lines = [
        "# MovingFashion-format dataset: datasheet",
        "",
        f"Products: {c['products']}; videos: {c['videos']}; video-shop pairs: {c['pairs']}; "
        + "; ".join(f"{s}: {per_split[s]}" for s in tables.splits)
        + ".",
        f"Products with several videos: {c['multi']}"
        + (f" (at most {c['max_videos']} videos)" if c["multi"] else "")
        + "; every test product has one video.",
        f"Ground-truth tracklet boxes: {c['boxes']}.",
        "",
        "Official `source`: 0 = Hard, 1 = Regular (the archive's codes). Shop images under `imgs/`"
        " (Hard `.png`, Regular `.jpg`), videos under `videos/`.",
        "Split-screen videos are re-encoded, cropped to their moving half.",
        "",
        "| class | name | regular train | regular test | hard train | hard test | total |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    keys = [(p, s) for p in ("regular", "hard") for s in ("train", "test")]
    for cid, name in DF2_CLASSES.items():
        row = [by[(cid, p, s)] for p, s in keys]
        lines.append(f"| {cid} | {name} | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
    unknown = [by[(None, p, s)] for p, s in keys]
    if any(unknown):
        lines.append("| | (class unknown) | " + " | ".join(map(str, unknown)) + f" | {sum(unknown)} |")
    tot = [sum(n for (_, p2, s2), n in by.items() if (p2, s2) == k) for k in keys]
    lines.append("| | **total** | " + " | ".join(map(str, tot)) + f" | {sum(tot)} |")
    lines.append("")
    return "\n".join(lines)


def card_header(info: DatasetInfo, tables: Tables) -> dict:
    """The YAML header of the card (Hugging Face dataset card metadata)."""

    def files(folder: str) -> list[dict[str, str]]:
        return [{"split": s, "path": f"{folder}/{s}.jsonl"} for s in tables.splits]

    return {
        "pretty_name": info.pretty_name,
        "license": info.license,
        "task_categories": TASK_CATEGORIES,
        "tags": list(dict.fromkeys([*info.keywords, *(["synthetic"] if info.synthetic else [])])),
        "size_categories": [size_category(len(tables.all_pairs()))],
        "configs": [
            {"config_name": "pairs", "data_files": files(PAIRS_DIR), "default": True},
            {"config_name": "tracklet_boxes", "data_files": files(BOXES_DIR)},
        ],
    }


def dataset_card(info: DatasetInfo, tables: Tables, date_published: str, sheet: str) -> str:
    """``README.md``: the YAML header, then summary, layout, format, loading, datasheet, RAI, citation.

    The maintainer's text is shown, never run: names and the licence escaped (:func:`md_text`), the
    description's Markdown kept but its HTML escaped and its links kept only to web URLs or paths
    inside the dataset (:func:`md_user_markdown`: ``[x](javascript:...)`` shows ``x``), urls
    linked only when they are web URLs (:func:`md_link`), the citation in a fence no line of it
    can close (:func:`code_block`)."""
    c = _counts(tables)
    rai = rai_fields(info)
    header = yaml.safe_dump(card_header(info, tables), sort_keys=False, allow_unicode=True, width=100)

    def bullets(key: str) -> list[str]:
        value = rai[key]
        return [f"- {md_user_markdown(v)}" for v in (value if isinstance(value, list) else [value])]

    body = [
        f"# {md_text(info.pretty_name)}",
        "",
        md_user_markdown(info.description),
        "",
        f"Version {md_text(info.version)}, published {date_published}. Licence: "
        f"{md_link(info.license.upper(), info.license_url)}. More: {md_link(info.url, info.url)}",
        "",
        "## Summary",
        "",
        f"- {c['products']} products, {c['videos']} videos, {c['pairs']} video-shop pairs, "
        f"{c['images']} shop images, {c['boxes']} tracklet boxes",
        (
            f"- {c['multi']} products have several videos (up to {c['max_videos']}); test products have one"
            if c["multi"]
            else "- no product has several videos; test products have one"
        ),
        (
            "- every video-shop pair has a ground-truth tracklet"
            if c["boxed"] == c["pairs"]
            else f"- {c['boxed']} of the {c['pairs']} video-shop pairs have a ground-truth tracklet so far"
            " (the others: `mf-tracklets build --dataset .`, then `mf publish` again)"
        ),
        "- no product, video or shop image is in both splits (`mf verify --dataset .` checks it)",
        "",
        "## Layout",
        "",
        "```",
        "train.json, test.json   official MovingFashion annotations (what existing training code reads)",
        "videos/<id>_<n>.mp4     videos; imgs/<id>.jpg (Regular) or imgs/<id>.png (Hard): shop images",
        f"{PAIRS_DIR}/<split>.jsonl    one row per (product, video): the viewer's default table",
        f"{BOXES_DIR}/<split>.jsonl    one row per ground-truth box (product, video, frame, box)",
        "entries.jsonl           richer rows: class, partition, split, SHA-256, source metadata",
        "front/ rear/ fabric/    extra views of Regular products where collected",
        "tracklets/              every tracklet found per video (where built)",
        "croissant.json          Croissant 1.1 metadata; manifest.json: SHA-256 of every file",
        "```",
        "",
        "## Annotation format",
        "",
        "Each split file is an object keyed by product id: `video_paths` (videos of the product),",
        "`img_path` (its shop image), `source` (0 = Hard, 1 = Regular) and `tracklets` (per video, frame",
        "index -> `[x1, y1, x2, y2]` in pixels). Paths are relative to this folder.",
        "",
        "## Loading",
        "",
        "```python",
        "from movingfashion.dataset import MovingFashionDataset",
        "",
        'train = MovingFashionDataset("path/to/dataset", "train", frames=10)  # shop image + 10 tracklet crops',
        "```",
        "",
        "## Datasheet",
        "",
        *sheet.split("\n")[2:],
        "## Collection",
        "",
        rai["rai:dataCollection"],
        "",
        "## Intended uses",
        "",
        *bullets("rai:dataUseCases"),
        "",
        "## Limitations",
        "",
        *bullets("rai:dataLimitations"),
        "",
        "## Biases",
        "",
        *bullets("rai:dataBiases"),
        "",
        "## Personal and sensitive information",
        "",
        *bullets("rai:personalSensitiveInformation"),
        "",
        "## Maintenance",
        "",
        rai["rai:dataReleaseMaintenancePlan"],
        "",
        "## Citation",
        "",
        code_block(info.citation, "bibtex"),
        "",
    ]
    return "---\n" + header + "---\n\n" + "\n".join(body)
