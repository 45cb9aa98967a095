"""``make test``'s ``--dist loadgroup``: every test of an xdist group runs on one worker (the Ray
group: two local Ray instances started at once by the two workers competed)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLAIN = "".join(f"def test_{n}():\n    pass\n\n\n" for n in range(6))
#: what ``tests.conftest.pytest_configure`` uses of torch: the runs below check the hooks' groups
#: and ids, not torch, and each of their processes (a run, each of its xdist workers) paid 3-10 s
#: importing the real one (most of the file's 60-300 s)
TORCH_STUB = "def set_num_threads(n):\n    pass\n"


def _pytest(
    tmp_path: Path, *args: str, cache: bool = False, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    """A verbose pytest run of ``args`` in ``tmp_path`` (this repository importable), which must
    pass (``ok``) or fail; ``cache``: with pytest's cache (in ``tmp_path``), for ``--lf``."""
    stub = tmp_path / "stub"  # holds no test
    stub.mkdir(exist_ok=True)
    (stub / "torch.py").write_text(TORCH_STUB)
    path = [str(stub), str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *(["-o", f"cache_dir={tmp_path / '.cache'}"] if cache else ["-p", "no:cacheprovider"]),
            "-o",
            "addopts=",
            "-v",
            "-p",
            "no:randomly",
            "--assert=plain",  # no rewriting of every plugin's modules in each process (3x the CPU)
            *args,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (res.returncode == 0) == ok, res.stdout[-3000:] + res.stderr[-3000:]
    return res


def test_the_tests_of_a_group_run_on_one_worker(tmp_path):
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import pytest_collection_modifyitems  # noqa: F401\n"
    )
    (tmp_path / "test_first.py").write_text(PLAIN)
    (tmp_path / "test_ray_things.py").write_text(PLAIN)  # "ray" in its name: the Ray group
    res = _pytest(tmp_path, "-n", "2", "--dist", "loadgroup", str(tmp_path))
    workers = defaultdict(set)
    ran = re.findall(r"\[(gw\d)\] \[\s*\d+%\] PASSED (\S+)", res.stdout)
    for worker, nodeid in ran:
        workers[nodeid.split("::")[0]].add(worker)
    assert len(ran) == 12, res.stdout
    assert len(workers["test_ray_things.py"]) == 1, res.stdout
    assert all("@" not in n for _, n in ran if n.startswith("test_first.py")), res.stdout  # no group


def test_a_node_id_printed_with_its_group_selects_its_test(tmp_path):
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import pytest_collection_modifyitems, pytest_configure  # noqa: F401\n"
    )
    (tmp_path / "test_ray_things.py").write_text(PLAIN)
    (tmp_path / "test_shared.py").write_text(
        "import pytest\n\n\n@pytest.fixture(scope='module')\ndef one():\n    return 1\n\n\n"
        "@pytest.mark.parametrize('p', ['a@b', 'c'])\ndef test_x(one, p):\n    pass\n"
    )
    # the ids as a failed `make test` (-n 2 --dist loadgroup) prints them
    ids = ["test_ray_things.py::test_3@ray", "test_shared.py::test_x[a@b]@module:test_shared.py"]
    plain = ["test_ray_things.py::test_3", "test_shared.py::test_x[a@b]"]  # without -n: no groups
    for extra in ([], ["-n", "2", "--dist", "loadgroup"]):
        res = _pytest(tmp_path, *extra, *ids)
        ran = sorted(a or b for a, b in re.findall(r"^(\S+) PASSED|PASSED (\S+) *$", res.stdout, re.M))
        assert ran == (sorted(ids) if extra else plain), res.stdout


def test_last_failed_reruns_a_grouped_failure_with_or_without_groups(tmp_path):
    """A test of a group failed in a run with groups (``-n 2 --dist loadgroup``, ``make test``)
    is what ``--lf`` runs without ``-n``, and the other way round.

    ``--lf`` names the test file: pytest then keeps every test of it at collection (an argument
    is never filtered there) and only the failures' ids, matched after the group hook, select
    what runs; with a folder the collection filter (ids without groups) hides a wrong match."""
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import pytest_collection_modifyitems, pytest_configure  # noqa: F401\n"
    )
    (tmp_path / "test_ray_things.py").write_text(
        PLAIN + "def test_flaky():\n    import os\n    assert not os.path.exists('fail')\n"
    )
    (tmp_path / "test_plain.py").write_text(PLAIN)
    grouped = ["-n", "2", "--dist", "loadgroup"]
    named = str(tmp_path / "test_ray_things.py")
    for first, then in ((grouped, []), ([], grouped)):
        (tmp_path / "fail").touch()
        _pytest(tmp_path, *first, str(tmp_path), cache=True, ok=False)
        res = _pytest(tmp_path, *then, "--lf", named, cache=True, ok=False)
        ran = re.findall(
            r"(\S+::test_\w+)\S* (?:PASSED|FAILED)|(?:PASSED|FAILED) (\S+::test_\w+)", res.stdout
        )
        assert sorted({a or b for a, b in ran}) == ["test_ray_things.py::test_flaky"], res.stdout
        (tmp_path / "fail").unlink()
        _pytest(tmp_path, *then, "--lf", named, cache=True)
