"""Reports from evaluation results: the paper's Tables 2, 4 and 5 (Markdown + CSV) and plots.

Plots (matplotlib, Agg): accuracy vs number of frames (paper Fig. 5 / Table 5), mean attention
every 5 percentiles of video length (paper Fig. 8) and qualitative sheets (3 query frames +
top-5 shop images, the correct match framed green, the others red).
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from schemas.atomic import atomic_open, atomic_write_text
from schemas.errors import DataFormatError
from schemas.paths import resolve_under
from schemas.render import md_text
from schemas.taxonomy import DF2_CLASSES

#: Short class names as in the paper's Table 4.
CLASS_SHORT = {
    1: "Short Sl. Shirt",
    2: "Long Sl. Shirt",
    3: "Short Sl. Outw.",
    4: "Long Sl. Outw.",
    5: "Vest",
    6: "Sling",
    7: "Shorts",
    8: "Trousers",
    9: "Skirt",
    10: "Short Sl. Dress",
    11: "Long Sl. Dress",
    12: "Vest Dress",
    13: "Sling Dress",
}


def load_results(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``results.json`` written by ``mf evaluate``; DataFormatError when it is not one."""
    p = Path(path)
    if p.is_dir():
        p = p / "results.json"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFormatError(
            "results file not found", where=str(p), hint="run `mf evaluate --out DIR` first"
        ) from None
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"malformed JSON at line {exc.lineno}", where=str(p)) from None
    if not isinstance(data, dict) or "methods" not in data or "protocol" not in data:
        raise DataFormatError(
            "not an evaluation results file (no 'methods'/'protocol')",
            where=str(p),
            hint="pass the results.json written by `mf evaluate`",
        )
    return data


def _cell(row: dict[str, Any] | None, k: int, std: bool = True, digits: int = 2) -> str:
    if not row or f"top{k}" not in row:
        return "-"
    text = f"{row[f'top{k}']:.{digits}f}"
    return f"{text}({row[f'top{k}_std']:.3f})" if std else text


