"""``make bench`` (``benchmarks/run_benchmarks.py``) can finish: a benchmark that needs a dataset
gets the real-clips one or is skipped saying how to run it, and a failure stops none of the others."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from .conftest import BENCH, load_script


@pytest.fixture(scope="module")
def rb():
    return load_script("run_benchmarks")


def test_make_bench_runs_the_runner():
    makefile = (BENCH.parent / "Makefile").read_text()
    recipe = re.search(r"^bench:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "benchmarks/run_benchmarks.py" in recipe


def test_every_benchmark_that_requires_a_dataset_is_known(rb):
    required = {
        p.name for p in BENCH.glob("bench_*.py") if re.search(r'"--dataset".*required=True', p.read_text())
    }
    assert required and required <= rb.NEEDS_DATASET


def test_without_a_dataset_those_benchmarks_are_skipped_with_how_to_run_them(
    rb, monkeypatch, capsys, tmp_path
):
    calls = []
    monkeypatch.setattr(
        rb.subprocess, "run", lambda cmd, **k: calls.append(cmd) or SimpleNamespace(returncode=0)
    )
    monkeypatch.setattr(sys, "argv", ["run_benchmarks.py", "--real-clips", str(tmp_path), "--no-fetch"])
    assert rb.main() == 0
    out = capsys.readouterr().out
    ran = [Path(c[1]).name for c in calls]
    assert "bench_copy_formats.py" not in ran
    assert sorted(ran) == sorted(p.name for p in BENCH.glob("bench_*.py") if p.name not in rb.NEEDS_DATASET)
    assert all(c[2:] == [] for c in calls)
    skip = next(ln for ln in out.splitlines() if "bench_copy_formats.py: skipped" in ln)
    assert f"--dataset {tmp_path / 'dataset'}" in skip and "real_clips.py" in skip


def test_with_a_dataset_they_run_on_it_and_a_failure_stops_no_other(rb, monkeypatch, capsys, tmp_path):
    (tmp_path / "dataset").mkdir()
    (tmp_path / "dataset" / "train.json").write_text("{}")
    calls = []

    def run(cmd, **k):
        calls.append(cmd)
        return SimpleNamespace(returncode=1 if Path(cmd[1]).name == "bench_collect.py" else 0)

    monkeypatch.setattr(rb.subprocess, "run", run)
    monkeypatch.setattr(sys, "argv", ["run_benchmarks.py", "--real-clips", str(tmp_path)])
    assert rb.main() == 1
    by_name = {Path(c[1]).name: c[2:] for c in calls}
    assert set(by_name) == {p.name for p in BENCH.glob("bench_*.py")}
    assert by_name["bench_copy_formats.py"] == ["--dataset", str(tmp_path / "dataset")]
    assert "FAILED: bench_collect.py (exit 1)" in capsys.readouterr().out


def test_a_dataset_that_cannot_be_built_skips_them(rb, monkeypatch, capsys, tmp_path):
    calls = []
    monkeypatch.setattr(
        rb.subprocess, "run", lambda cmd, **k: calls.append(cmd) or SimpleNamespace(returncode=1)
    )
    monkeypatch.setattr(sys, "argv", ["run_benchmarks.py", "--real-clips", str(tmp_path)])
    assert rb.main() == 1  # every fake benchmark "failed", but each one was tried
    assert Path(calls[0][1]).name == "real_clips.py" and calls[0][2:] == ["--out", str(tmp_path)]
    assert "bench_copy_formats.py" not in [Path(c[1]).name for c in calls]
    out = capsys.readouterr().out
    assert "could not build" in out and "bench_copy_formats.py: skipped" in out


def test_with_a_dataset_loader_and_tracklets_also_run_on_the_real_clips(rb, tmp_path):
    ds = tmp_path / "dataset"
    runs = rb.plan(ds, tmp_path)
    args = {}
    for script, extra in runs:
        args.setdefault(script.name, []).append(extra)
    assert args["bench_loader.py"] == [[], ["--dataset", str(ds), "--clips", "12"]]
    assert args["bench_tracklets.py"] == [[], ["--dataset", str(ds)]]
    assert args["bench_copy_formats.py"] == [["--dataset", str(ds)]]
    no_ds = {s.name: [e for s2, e in rb.plan(None, tmp_path) if s2 == s] for s, _ in runs}
    assert no_ds["bench_loader.py"] == [[]] and no_ds["bench_tracklets.py"] == [[]]


def test_each_run_says_which_data_it_uses(rb, monkeypatch, capsys, tmp_path):
    (tmp_path / "dataset").mkdir()
    (tmp_path / "dataset" / "train.json").write_text("{}")
    monkeypatch.setattr(sys, "argv", ["run_benchmarks.py", "--real-clips", str(tmp_path), "--dry-run"])
    assert rb.main() == 0
    out = capsys.readouterr().out
    loader = [ln for ln in out.splitlines() if ln.startswith("== benchmarks/bench_loader.py")]
    assert len(loader) == 2
    assert "[data: its own synthetic data]" in loader[0]
    assert f"[data: real clips ({tmp_path / 'dataset'})]" in loader[1]
