"""``benchmarks/bench_loader.py``: its defaults run (a quick 20-product world), the official
baseline decodes on one FFmpeg thread like every other row, ``--json`` prints one JSON document
on stdout, and a wrong ``--dataset`` is one line and exit status 2."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from .conftest import load_script


@pytest.fixture(scope="module")
def bl():
    return load_script("bench_loader")


def test_without_a_dataset_it_builds_a_quick_world_generate_world_accepts(
    bl, monkeypatch, tmp_path: Path, no_thread_change
):
    import movingfashion.world as mw
    import movingfashion.world.gt_dataset as gt

    seen = {}

    def generate_world(world, products, seed, quick=False, **kw):
        seen.update(products=products, quick=quick)

    monkeypatch.setattr(mw, "generate_world", generate_world)
    monkeypatch.setattr(gt, "export_gt_dataset", lambda world, ds: None)
    monkeypatch.setattr(bl, "run", lambda root, args, work, source: {})
    monkeypatch.setattr(sys, "argv", ["bench_loader.py", "--work", str(tmp_path)])
    bl.main()
    assert seen == {"products": 20, "quick": True}  # a world needs at least 20 products


class FakeCapture:
    opened: list = []

    def __init__(self, *args):
        FakeCapture.opened.append(args)

    def set(self, prop, value):
        return True

    def read(self):
        return True, np.zeros((48, 64, 3), np.uint8)

    def release(self):
        pass


def test_the_official_way_decodes_on_one_ffmpeg_thread_unless_asked(bl, monkeypatch, tmp_path: Path):
    import cv2

    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture)
    monkeypatch.setattr(bl, "read_image", lambda path, size: None)
    FakeCapture.opened = []
    bl.official_clip(tmp_path, "v.mp4", [0, 3], [[0, 0, 32, 32], [1, 1, 20, 30]], tmp_path / "s.jpg")
    (args,) = FakeCapture.opened
    assert args == (str(tmp_path / "v.mp4"), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
    FakeCapture.opened = []
    bl.official_clip(tmp_path, "v.mp4", [0], [[0, 0, 32, 32]], tmp_path / "s.jpg", threads=None)
    assert FakeCapture.opened == [(str(tmp_path / "v.mp4"),)]


def test_opencv_pins_the_thread_count_of_a_real_video(bl, tmp_path: Path):
    from movingfashion.media.ffmpeg import encode_frames
    from movingfashion.media.images import write_image

    frames = np.random.default_rng(0).integers(0, 255, (6, 48, 64, 3), dtype=np.uint8)
    encode_frames(frames, tmp_path / "v.mp4", fps=25)
    write_image(tmp_path / "s.jpg", frames[0])
    bl.check_official_threads(tmp_path / "v.mp4", 1)  # raises when OpenCV ignores the option
    bl.official_clip(tmp_path, "v.mp4", [1, 4], [[0, 0, 32, 32], [8, 8, 40, 40]], tmp_path / "s.jpg")


def test_json_leaves_stdout_one_json_document(bl, monkeypatch, capsys, tmp_path: Path, no_thread_change):
    (tmp_path / "train.json").write_text("{}")

    def run(root, args, work, source):
        print("== bikes: 12 clips ...")  # the tables run() prints on the way
        return {"source": source, "families": {}}

    monkeypatch.setattr(bl, "run", run)
    monkeypatch.setattr(sys, "argv", ["bench_loader.py", "--dataset", str(tmp_path), "--json"])
    bl.main()
    out = capsys.readouterr()
    assert json.loads(out.out) == {"source": "given folder", "families": {}}
    assert "== bikes" in out.err


def test_a_wrong_dataset_is_one_line_and_exit_status_2(monkeypatch, capsys, tmp_path: Path):
    import runpy

    from .conftest import BENCH

    monkeypatch.syspath_prepend(str(BENCH))  # as running the script puts its folder first
    missing = tmp_path / "no-such-dataset"
    for script in ("bench_loader.py", "bench_copy_formats.py"):
        monkeypatch.setattr(sys, "argv", [script, "--dataset", str(missing)])
        with pytest.raises(SystemExit) as exc:
            runpy.run_path(str(BENCH / script), run_name="__main__")
        assert exc.value.code == 2, script
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        assert str(missing) in err and "--dataset" in err and "real_clips.py" in err


def test_the_pixel_check_catches_a_decoder_returning_another_frame(bl):
    rng = np.random.default_rng(0)
    pics = [rng.integers(0, 255, (24, 32, 3), dtype=np.uint8) for _ in range(4)]
    close = [p.copy() for p in pics]  # a rounding difference, well under the tolerance
    for c in close:
        c[:2] = np.clip(c[:2].astype(np.int16) + 1, 0, 255)
    frames = {"raw pyav": pics, "raw decord": close, "dataset[i]": list(pics), "official": list(pics)}
    frames["raw decord"] = [close[0], close[1], pics[3], close[3]]  # frame 12 is another picture
    bad, worst = bl.disagreements(frames, [10, 11, 12, 13])
    assert [(row, f) for row, f, _, _ in bad] == [("raw decord", 12)]
    assert worst["raw pyav"] == 0.0 and worst["raw decord"] > bl.PIXEL_TOLERANCE
    assert bl.disagreements({k: list(pics) for k in frames}, [10, 11, 12, 13])[0] == []


def test_pixel_differences_exit_non_zero_after_printing(bl, monkeypatch, capsys, tmp_path, no_thread_change):
    (tmp_path / "train.json").write_text("{}")
    miss = "box: raw decord frame 12 differs from raw pyav (mean |diff| 40.0)"
    monkeypatch.setattr(bl, "run", lambda *a: {"families": {"box": {"pixel_mismatches": [miss]}}})
    monkeypatch.setattr(sys, "argv", ["bench_loader.py", "--dataset", str(tmp_path), "--json"])
    with pytest.raises(SystemExit) as exc:
        bl.main()
    assert miss in str(exc.value.code)
    assert json.loads(capsys.readouterr().out)["families"]["box"]["pixel_mismatches"] == [miss]


def shop_hits(bl, tmp_path: Path, cold: bool) -> int:
    """Shop-image cache hits of dataset rows called as the CPU loop and the loaders call them."""
    from movingfashion.items import _shop_key
    from movingfashion.media.images import write_image

    write_image(tmp_path / "s.jpg", np.zeros((8, 8, 3), np.uint8))

    hits = []

    class Row:
        def __getitem__(self, i):
            before = bl._shop_image.cache_info().hits  # cache_clear() resets the counts
            bl._shop_image(*_shop_key(tmp_path / "s.jpg"), None)
            hits.append(bl._shop_image.cache_info().hits > before)

        def __len__(self):
            return 3

    bl._shop_image.cache_clear()
    calls = {"copy[i]": lambda k: Row()[k], "official": lambda k: None}
    bl.cpu_pass(calls, 3, bl._shop_image.cache_clear if cold else (lambda: None))
    ds = bl.shop_regime(Row(), cold)
    for i in range(3):
        ds[i]
    bl._shop_image.cache_clear()
    return sum(hits)


def test_dataset_rows_read_the_shop_image_cold_by_default(bl, tmp_path: Path):
    # the untimed warm pass hits twice; cold: no timed call and no loader item hits
    assert shop_hits(bl, tmp_path, cold=True) == 2
    assert shop_hits(bl, tmp_path, cold=False) == 2 + 3 + 2


def test_repeats_draw_fresh_clips_and_the_verdict_says_within_noise(bl):
    first = bl.family_items([0, 1], 4, 3)
    second = bl.family_items([0, 1], 4, 3, start=2)
    assert first == [0, 1, 4] and second == [8, 9, 12] and not set(first) & set(second)
    s = bl.spread([0.92, 0.96, 1.0])
    assert s["median"] == 0.96
    assert bl.verdict(s["median"], s, 0.95).startswith("OK (within noise")
    assert bl.verdict(0.9, bl.spread([0.88, 0.9, 0.94]), 0.95) == "NOT MET"


def test_a_row_is_charged_the_cpu_its_threads_spend_after_it_returns(bl, monkeypatch):
    """decord and torchcodec keep decoding on their own threads after a call returns: that CPU is
    the row's, not the next row's (a fake process clock: "late" spends 1 while called and 5 more
    in the background afterwards, "quiet" spends 1)."""
    clock = {"t": 0.0, "pending": 0.0}

    def late(k):
        clock["t"] += 1.0
        clock["pending"] = 5.0

    def quiet(k):
        clock["t"] += 1.0

    def sleep(s):  # the background work goes on while the caller waits
        step = min(1.0, clock["pending"])
        clock["t"] += step
        clock["pending"] -= step

    monkeypatch.setattr(bl.time, "process_time", lambda: clock["t"])
    monkeypatch.setattr(bl.time, "sleep", sleep)
    got = bl.cpu_pass({"late": late, "quiet": quiet}, 4, lambda: None)
    assert got == {"late": 6000.0, "quiet": 1000.0}


def test_goal_3_is_judged_on_interleaved_steady_epochs(bl, monkeypatch, capsys):
    """Goal 3's steady figure: one warm epoch per loader, then 0- and 2-worker epochs of the
    clips repeated ``rounds`` times, interleaved; the ratio is the median over the pairs, and the
    one-pass figure the benchmark printed before is printed beside it."""
    made, order = [], []

    class Loader:
        def __init__(self, ds, batch_size, sampler, collate_fn, num_workers, **kw):
            self.num_workers, self.sampler = num_workers, sampler
            made.append((num_workers, len(sampler), kw.get("persistent_workers", False)))

        def __iter__(self):
            order.append(self.num_workers)
            return iter(())

    rates = iter([10.0, 18.0, 10.0, 21.0, 12.0, 18.0])  # 0w, 2w, 0w, 2w, ...: ratios 1.8, 2.1, 1.5

    def timed_pass(dl, clips):
        order.append(f"timed {dl.num_workers}")
        cpu = {"workers": 0.0, "main": 6.0} if dl.num_workers == 0 else {"workers": 6.5, "main": 0.5}
        return {
            "cpu_ms_per_batch": cpu,
            "rate": next(rates),
            "split": {"run": 0.9, "queue": 0.05, "idle": 0.05, "main_run": 0.04, "main_queue": 0},
        }

    monkeypatch.setattr(bl.torch.utils.data, "DataLoader", Loader)
    monkeypatch.setattr(bl, "timed_pass", timed_pass)
    got = bl.steady_scaling(object(), list(range(12)), batch=4, rounds=8, repeat=3)
    assert made == [(0, 96, False), (2, 96, True)]
    assert order == [0, 2] + ["timed 0", "timed 2"] * 3  # warm epochs first, then interleaved pairs
    assert got["ratio"]["median"] == pytest.approx(1.8) and got["batches"] == 24
    assert got["ratio"]["min"] == pytest.approx(1.5) and got["ratio"]["max"] == pytest.approx(2.1)
    bl.print_workers({"copy": {"batch": 4, "clips": 12, "ratio": 1.2, "steady": got}})
    out = capsys.readouterr().out
    assert "copy 1.80 (1.50-2.10)x (goal >= 1.8): OK" in out
    assert "one pass of 12 clips (3 batches" in out and "copy 1.20x" in out
    assert "copy 2w epoch: each worker ran 90%, waited for a core 5%, idle 5%" in out
    assert (
        "copy CPU ms per batch: 0 workers 6.0; 2 workers 6.5 in the workers + 0.5 in the main process" in out
    )


def test_a_pass_splits_its_workers_time_from_the_scheduler(bl):
    """A thread's time on a CPU and waiting for one, from Linux's schedstat; a process's CPU
    counts all its threads (a DataLoader worker's queue feeder thread too), not only the main one."""
    import os
    import threading

    pid = os.getpid()
    if not Path(f"/proc/{pid}/task/{threading.get_native_id()}/schedstat").is_file():
        pytest.skip("no /proc/<pid>/task/<tid>/schedstat on this system")
    done, release = threading.Event(), threading.Event()

    def work():
        sum(range(2_000_000))
        done.set()
        release.wait()

    a, threads0 = bl.sched_times(pid), bl.thread_times(pid)
    sum(range(200_000))
    worker = threading.Thread(target=work)
    worker.start()
    done.wait()
    b, spent = bl.sched_times(pid), bl.thread_times(pid)  # the thread's work done, the thread alive
    release.set()
    worker.join()
    assert a is not None and b is not None and b[0] > a[0] and b[1] >= a[1]
    other = spent[worker.native_id] - threads0.get(worker.native_id, 0.0)
    assert other > 0.01  # ~2M additions on the other thread: a process's CPU counts it
    assert bl.cpu_between(threads0, spent) >= other
    assert bl.cpu_between({1: 1.0, 2: 2.0}, {1: 1.5, 3: 0.25}) == pytest.approx(0.75)  # 3 new, 2 gone
    assert bl.sched_times(2**22 + 12345) is None and bl.thread_times(2**22 + 12345) == {}  # no such process


def test_goal_2_is_judged_on_per_clip_pairs_with_a_confidence_interval(bl):
    """Each clip read both ways is one ratio: the geometric mean of the clips' ratios, and an
    interval that says whether it decides the goal."""
    same = bl.paired_ratio([9.0, 18.0, 27.0], [10.0, 20.0, 30.0])
    assert math.isclose(same["ratio"], 0.9) and math.isclose(same["low"], 0.9) and same["pairs"] == 3
    # Student's t (exact: 2.2281 for 10 degrees of freedom, 2.0301 for 35)
    assert abs(bl.t_quantile(0.975, 10) - 2.2281) < 0.003 and abs(bl.t_quantile(0.975, 35) - 2.0301) < 0.001
    noisy = bl.paired_ratio([0.90, 1.00, 0.93, 0.97], [1.0] * 4)
    assert noisy["low"] < noisy["ratio"] < noisy["high"] and noisy["low"] < 0.95 < noisy["high"]
    assert "UNDECIDED" in bl.decided(noisy, 0.95)
    assert bl.decided(bl.paired_ratio([0.97, 0.98, 0.99], [1.0] * 3), 0.95).startswith("OK (3 pairs")
    assert bl.decided(bl.paired_ratio([0.90, 0.91, 0.92], [1.0] * 3), 0.95).endswith(": not met)")
    # shown rounded outwards: an interval just under the goal never prints as starting at it
    edge = {"ratio": 0.969, "low": 0.9495, "high": 0.9897, "pairs": 84, "level": 0.95}
    assert "CI 0.949-0.990 straddles" in bl.decided(edge, 0.95)


def test_the_loop_keeps_every_clips_cpu_and_the_extra_pairs_read_raw_item_item_raw(bl, monkeypatch):
    clock = {"t": 0.0}
    monkeypatch.setattr(bl.time, "process_time", lambda: clock["t"])
    monkeypatch.setattr(bl.time, "sleep", lambda s: None)

    def row(cost, log=None, name=""):
        def go(k):
            clock["t"] += cost * (k + 1)
            if log is not None:
                log.append(name)

        return go

    per: dict = {}
    bl.cpu_pass({"a": row(1.0), "dataset[i]": row(2.0)}, 3, lambda: None, per)
    assert per == {"a": [1000.0, 2000.0, 3000.0], "dataset[i]": [2000.0, 4000.0, 6000.0]}
    log: list[str] = []
    raw, item = row(1.0, log, "raw"), row(2.0, log, "item")
    a, b = bl.abba_pass(raw, item, 2, lambda: log.append("prep"))
    assert a == [1000.0, 2000.0] and b == [2000.0, 4000.0]
    timed = log[4:]  # after the warm pass (raw, item per clip)
    assert timed[:6] == ["raw", "prep", "item", "prep", "item", "raw"]


def test_goal_3_measures_chunked_loaders_beside_the_plain_one_and_judges_the_first(bl, monkeypatch, capsys):
    """``--worker-chunks 1,4``: a 2-worker ChunkedLoader (4 batches a message) interleaved with the
    plain 2-worker loader and the same 0-worker one; the verdict and top-level figures are chunk 1's."""
    made, order = [], []

    class Loader:
        def __init__(self, ds, batch_size, sampler, collate_fn=None, num_workers=0, chunk=1, **kw):
            self.num_workers, self.chunk = num_workers, chunk
            made.append((type(self).__name__, num_workers, chunk, kw.get("prefetch_factor")))

        def __iter__(self):
            return iter(())

        def __len__(self):
            return 24

    class Chunked(Loader):
        pass

    rates = iter([10.0, 18.0, 15.0] * 3)  # per round: 0w, 2w chunk 1, 2w chunk 4

    def timed_pass(dl, clips):
        order.append((dl.num_workers, dl.chunk))
        main = 0.2 if dl.chunk == 4 else 0.5
        cpu = {"workers": 0.0, "main": 6.0} if dl.num_workers == 0 else {"workers": 6.5, "main": main}
        return {"cpu_ms_per_batch": cpu, "rate": next(rates), "split": None}

    monkeypatch.setattr(bl.torch.utils.data, "DataLoader", Loader)
    monkeypatch.setattr(bl, "ChunkedLoader", Chunked)
    monkeypatch.setattr(bl, "timed_pass", timed_pass)
    got = bl.steady_scaling(object(), list(range(12)), batch=4, rounds=8, repeat=3, chunks=(1, 4))
    assert made == [("Loader", 0, 1, None), ("Loader", 2, 1, 4), ("Chunked", 2, 4, 2)]
    assert order == [(0, 1), (2, 1), (2, 4)] * 3
    assert got["ratio"]["median"] == pytest.approx(1.8) and got["chunk"] == 1
    assert got["by_chunk"][4]["ratio"]["median"] == pytest.approx(1.5)
    bl.print_workers({"cache": {"batch": 4, "clips": 12, "ratio": 1.2, "steady": got}})
    out = capsys.readouterr().out
    assert (
        "cache 1.80 (1.80-1.80)x (goal >= 1.8): OK" in out
        and "cache chunk 4: steady 1.50 (1.50-1.50)x" in out
    )
    assert "cache chunk 4 CPU ms per batch: 0 workers 6.0; 2 workers 6.5 in the workers + 0.2" in out


def test_every_family_runs_on_one_setup_built_once(bl, monkeypatch, tmp_path: Path):
    """``family_run`` took 14 arguments its only call mirrored one by one: it now takes the run's
    setup (:class:`LoaderRun`, built once from the parsed arguments, frozen) and the family's
    draws (:class:`FamilyDraws`)."""
    import argparse
    import dataclasses
    from types import SimpleNamespace

    video = SimpleNamespace(rel_path="videos/v.mp4")

    class Dataset:  # what run() reads of a dataset before the families
        def __init__(self, *a, **kw):
            self.products = [SimpleNamespace(videos=[video])] * 4

        def __len__(self):
            return 4

    monkeypatch.setattr(bl, "MovingFashionDataset", Dataset)
    for fn in ("check_official_threads", "build_training_copy", "build_crop_cache", "print_goals"):
        monkeypatch.setattr(bl, fn, lambda *a, **kw: None)
    monkeypatch.setattr(bl, "families", lambda ds, root: {"a": [0, 1], "b": [2, 3]})
    seen = []
    monkeypatch.setattr(bl, "family_run", lambda setup, family: seen.append((setup, family)) or {})
    args = argparse.Namespace(
        frames_per_clip=4, seed=0, official_default_threads=False, families=None, shop_cache="cold",
        repeat=2, workers_only=False, clips=3, worker_clips=2, pairs=1,
    )  # fmt: skip
    report = bl.run(tmp_path, args, tmp_path, "test")
    assert sorted(report["families"]) == ["a", "b"]
    (s1, a), (s2, b) = seen
    assert s1 is s2 and s1.args is args and s1.threads == 1 and s1.copy_dir == tmp_path / "training_copy"
    assert (a.name, b.name) == ("a", "b") and a.witems == [0, 1] and b.witems == [2, 3]
    # fresh RRS draws per CPU run (index + k * 4 items), the extra pairs on draws of their own
    assert a.draws == [[0, 1, 4], [8, 9, 12]] and a.pair_items == [16]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s1.threads = None


def test_goal_3_prints_the_bound_its_own_pair_of_passes_sets(bl, capsys):
    """The bound line comes from the judged pair's measurements, never a constant: 0-worker wall
    ms per batch over (2-worker CPU ms per batch / cores); no line without those figures."""
    zero = {"wall_s": 24 * 0.004, "cpu_ms_per_batch": {"workers": 0.0, "main": 3.7}}
    two = {"wall_s": 24 * 0.0028, "cpu_ms_per_batch": {"workers": 4.5, "main": 0.5}}
    got = bl.cores_bound(zero, two, batches=24, cores=2)
    assert got["wall"] == pytest.approx(4.0 / (5.0 / 2)) and got["cpu"] == pytest.approx(2 * 3.7 / 5.0)
    slower = {"wall_s": 24 * 0.01, "cpu_ms_per_batch": {"workers": 0.0, "main": 9.5}}
    other = bl.cores_bound(slower, two, batches=24, cores=2)
    # computed from the pair, not a constant
    assert other["cpu"] == pytest.approx(2 * 9.5 / 5.0) and other["wall"] == pytest.approx(10 / 2.5)
    assert bl.cores_bound({"cpu_ms_per_batch": {"workers": 0.0, "main": 3.7}}, two, batches=24) is None
    steady = {
        "batches": 24,
        "ratio": {"median": 1.43, "min": 1.4, "max": 1.5, "runs": [1.43]},
        "split": None,
        "cpu_ms_per_batch": {0: zero["cpu_ms_per_batch"], 2: two["cpu_ms_per_batch"]},
        "bound": got,
    }
    bl.print_workers({"cache": {"batch": 4, "clips": 12, "ratio": 1.2, "steady": steady}})
    out = capsys.readouterr().out
    assert (
        "cache bound on this machine (this pair's CPU ms per batch): 2 cores x 0 workers 3.7 / 2 workers"
        " 5.0 (workers + main) = 1.48x with a core per process; 1.60x with this run's 0-worker wall"
        " (4.0 ms per batch" in out
    )


def test_the_frame_row_reads_whole_frames_and_prints_goal_2s_second_line(
    bl, tmp_path: Path, capsys, monkeypatch
):
    """``crop="frame"`` (whole frames at the video's size, crops cut on the device): a table row, per-clip
    pairs against the crops' fastest raw decoder on its own frames (the CPU loop's and the --pairs
    pass's), and a second goal-2 line beside the crops' one with the CPU cost of the crops it leaves."""
    import argparse

    from movingfashion.media.readers import PyAVReader
    from tests.movingfashion.helpers import make_dataset

    monkeypatch.setattr(bl, "torchcodec_problem", lambda: "not in this test")  # pyav and decord: cheaper
    root = make_dataset(tmp_path / "ds")
    h, w = np.asarray(PyAVReader(str(root / "videos/101_0.mp4")).get([0])[0]).shape[:2]
    args = argparse.Namespace(
        frames_per_clip=3, seed=0, official_default_threads=False, families=None, shop_cache="cold",
        repeat=1, workers_only=False, clips=2, worker_clips=2, pairs=1, no_workers=True, no_frame_row=False,
    )  # fmt: skip
    report = bl.run(root, args, tmp_path / "work", "test")
    out = capsys.readouterr().out
    (fam,) = report["families"].values()
    fr = fam["frame_row"]
    assert fr["crop"] == "frame" and fr["sizes"] == [[h, w]]  # the video's own size, not crops
    assert fr["overhead_paired"]["pairs"] == 2 + 1  # the CPU loop's clips and the --pairs clip
    assert len(fr["pairs_ms"][f"raw {fam['fastest_raw']}"]) == 3
    assert "loader 0w frame" in fam["clips_per_s"] and "\n   loader 0w frame " in out
    crops_line = out.index("   2. dataset[i] / fastest raw decoder")
    frame_line = out.index(
        '   2. alternative, crops cut on the device (not the verdict): dataset[i] crop="frame"'
    )
    assert frame_line > crops_line and f"(whole frames {w}x{h}) / raw {fam['fastest_raw']} on the same" in out
    assert "per-clip pairs" in out[frame_line:] and "CPU ms a clip at 1 torch thread" in out[frame_line:]
    # --no-frame-row: no line
    bl.print_frame_line({**fam, "frame_row": None})
    assert capsys.readouterr().out == ""