def table2(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Paper Table 2: top-K overall (mean(std)), Regular and Hard, at the main sequence length."""
    t = str(results["protocol"]["main_frames"])
    ks = results["protocol"]["ks"]
    header = (
        ["Method"] + [f"All T-{k}" for k in ks] + [f"Regular T-{k}" for k in ks] + [f"Hard T-{k}" for k in ks]
    )
    rows = []
    for key, by_t in results["methods"].items():
        g = by_t.get(t, {})
        rows.append(
            [results["names"].get(key, key)]
            + [_cell(g.get("all"), k) for k in ks]
            + [_cell(g.get("regular"), k, std=False) for k in ks]
            + [_cell(g.get("hard"), k, std=False) for k in ks]
        )
    return header, rows


def table4(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Paper Table 4: top-1 (std) per DeepFashion2 class, one column per method."""
    t = str(results["protocol"]["main_frames"])
    keys = list(results["methods"])
    header = ["Category"] + [results["names"].get(k, k) for k in keys]
    classes = sorted(
        {
            int(g.split(":")[1])
            for k in keys
            for g in results["methods"][k].get(t, {})
            if g.startswith("class:")
        }
    )
    rows = []
    for c in classes:
        rows.append(
            [CLASS_SHORT.get(c, DF2_CLASSES.get(c, str(c)))]
            + [_cell(results["methods"][k].get(t, {}).get(f"class:{c}"), 1) for k in keys]
        )
    rows.append(["All Classes"] + [_cell(results["methods"][k].get(t, {}).get("all"), 1) for k in keys])
    return header, rows


def table5(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Paper Table 5: top-1 with 5, 10 and 20 frames (every evaluated length)."""
    frames = [str(f) for f in results["protocol"]["frames"]]
    header = ["Method"] + [f"{f} Frames" for f in frames]
    rows = [
        [results["names"].get(k, k)] + [_cell(by_t.get(f, {}).get("all"), 1, std=False) for f in frames]
        for k, by_t in results["methods"].items()
    ]
    return header, rows


def markdown(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table; every cell is shown as written (names from results.json are escaped)."""
    lines = ["| " + " | ".join(map(md_text, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(md_text, r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def to_csv(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def _save_fig(fig: Any, path: Path) -> None:
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=100, bbox_inches="tight")


def plot_frames(results: dict[str, Any], path: Path) -> None:
    """Top-1 and top-20 (or the largest K) vs number of frames, All / Regular / Hard, error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frames = results["protocol"]["frames"]
    kmax = max(results["protocol"]["ks"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, k in zip(axes, [1, kmax], strict=True):
        for key, by_t in results["methods"].items():
            if not key.startswith("seam") and key != "average_distance":
                continue
            for group, style in [("all", "-"), ("regular", "--"), ("hard", ":")]:
                ys = [by_t.get(str(f), {}).get(group, {}).get(f"top{k}", np.nan) for f in frames]
                es = [by_t.get(str(f), {}).get(group, {}).get(f"top{k}_std", 0.0) for f in frames]
                if all(np.isnan(ys)):
                    continue
                ax.errorbar(
                    frames,
                    ys,
                    yerr=es,
                    linestyle=style,
                    marker="o",
                    capsize=3,
                    label=f"{results['names'].get(key, key)} ({group})",
                )
        ax.set_xlabel("frames")
        ax.set_ylabel(f"top-{k} accuracy")
        ax.set_title(f"Top-{k} vs number of frames")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="lower right")
    _save_fig(fig, path)
    plt.close(fig)


def plot_attention(results: dict[str, Any], path: Path) -> bool:
    """Mean attention (± std band) every 5 percentiles of video length (paper Fig. 8)."""
    att = results.get("attention") or {}
    if not att:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for key, prof in att.items():
        x = np.asarray(prof["percentiles"])
        for ax, groups in [(axes[0], ["all"]), (axes[1], ["regular", "hard"])]:
            for g in groups:
                if g not in prof:
                    continue
                m, s = np.asarray(prof[g]["mean"], float), np.asarray(prof[g]["std"], float)
                ax.plot(x, m, marker=".", label=f"{results['names'].get(key, key)} ({g})")
                ax.fill_between(x, m - s, m + s, alpha=0.2)
    for ax, title in zip(axes, ["whole test set", "Regular and Hard"], strict=True):
        ax.set_xlabel("position in the video (percentile)")
        ax.set_ylabel("mean attention")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    _save_fig(fig, path)
    plt.close(fig)
    return True


def plot_qualitative(results: dict[str, Any], path: Path, dataset: str | None = None, rows: int = 6) -> bool:
    """Query frames + top-5 shop images per row; green frame = correct match, red = wrong."""
    qual = results.get("qualitative") or []
    root = Path(dataset or results.get("dataset") or "")
    if not qual or not root.is_dir():
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from movingfashion.media.images import read_image
    from movingfashion.media.readers import read_frames

    qual = qual[:rows]
    fig, axes = plt.subplots(len(qual), 8, figsize=(16, 2.2 * len(qual)), squeeze=False)
    for r, q in enumerate(qual):
        frames = read_frames(resolve_under(root, str(q["video"]), what="qualitative video"), q["frames"])
        for c in range(3):
            axes[r, c].imshow(frames[c])
            axes[r, c].set_title(f"frame {q['frames'][c]}", fontsize=7)
        for j, (gid, rel) in enumerate(zip(q["top5"], q["top5_paths"], strict=True)):
            ax = axes[r, 3 + j]
            ax.imshow(read_image(resolve_under(root, str(rel), what="qualitative shop image"), (128, 96)))
            ok = gid == q["product_id"]
            for sp in ax.spines.values():
                sp.set_edgecolor("green" if ok else "red")
                sp.set_linewidth(4)
            ax.set_title(f"#{j + 1} {gid}", fontsize=7, color="green" if ok else "red")
        axes[r, 0].set_ylabel(q["product_id"], fontsize=7)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
        for ax in axes[r, 3 + len(q["top5"]) :]:
            ax.axis("off")  # galleries smaller than 5
    _save_fig(fig, path)
    plt.close(fig)
    return True


def write_report(
    results_path: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, dataset: str | None = None
) -> dict[str, Any]:
    """Write tables (``table2/4/5.md`` + ``.csv``), ``report.md`` and the PNG plots; returns file list."""
    results = load_results(results_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: list[str] = []
    sections = []
    titles = {
        "table2": "Table 2: video-to-shop retrieval (T-K = top-K accuracy, mean(std) over pools)",
        "table4": "Table 4: top-1 accuracy (std) per class",
        "table5": "Table 5: top-1 accuracy with different numbers of frames",
    }
    for name, fn in [("table2", table2), ("table4", table4), ("table5", table5)]:
        header, rows = fn(results)
        md = markdown(header, rows)
        atomic_write_text(out / f"{name}.md", md)
        atomic_write_text(out / f"{name}.csv", to_csv(header, rows))
        files += [f"{name}.md", f"{name}.csv"]
        sections.append(f"## {titles[name]}\n\n{md}")
    plot_frames(results, out / "accuracy_vs_frames.png")
    files.append("accuracy_vs_frames.png")
    if plot_attention(results, out / "attention.png"):
        files.append("attention.png")
    if plot_qualitative(results, out / "qualitative.png", dataset):
        files.append("qualitative.png")
    proto = results["protocol"]
    chance = results.get("chance", {})
    head = (
        f"# SEAM evaluation\n\n{proto['queries']} query videos, gallery of {proto['gallery']} shop images, "
        f"{proto['pools']} pool(s) of {proto['pool_size']} products, main sequence length "
        f"{proto['main_frames']} frames. Chance: "
        + ", ".join(f"{k} {v:.3f}" for k, v in chance.items())
        + "\n"
    )
    atomic_write_text(
        out / "report.md",
        head
        + "\n"
        + "\n".join(sections)
        + "\n"
        + "\n".join(f"![{f}]({f})" for f in files if f.endswith(".png"))
        + "\n",
    )
    files.append("report.md")
    return {"out": str(out), "files": files}
