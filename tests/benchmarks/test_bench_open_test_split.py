"""``benchmarks/bench_open_test_split.py``: its old way parses train.json at each test-split open,
its new way reads the listing kept beside it, and both open the same records."""

from __future__ import annotations

from .conftest import load_script


def test_the_old_way_parses_train_and_both_open_the_same_records(tmp_path, split_loads):
    bots = load_script("bench_open_test_split")
    root = bots.make_dataset(tmp_path / "ds", 12, 20)
    bots.MovingFashionDataset(root, "train")
    split_loads.clear()
    old = bots.records_digest(bots.open_test(root, "old"))
    assert split_loads == ["test.json", "train.json"]
    split_loads.clear()
    new = bots.records_digest(bots.open_test(root, "new"))
    assert split_loads == ["test.json"]
    assert old == new
    assert bots.records_digest(bots.open_test(root, "old", "train")) == bots.records_digest(
        bots.open_test(root, "new", "train")
    )


def test_main_runs_and_says_the_records_are_the_same(capsys):
    bots = load_script("bench_open_test_split")
    assert bots.main(["--tracklets", "12", "--boxes", "20", "--repeat", "1", "--what", "test", "train"]) == 0
    out = capsys.readouterr().out
    assert out.count("ratio") == 2 and out.count("same records: yes") == 2
