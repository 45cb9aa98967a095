"""The executors (local backend here; Ray in tests/movingfashion/test_executors_ray.py): map keeps
the order and turns errors into outcomes; pools stream results, cap tasks per key, cancel; the
registry names its choices; asking for Ray without it installed names the install command."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from movingfashion.executors import (
    EXECUTORS,
    RAY_INSTALL,
    LocalExecutor,
    make_executor,
)
from schemas.errors import ConfigError, MediaError


def _work(x: int) -> int:
    if x == 3:
        raise MediaError("cannot decode", where=f"video{x}.mp4")
    if x == 5:
        raise ValueError("bad frame count")
    return x * x


@pytest.mark.parametrize("workers", [None, 3])
def test_local_map_keeps_the_order_and_turns_errors_into_outcomes(workers):
    out = LocalExecutor(workers).map(_work, list(range(7)), desc="test")
    assert [o.value for o in out if o.ok] == [0, 1, 4, 16, 36]
    assert [o.ok for o in out] == [True, True, True, False, True, False, True]
    assert out[3].error == "video3.mp4: cannot decode"  # the toolkit's errors as they render
    assert out[5].error == "ValueError: bad frame count"  # others name their type


def test_map_reports_each_outcome_as_it_arrives():
    seen = []
    out = LocalExecutor().map(_work, [1, 2, 3], desc="test", on_outcome=lambda i, o: seen.append((i, o.ok)))
    assert sorted(seen) == [(0, True), (1, True), (2, False)] and len(out) == 3


def test_an_empty_task_list_gives_no_outcome():
    assert LocalExecutor(show_progress=True).map(_work, [], desc="test") == []


def test_registry_and_unknown_name():
    assert set(EXECUTORS) == {"local", "ray"}
    assert isinstance(make_executor("local", workers=2), LocalExecutor)
    with pytest.raises(ConfigError, match="unknown executor 'cluster'"):
        make_executor("cluster")
    with pytest.raises(ConfigError, match="--ray-address: it is only read by --executor ray"):
        make_executor("local", address="127.0.0.1:6379")
    with pytest.raises(ConfigError, match="workers must be at least 1"):
        make_executor("local", workers=0)


def test_ray_asked_without_ray_installed_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if not installed
    with pytest.raises(ConfigError) as exc:
        make_executor("ray")
    assert RAY_INSTALL in str(exc.value) and "--executor" in str(exc.value)
    assert "movingfashion-toolkit[ray]" in str(exc.value)  # what an installed toolkit needs


def _call(fn):
    return fn()


def test_thread_pool_results_errors_and_per_key_cap():
    running: dict[str, int] = {"a": 0, "b": 0}
    peak: dict[str, int] = {"a": 0, "b": 0}
    lock = threading.Lock()

    def task(key: str, n: int):
        with lock:
            running[key] += 1
            peak[key] = max(peak[key], running[key])
        time.sleep(0.02)
        with lock:
            running[key] -= 1
        if n == 3:
            raise ValueError("boom")
        return n

    pool = LocalExecutor(6).pool(_call, per_key=2)
    for n in range(8):
        key = "a" if n % 2 else "b"
        pool.submit(lambda k=key, n=n: task(k, n), tag=n, key=key)
    got = {r.tag: r for r in pool.drain()}
    pool.close()
    assert sorted(got) == list(range(8))
    assert isinstance(got[3].error, ValueError) and got[5].value == 5
    assert peak["a"] <= 2 and peak["b"] <= 2


def test_thread_pool_cancel_pending():
    pool = LocalExecutor(1).pool(_call)
    gate, started = threading.Event(), threading.Event()
    pool.submit(lambda: (started.set(), gate.wait()), tag="first")
    for n in range(5):
        pool.submit(lambda: None, tag=n)
    # the worker thread has taken the first task (a loaded machine may start it late): running,
    # it cannot be cancelled; the five queued behind it can
    assert started.wait(60), "the worker never started the first task"
    assert pool.cancel_pending() == 5
    gate.set()
    tags = [r.tag for r in pool.results()]
    pool.close()
    assert tags == ["first"]


def test_inline_pool_builds_the_state_once_and_runs_in_order_in_this_thread():
    built = []

    def setup():
        built.append(threading.get_ident())
        return 10

    pool = LocalExecutor().pool(lambda state, x: (state + x, threading.get_ident()), setup=setup)
    for x in range(4):
        pool.submit(x, tag=x)
    pool.submit("boom", tag="bad")
    results = list(pool.drain())
    assert [r.tag for r in results] == [0, 1, 2, 3, "bad"]
    assert [r.value[0] for r in results[:4]] == [10, 11, 12, 13]
    assert {r.value[1] for r in results[:4]} == {threading.get_ident()} and built == [threading.get_ident()]
    assert isinstance(results[4].error, TypeError)


@pytest.mark.parametrize("share", ["1.5", "2.25"])
def test_a_gpu_share_above_one_that_is_not_whole_is_a_usage_error(tmp_path, share):
    """Ray gives a worker a GPU share below 1 or whole GPUs: anything else is refused while the
    options are read (exit 2, one line), before Ray or a model is touched."""
    from click.testing import CliRunner

    from annotations.cli import tracklets

    (tmp_path / "train.json").write_text("{}")
    args = ["build", "--dataset", str(tmp_path), "--executor", "ray", "--ray-address", "127.0.0.1:1"]
    res = CliRunner().invoke(tracklets, [*args, "--gpus-per-worker", share])
    assert res.exit_code == 2, res.output
    assert "--gpus-per-worker" in res.output and "not a whole number" in res.output
    assert "Traceback" not in res.output and "cannot reach" not in res.output
