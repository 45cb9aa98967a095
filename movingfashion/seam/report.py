"""Reports from evaluation results: the paper's Tables 2, 4 and 5 (Markdown + CSV) and plots.

One or several ``results.json`` (e.g. one per training seed on the same test set). Several are
pooled by :func:`combine`: a cell is the mean (std) over every (seed, pool) value. Every std is
the sample std (ddof=1, :func:`~movingfashion.seam.protocol.sample_std`), and the tables say so;
a results file written before (population std) gets its pools' std anew from the pools' values it
keeps (:func:`sample_stds`). They must
evaluate the same test set (the same query videos, matched by name) with the same protocol and
pool settings (:func:`align_runs`). Also written:
``paired.md`` (paired per-query differences of top-1 between methods, per seed and pooled),
``attention_noise.md`` (how much attention corrupted frames get, when the test set knows them)
and ``ordering.md`` (whether SEAM > SEAM w/o NLB,g > Max Confidence holds beyond one std).

Plots (matplotlib, Agg): accuracy vs number of frames (paper Fig. 5 / Table 5), mean attention
every 5 percentiles of video length (paper Fig. 8) and qualitative sheets (3 query frames +
top-5 shop images, the correct match framed green, the others red).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from movingfashion.seam.config import BELOW_MIN_IOU, NO_INFERENCE
from movingfashion.seam.protocol import STD, sample_std
from movingfashion.seam.results_schema import HINT as RESULTS_HINT
from movingfashion.seam.results_schema import check_results
from schemas.atomic import atomic_open, atomic_write_text, sha256_file, sweep_partials
from schemas.errors import DataFormatError
from schemas.paths import outside_dataset, resolve_under
from schemas.render import csv_table, md_text, plot_text
from schemas.staging import staged_set
from schemas.taxonomy import DF2_CLASSES
from schemas.text_input import load_json

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


def results_file(path: str | os.PathLike[str]) -> Path:
    """The ``results.json`` a RESULTS argument names (the file, or the folder holding it)."""
    p = Path(path)
    return p / "results.json" if p.is_dir() else p


def check_distinct(paths: Sequence[str | os.PathLike[str]]) -> None:
    """DataFormatError when two RESULTS name one file (a path, its folder, a link) or two files
    with the same bytes (a copy): each would count as a training seed of its own."""
    seen: dict[str, str] = {}
    for path in paths:
        p = results_file(path)
        try:
            keys = [f"path:{p.resolve()}", f"bytes:{sha256_file(p)}"]
        except OSError:
            continue  # load_results names the missing file
        for key in keys:
            if key in seen:
                raise DataFormatError(
                    f"given twice: {seen[key]} and {path} are the same results"
                    + (" (a copy)" if key.startswith("bytes:") else ""),
                    where="RESULTS",
                    hint="pass each training seed's results once; every RESULTS counts as one seed",
                )
            seen[key] = str(path)


def load_results(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``results.json`` written by ``mf evaluate``: JSON through the one reader of user
    JSON (:func:`~schemas.text_input.load_json`), then every field the report reads checked
    (:func:`~movingfashion.seam.results_schema.check_results`); DataFormatError naming the file
    and the field otherwise. The record is returned as read."""
    p = results_file(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise DataFormatError(
            "results file not found", where=str(p), hint="run `mf evaluate --out DIR` first"
        ) from None
    except OSError as exc:
        raise DataFormatError(f"cannot read the results file: {exc.strerror or exc}", where=str(p)) from None
    if raw.startswith(b"PK\x03\x04"):  # torch.save's zip: a checkpoint passed as the results
        raise DataFormatError(
            "this is a torch file (a model checkpoint), not evaluation results",
            where=str(p),
            hint="mf report reads the results.json that `mf evaluate --checkpoint RUN/last.pt --out DIR` writes",
        )
    data = load_json(raw, str(p), hint=RESULTS_HINT)
    _empty_bins_as_null(data)
    check_results(data, str(p))
    return data


def _empty_bins_as_null(data: Any) -> None:
    """An older ``mf evaluate`` wrote NaN for an attention-profile bin with no frame, where the
    format now has null (the same fact): read it as null, in place. Only there: a NaN anywhere
    else is still refused."""
    att = data.get("attention") if isinstance(data, dict) else None
    for groups in att.values() if isinstance(att, dict) else ():
        for curve in groups.values() if isinstance(groups, dict) else ():
            if not isinstance(curve, dict):
                continue
            for key in ("mean", "std"):
                vals = curve.get(key)
                if isinstance(vals, list):
                    curve[key] = [None if isinstance(v, float) and math.isnan(v) else v for v in vals]


def query_counts(res: dict[str, Any]) -> dict[str, Any] | None:
    """Where a results record's queries came from: ``inference`` tracklets (with their mean IoU
    with the ground truth), ``ground_truth`` stand-ins by reason (:data:`NO_INFERENCE`,
    :data:`BELOW_MIN_IOU`) and the minimum IoU in force. Older results (no
    ``protocol.query_fallbacks``) give the fallbacks from ``query_below_min_iou``. None when the
    record does not say (banks made by hand)."""
    p = res.get("protocol") or {}
    sources = p.get("query_tracklets") or {}
    if not sources:
        return None
    gt = int(sources.get("ground_truth", 0))
    fallbacks = p.get("query_fallbacks")
    if fallbacks is None:
        below = int(p.get("query_below_min_iou") or 0)
        fallbacks = {NO_INFERENCE: gt - below, BELOW_MIN_IOU: below}
    fallbacks = {why: int(fallbacks.get(why, 0)) for why in (NO_INFERENCE, BELOW_MIN_IOU)}
    min_iou = p.get("query_min_iou", (res.get("config") or {}).get("query_min_iou"))
    # results written before fallbacks were recorded gave a ground-truth query IoU 1.0
    ious = [
        x
        for x, why in zip(res.get("query_iou") or [], res.get("query_fallback") or [], strict=False)
        if x is not None and why is None
    ]
    return {
        "inference": int(sources.get("tracklets", 0)),
        "inference_mean_iou": float(np.mean(ious)) if ious else None,
        "ground_truth": gt,
        **fallbacks,
        "min_iou": min_iou,
    }


def query_note(res: dict[str, Any]) -> str:
    """One line for beside a results table: how many queries were inference tracklets and how
    many the ground-truth tracklet stood in for, and why (:func:`query_counts`)."""
    c = query_counts(res)
    if c is None:
        return "Queries: their source is not recorded in these results."
    text = f"Queries: {c['inference']} inference tracklets (the best-IoU one of each video"
    if c["inference_mean_iou"] is not None:
        text += f", mean IoU with the ground truth {c['inference_mean_iou']:.3f}"
    text += f"), {c['ground_truth']} ground-truth tracklets"
    why = []
    if c[NO_INFERENCE]:
        why.append(f"{c[NO_INFERENCE]} with no inference tracklet")
    if c[BELOW_MIN_IOU] or c["min_iou"]:
        shown = "unknown" if c["min_iou"] is None else f"{c['min_iou']:g}"
        why.append(f"{c[BELOW_MIN_IOU]} whose best inference tracklet is below the minimum IoU {shown}")
    return text + (f" ({'; '.join(why)})" if why else "") + "."


def runs_query_note(runs: Sequence[dict[str, Any]]) -> str:
    """:func:`query_note` of several results: one line when they agree, else one per run."""
    notes = [query_note(r) for r in runs]
    if len(set(notes)) == 1:
        return notes[0]
    return " ".join(f"Run {i}: {n}" for i, n in enumerate(notes, 1))


def _merge_rows(rows: list[dict[str, Any]], ks: list[int]) -> dict[str, Any]:
    """One table cell's record from the same cell of several results: mean and std over every
    (seed, pool) value when every result kept the pools' values, else over the seeds' means
    (``top{k}_std_over`` says which: "seeds x pools" or "seeds"); sample stds (ddof=1)."""
    out: dict[str, Any] = {"seeds": len(rows)}
    for k in ks:
        pooled = all(r.get(f"top{k}_pools") for r in rows)
        vals = [v for r in rows for v in r[f"top{k}_pools"]] if pooled else [r[f"top{k}"] for r in rows]
        out[f"top{k}"] = float(np.mean(vals))
        out[f"top{k}_std"] = sample_std(vals) if len(vals) > 1 else float(rows[0].get(f"top{k}_std", 0.0))
        out[f"top{k}_seed_std"] = sample_std([r[f"top{k}"] for r in rows])
        out[f"top{k}_values"] = len(vals)
        out[f"top{k}_std_over"] = "seeds x pools" if pooled else "seeds"
    out["queries"] = max(int(r.get("queries", 0)) for r in rows)
    return out


#: Protocol fields that must agree for results to be pooled (the evaluation's pool seed may
#: differ: more pools of the same test set).
POOL_SETTINGS = ("ks", "main_frames", "pools", "pool_size")


def _test_set_difference(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    """Why two results are not of the same test set and pool settings (None when they are)."""
    pa, pb = a["protocol"], b["protocol"]
    va, vb = (r.get("per_query", {}).get("videos") for r in (a, b))
    if va is None or vb is None:  # older results: the dataset folder is all they say
        if a.get("dataset") != b.get("dataset"):
            return f"different datasets ({a.get('dataset')} and {b.get('dataset')})"
    elif len(va) != len(vb) or len(set(va)) != len(va) or set(va) != set(vb):
        return f"different test sets ({len(set(va) ^ set(vb))} of {len(set(va) | set(vb))} query videos not in both)"
    for key in ("queries", "gallery", *POOL_SETTINGS):
        if pa.get(key) != pb.get(key):
            return f"different {key} ({pa.get(key)} and {pb.get(key)})"
    if "query_min_iou" in pa and "query_min_iou" in pb and pa["query_min_iou"] != pb["query_min_iou"]:
        return f"different query_min_iou ({pa['query_min_iou']} and {pb['query_min_iou']}): other query tracklets"
    return None


def _reorder_per_query(r: dict[str, Any], videos: list[str]) -> dict[str, Any]:
    """``r`` with its per-query values in the order of ``videos`` (the same videos)."""
    pq = r["per_query"]
    if pq["videos"] == videos:
        return r
    where = {v: i for i, v in enumerate(pq["videos"])}
    idx = [where[v] for v in videos]
    per_query = {"videos": list(videos)}
    for method, vals in pq.items():
        if method != "videos":
            per_query[method] = {k: [x[i] for i in idx] for k, x in vals.items()}
    return {**r, "per_query": per_query}


def align_runs(results: Sequence[dict[str, Any]], names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Check that several results evaluate the same test set (the same query videos, in any
    order) with the same protocol and pool settings, and put every run's per-query values in
    the first run's order. :class:`DataFormatError` naming the two files (``names``) otherwise."""
    names = list(names) if names is not None else [f"results #{i + 1}" for i in range(len(results))]
    base = results[0]
    out = [base]
    for name, r in zip(names[1:], results[1:], strict=True):
        why = _test_set_difference(base, r)
        if why:
            raise DataFormatError(
                f"cannot pool {names[0]} and {name}: {why}",
                hint="pool evaluations of the same test set with the same --pools/--pool-size/--frames; "
                "report the others separately",
            )
        videos = base.get("per_query", {}).get("videos")
        out.append(_reorder_per_query(r, videos) if videos is not None else r)
    return out


def sample_stds(res: dict[str, Any]) -> dict[str, Any]:
    """``res`` with every std over pools a sample std: as it is when its ``protocol.std`` says so,
    else (results written before, population std) each ``top{k}_std`` recomputed from the pools'
    values it keeps (``top{k}_pools``, rounded to 5 places); a row without them keeps its std."""
    if (res.get("protocol") or {}).get("std") == STD:
        return res
    methods = {
        key: {
            t: {g: _row_sample_std(row) if isinstance(row, dict) else row for g, row in groups.items()}
            for t, groups in by_t.items()
        }
        for key, by_t in (res.get("methods") or {}).items()
    }
    return {**res, "methods": methods, "protocol": {**res["protocol"], "std": STD}}


def _row_sample_std(row: dict[str, Any]) -> dict[str, Any]:
    """One group's row with each ``top{k}_std`` the sample std of its ``top{k}_pools``."""
    out = dict(row)
    for name, vals in row.items():
        if name.endswith("_pools") and isinstance(vals, list) and vals and f"{name[:-6]}_std" in row:
            out[f"{name[:-6]}_std"] = sample_std(vals)
    return out


def pool_bins(profiles: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One attention profile (per bin mean, std, ``n``) from the same bins of several runs: the
    mean and sample std of all their frames together, from each run's count, mean and sample std.
    A bin no run has a frame in stays None (null), as evaluate writes it. Profiles written before
    the counts were kept (population stds, no ``n``) give the mean of their stds, as before."""
    means = np.asarray([p["mean"] for p in profiles], float)
    stds = np.asarray([p["std"] for p in profiles], float)
    out: dict[str, Any] = {"videos": profiles[0]["videos"]}
    if not all("n" in p for p in profiles):
        return {**out, "mean": _nullable(_finite_mean(means)), "std": _nullable(_finite_mean(stds))}
    n = np.asarray([p["n"] for p in profiles], float)
    n = np.where(np.isfinite(means), n, 0.0)
    total = n.sum(0)
    m = np.where(n > 0, np.nan_to_num(means), 0.0)
    mean = np.where(total > 0, (n * m).sum(0) / np.maximum(total, 1), np.nan)
    squares = ((n - 1).clip(min=0) * np.nan_to_num(stds) ** 2 + n * m**2).sum(0)
    var = np.where(total > 1, (squares - total * np.nan_to_num(mean) ** 2) / np.maximum(total - 1, 1), 0.0)
    std = np.where(total > 0, np.sqrt(var.clip(min=0)), np.nan)
    return {**out, "mean": _nullable(mean), "std": _nullable(std), "n": [int(x) for x in total]}


def combine(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pool several evaluations of the same protocol into one results record (see the module
    docstring); a single one is returned as it is (its stds made sample stds: :func:`sample_stds`),
    with ``seeds`` = 1."""
    results = [sample_stds(r) for r in results]
    if len(results) == 1:
        return {**results[0], "seeds": 1}
    results = align_runs(results)
    base = results[0]
    ks = base["protocol"]["ks"]
    methods: dict[str, dict[str, Any]] = {}
    for key in base["methods"]:
        if not all(key in r["methods"] for r in results):
            continue
        for t, groups in base["methods"][key].items():
            for g in groups:
                rows = [r["methods"][key].get(t, {}).get(g) for r in results]
                if all(rows):
                    methods.setdefault(key, {}).setdefault(t, {})[g] = _merge_rows(rows, ks)
    attention = {}
    for key, prof in (base.get("attention") or {}).items():
        profs = [r["attention"][key] for r in results if key in (r.get("attention") or {})]
        if any(p.get("percentiles") != prof["percentiles"] for p in profs):
            continue  # profiles binned otherwise (an older evaluate): not averaged bin by bin
        merged = {"percentiles": prof["percentiles"]}
        for g in ("all", "regular", "hard"):
            if all(g in p for p in profs):
                merged[g] = pool_bins([p[g] for p in profs])
        attention[key] = merged
    return {
        **base,
        "seeds": len(results),
        "methods": methods,
        "names": {k: base["names"][k] for k in methods},
        "attention": attention,
        "runs": results,
    }


#: Method pairs whose paired per-query differences the report gives (first minus second).
PAIRS = [
    ("seam", "seam_no_nlb_g"),
    ("seam_no_nlb_g", "max_confidence"),
    ("seam", "max_confidence"),
    ("seam", "seam_no_nlb"),
    ("seam_no_nlb", "seam_no_nlb_g"),
    ("seam", "average_distance"),
    ("seam", "asymnet"),
    ("seam_salient", "seam"),
]


def paired_differences(results: Sequence[dict[str, Any]], k: int = 1) -> list[dict[str, Any]]:
    """Top-``k`` differences between methods on the same queries: per seed the mean over queries
    of (hit rate of A - hit rate of B); over seeds their mean and std; pooled, each query's
    difference averaged over seeds, its standard error and how many queries A wins or loses (stds
    are sample stds, ddof=1: the standard error is the sample std over queries / sqrt(queries))."""
    out = []
    key = f"top{k}"
    if len(results) > 1:
        results = align_runs(results)
    for a, b in PAIRS:
        per_seed, per_query = [], []
        for r in results:
            pq = r.get("per_query") or {}
            if a not in pq or b not in pq:
                break
            d = np.asarray(pq[a][key], float) - np.asarray(pq[b][key], float)
            per_query.append(d)
            per_seed.append(float(_finite_mean(d)))
        else:
            q = _finite_mean(np.stack(per_query)) if per_query else np.array([])
            n = int(np.isfinite(q).sum())
            if not per_seed or n == 0:
                continue  # no query in any pool: nothing to compare
            finite = q[np.isfinite(q)]
            seeds = np.asarray(per_seed)[np.isfinite(per_seed)]
            out.append(
                {
                    "a": a,
                    "b": b,
                    "mean": float(np.mean(seeds)),
                    "seed_std": sample_std(seeds),
                    "per_seed": [float(x) for x in per_seed],
                    "query_se": sample_std(finite) / float(np.sqrt(n)),
                    "wins": int((q > 0).sum()),
                    "losses": int((q < 0).sum()),
                    "queries": n,
                }
            )
    return out


def _finite_mean(x: np.ndarray) -> np.ndarray:
    """Mean over axis 0 of the finite values of ``x`` ([S, Q] -> [Q], [Q] -> a scalar); NaN where
    there is none (a query that was in no pool), without numpy's empty-slice warning."""
    ok = np.isfinite(x)
    count = ok.sum(0)
    total = np.where(ok, x, 0.0).sum(0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _nullable(x: np.ndarray) -> list[float | None]:
    """``x`` as a list, None (JSON ``null``) where it is not finite."""
    return [float(v) if np.isfinite(v) else None for v in x.tolist()]


def _std_values(row: dict[str, Any]) -> int:
    """How many values a table cell's top-1 std is over (pools, or seeds x pools once combined)."""
    return int(row.get("top1_values") or row.get("pools") or len(row.get("top1_pools") or ()) or 1)


def mean_std(mean: float, std: float, values: int, digits: int = 3) -> str:
    """``mean(std)`` when the std is over more than one value, else the mean alone: a std over
    one value (one pool of one run) does not exist, and "(0.000)" read as if the pools agreed.
    The one rule for every table of the report and ``ordering.md``."""
    text = f"{mean:.{digits}f}"
    return f"{text}({std:.3f})" if values > 1 else text


def ordering(combined: dict[str, Any], diffs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The paper's ordering SEAM > SEAM w/o NLB,g > Max Confidence, top-1 at the main length:
    does each step hold beyond one std (the intervals mean +- std of the two rows do not
    overlap), and is the paired difference larger than its std over seeds? Either answer is
    None when its std does not exist (one value: a single pool of a single run, one seed)."""
    t = str(combined["protocol"]["main_frames"])
    rows = []
    for a, b in [("seam", "seam_no_nlb_g"), ("seam_no_nlb_g", "max_confidence")]:
        ra = combined["methods"].get(a, {}).get(t, {}).get("all")
        rb = combined["methods"].get(b, {}).get(t, {}).get("all")
        if not ra or not rb:
            continue
        d = next((x for x in diffs if x["a"] == a and x["b"] == b), None)
        rows.append(
            {
                "a": a,
                "b": b,
                "a_top1": ra["top1"],
                "a_std": ra["top1_std"],
                "a_std_values": _std_values(ra),
                "b_top1": rb["top1"],
                "b_std": rb["top1_std"],
                "b_std_values": _std_values(rb),
                "beyond_one_std": (
                    ra["top1"] - ra["top1_std"] > rb["top1"] + rb["top1_std"]
                    if min(_std_values(ra), _std_values(rb)) > 1
                    else None
                ),
                "paired_mean": d["mean"] if d else None,
                "paired_std": d["seed_std"] if d else None,
                "paired_beyond_std": (
                    None
                    if not d or len(d["per_seed"]) < 2
                    else bool(d["mean"] > 0 and d["mean"] > d["seed_std"])
                ),
                "paired_query_se": d["query_se"] if d else None,
            }
        )
    return rows


def _ordering_words(o: dict[str, Any]) -> str:
    """One ordering row's verdicts in words; "cannot be judged" where a std does not exist."""
    if o["beyond_one_std"] is None:
        step = "cannot be judged beyond one std (one pool of one run: no std)"
    else:
        step = f"{'holds' if o['beyond_one_std'] else 'does NOT hold'} beyond one std"
    if o["paired_mean"] is None:
        return f"{step}; paired difference -"
    paired = f"{step}; paired difference {o['paired_mean']:+.3f}"
    if o["paired_beyond_std"] is None:
        return f"{paired} (one seed: no std over seeds; query SE {o['paired_query_se']:.3f})"
    verdict = "larger" if o["paired_beyond_std"] else "NOT larger"
    return f"{paired}({o['paired_std']:.3f}), {verdict} than its std"


def attention_noise_rows(results: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Attention on corrupted vs clean query frames: mean (sample std) over seeds per method."""
    header = [
        "Method",
        "AUC of -g (corrupted vs clean)",
        "AUC within tracklet",
        "mean g clean",
        "mean g corrupted",
        "frames (corrupted)",
    ]
    rows = []
    keys = [k for k in ("seam", "seam_no_nlb") if any(k in (r.get("attention_noise") or {}) for r in results)]
    kinds: set[str] = set()
    for key in keys:
        recs = [r["attention_noise"][key] for r in results if key in (r.get("attention_noise") or {})]

        def ms(field: str, recs: list[dict[str, Any]] = recs) -> str:
            vals = [x[field] for x in recs if x.get(field) is not None]
            if not vals:
                return "-"
            return f"{np.mean(vals):.3f}({sample_std(vals):.3f})" if len(vals) > 1 else f"{vals[0]:.3f}"

        rows.append(
            [
                results[0]["names"].get(key, key),
                ms("auc"),
                ms("auc_within_tracklet"),
                ms("mean_clean"),
                ms("mean_corrupted"),
                f"{recs[0]['frames']} ({recs[0]['corrupted']})",
            ]
        )
        for x in recs:
            kinds |= set(x.get("by_kind", {}))
    for kind in sorted(kinds):
        header.append(f"AUC {kind}")
        for row, key in zip(rows, keys, strict=True):
            vals = [
                r["attention_noise"][key]["by_kind"][kind]["auc"]
                for r in results
                if kind in (r.get("attention_noise") or {}).get(key, {}).get("by_kind", {})
            ]
            vals = [v for v in vals if v is not None]
            row.append(f"{np.mean(vals):.3f}" if vals else "-")
    return header, rows


def _cell(row: dict[str, Any] | None, k: int, std: bool = True, digits: int = 2) -> str:
    """A table cell: the mean, and its std in brackets when there is one (more than one value:
    one pool of one run has none, and printed "(0.000)" as if the pools agreed)."""
    if not row or f"top{k}" not in row:
        return "-"
    return mean_std(row[f"top{k}"], row.get(f"top{k}_std", 0.0), _std_values(row) if std else 1, digits)


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


def _class_how(results: dict[str, Any], how: str) -> str:
    """What Table 4's std is over: ``how``, or over the seeds' means for the classes of results
    written before per-class pool values were kept."""
    t = str(results["protocol"]["main_frames"])
    over = {
        row.get("top1_std_over")
        for by_t in results["methods"].values()
        for g, row in by_t.get(t, {}).items()
        if g.startswith("class:")
    }
    if "seeds" in over:
        return f"{how}; per class: std over the {results.get('seeds')} seeds' means, the results keep no per-class pool values"
    return how


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
    """The table as CSV; a method name a spreadsheet would run as a formula is shown as text."""
    return csv_table(header, rows)


def _save_fig(fig: Any, path: Path) -> None:
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=100, bbox_inches="tight")


def plot_frames(results: dict[str, Any], path: Path) -> None:
    """Top-1 and top-20 (or the largest K) vs number of frames, All / Regular / Hard, error bars."""
    from schemas.library_state import pyplot

    plt = pyplot()

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
                    label=plot_text(f"{results['names'].get(key, key)} ({group})"),
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
    from schemas.library_state import pyplot

    plt = pyplot()

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for key, prof in att.items():
        x = np.asarray(prof["percentiles"])
        for ax, groups in [(axes[0], ["all"]), (axes[1], ["regular", "hard"])]:
            for g in groups:
                if g not in prof:
                    continue
                m, s = np.asarray(prof[g]["mean"], float), np.asarray(prof[g]["std"], float)
                ax.plot(x, m, marker=".", label=plot_text(f"{results['names'].get(key, key)} ({g})"))
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
    src = dataset or results.get("dataset")  # never the working folder (Path("") is ".")
    if not qual or not src or not Path(src).is_dir():
        return False
    if any(len(q.get("top5_paths") or []) != len(q.get("top5") or []) for q in qual):
        return False  # a bank without shop paths: no images to show
    root = Path(src)
    from schemas.library_state import pyplot

    plt = pyplot()

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
            ax.set_title(plot_text(f"#{j + 1} {gid}"), fontsize=7, color="green" if ok else "red")
        axes[r, 0].set_ylabel(plot_text(q["product_id"]), fontsize=7)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
        for ax in axes[r, 3 + len(q["top5"]) :]:
            ax.axis("off")  # galleries smaller than 5
    _save_fig(fig, path)
    plt.close(fig)
    return True


def _write_files(
    stage: Path, runs: list[dict[str, Any]], results: dict[str, Any], dataset: str | None
) -> tuple[list[str], str, list[dict[str, Any]]]:
    """Write the report's files into ``stage``; returns their names (``report.md`` last), the
    query note and the paired differences."""
    files: list[str] = []
    sections = []
    how = (
        "mean(sample std) over pools"
        if len(runs) == 1
        else f"mean(sample std) over {len(runs)} seeds x pools"
    )
    titles = {
        "table2": f"Table 2: video-to-shop retrieval (T-K = top-K accuracy, {how})",
        "table4": f"Table 4: top-1 accuracy ({_class_how(results, how)}) per class",
        "table5": "Table 5: top-1 accuracy with different numbers of frames",
    }
    note = runs_query_note(runs)
    for name, fn in [("table2", table2), ("table4", table4), ("table5", table5)]:
        header, rows = fn(results)
        md = markdown(header, rows) + f"\n{note}\n"
        atomic_write_text(stage / f"{name}.md", md)
        atomic_write_text(stage / f"{name}.csv", to_csv(header, rows))
        files += [f"{name}.md", f"{name}.csv"]
        sections.append(f"## {titles[name]}\n\n{md}")
    diffs = paired_differences(runs)
    if diffs:
        names = results["names"]
        header = ["A - B", "top-1 difference", "per seed", "query SE", "A wins / loses (queries)"]
        rows = [
            [
                f"{names.get(d['a'], d['a'])} - {names.get(d['b'], d['b'])}",
                f"{d['mean']:+.3f}" + (f"({d['seed_std']:.3f})" if len(d["per_seed"]) > 1 else ""),
                " ".join(f"{x:+.3f}" for x in d["per_seed"]),
                f"{d['query_se']:.3f}",
                f"{d['wins']} / {d['losses']} of {d['queries']}",
            ]
            for d in diffs
        ]
        md = markdown(header, rows)
        atomic_write_text(stage / "paired.md", md)
        files.append("paired.md")
        sections.append(
            "## Paired per-query top-1 differences (mean(sample std) over seeds; query SE: standard error "
            f"(sample std / sqrt(queries)) of the per-query differences averaged over seeds)\n\n{md}"
        )
        order = ordering(results, diffs)
        if order:
            lines = [
                f"- {md_text(str(names.get(o['a'], o['a'])))} {mean_std(o['a_top1'], o['a_std'], o['a_std_values'])}"
                f" vs {md_text(str(names.get(o['b'], o['b'])))} {mean_std(o['b_top1'], o['b_std'], o['b_std_values'])}: "
                + _ordering_words(o)
                for o in order
            ]
            text = "\n".join(lines) + "\n"
            atomic_write_text(stage / "ordering.md", text)
            files.append("ordering.md")
            sections.append(
                f"## The paper's ordering (top-1, all queries, T={results['protocol']['main_frames']}; "
                f"{how}; paired: mean(sample std) over seeds)\n\n{text}"
            )
    header, rows = attention_noise_rows(runs)
    if rows:
        md = markdown(header, rows)
        atomic_write_text(stage / "attention_noise.md", md)
        files.append("attention_noise.md")
        sections.append(
            "## Attention on corrupted query frames (weights of the T frames; mean(sample std) over seeds; "
            f"AUC 0.5 = blind, 1 = every corrupted frame gets less than every clean one)\n\n{md}"
        )
    plot_frames(results, stage / "accuracy_vs_frames.png")
    files.append("accuracy_vs_frames.png")
    if plot_attention(results, stage / "attention.png"):
        files.append("attention.png")
    if plot_qualitative(runs[0], stage / "qualitative.png", dataset):
        files.append("qualitative.png")
    proto = results["protocol"]
    chance = results.get("chance", {})
    noisy = proto.get("corrupted_share")
    head = (
        f"# SEAM evaluation\n\n{proto['queries']} query videos, gallery of {proto['gallery']} shop images, "
        f"{proto['pools']} pool(s) of {proto['pool_size']} products, main sequence length "
        f"{proto['main_frames']} frames"
        + (f", {len(runs)} training seeds" if len(runs) > 1 else "")
        + (f", {noisy:.0%} of the query frames corrupted" if noisy else "")
        + ". Chance: "
        + ", ".join(f"{md_text(str(k))} {v:.3f}" for k, v in chance.items())
        + f".\n\n{note}\n"
    )
    atomic_write_text(
        stage / "report.md",
        head
        + "\n"
        + "\n".join(sections)
        + "\n"
        + "\n".join(f"![{f}]({f})" for f in files if f.endswith(".png"))
        + "\n",
    )
    files.append("report.md")
    return files, note, diffs


def write_report(
    results_path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    dataset: str | None = None,
) -> dict[str, Any]:
    """Write tables (``table2/4/5.md`` + ``.csv``, ``paired.md``, ``attention_noise.md``,
    ``ordering.md``), ``report.md`` and the PNG plots from one or several results; returns the
    file list. The temporary files a killed run left in ``out_dir`` go first. The files are
    written into a staging folder in ``out_dir`` and swapped in together, ``report.md`` removed
    first and moved in last (:func:`schemas.staging.staged_set`): a run killed before the swap
    leaves an earlier report whole, one killed during it leaves no ``report.md``, and a file of
    ``out_dir`` the report does not write is never touched. ``out_dir`` inside ``dataset`` or
    the dataset folder a result records is refused (ConfigError naming ``--out``)."""
    paths = [results_path] if isinstance(results_path, str | os.PathLike) else list(results_path)
    if not paths:
        raise DataFormatError(
            "no results file given", where="RESULTS", hint="pass OUT/results.json of mf evaluate"
        )
    check_distinct(paths)
    runs = [load_results(p) for p in paths]
    if len(runs) > 1:
        runs = align_runs(runs, [str(p) for p in paths])
    results = combine(runs)
    # never into a dataset folder (the one given, or the one each evaluation recorded), as
    # mf evaluate and mf train refuse: files its manifest does not list break mf verify
    for folder in dict.fromkeys([dataset, *(r.get("dataset") for r in runs)]):
        if isinstance(folder, str) and folder:
            outside_dataset(out_dir, folder, what="report", option="--out")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sweep_partials(out)  # the tables and plots a killed run left half-written
    with staged_set(out, "report.md", name="report") as stage:  # the set swapped in whole
        files, note, diffs = _write_files(stage, runs, results, dataset)
    return {
        "out": str(out),
        "files": files,
        "seeds": len(runs),
        "queries": note,
        "query_counts": [query_counts(r) for r in runs],
        "ordering": ordering(results, diffs) if diffs else [],
    }
