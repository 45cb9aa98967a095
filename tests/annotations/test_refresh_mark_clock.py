"""Whether a build line of the refresh-pending mark is a killed run's does not hang on wall clocks:
a line of this host names its process by boot id and start ticks (a clock step moves neither),
and another host's line found when a run sets its own came first, whatever that host's clock."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from annotations.refresh_mark import BY_BUILD, BuildRun, pending_by, set_pending
from schemas.atomic import host_tag

pytestmark = pytest.mark.skipif(
    not Path("/proc/sys/kernel/random/boot_id").is_file(), reason="needs Linux /proc"
)

#: a child that starts a build run, prints its line and waits (a live build of this host)
_CHILD = (
    "import sys, time\n"
    "from annotations.refresh_mark import BuildRun\n"
    "print(BuildRun.new((0, 1)).line, flush=True)\n"
    "time.sleep(120)\n"
)


@pytest.fixture
def live_line() -> Iterator[str]:
    """The mark line of a live build run of another process of this host."""
    child = subprocess.Popen([sys.executable, "-c", _CHILD], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        yield child.stdout.readline().strip()
    finally:
        child.kill()
        child.wait()


#: a build run's line as this toolkit writes it
_LINE = re.compile(
    r"(?P<who>build:\w+-\d+)-(?P<start>\d+)-(?P<shard>\d+/\d+)-(?P<boot>[0-9a-f]{32})-(?P<ticks>\d+)"
)


def _with(line: str, **fields: object) -> str:
    """``line`` with some of its fields (who, start, shard, boot, ticks) replaced; ``boot=None``
    leaves boot and ticks out, as older toolkits wrote."""
    m = _LINE.fullmatch(line)
    assert m is not None, line
    f = {**m.groupdict(), **fields}
    tail = "" if f["boot"] is None else f"-{f['boot']}-{f['ticks']}"
    return f"{f['who']}-{f['start']}-{f['shard']}{tail}"


def _field(line: str, name: str) -> int:
    m = _LINE.fullmatch(line)
    assert m is not None, line
    return int(m[name])


def _stale(root: Path, *lines: str) -> frozenset[str]:
    """The lines an unsharded run starting now counts as killed runs'."""
    for line in lines:
        set_pending(root, line)
    run = BuildRun.new((0, 1))
    try:
        run.begin(root)
        return run.stale
    finally:
        run.close()


def test_a_live_builds_line_stays_alive_after_a_clock_step(tmp_path: Path, live_line: str):
    """The wall clock stepped 10 s forward since the line was written (NTP step, VM resume): the
    process looks started after its line by wall clocks, but it is the one the line names."""
    assert live_line.startswith(f"{BY_BUILD}:{host_tag()}-")
    stepped = _with(live_line, start=_field(live_line, "start") - 10 * 10**9)
    assert _stale(tmp_path, live_line, stepped) == frozenset()  # was: both counted killed


def test_an_older_toolkits_line_of_a_live_process_is_not_judged_by_wall_clocks(tmp_path: Path):
    """A line without boot id and ticks, of a live process: written 10 s before the process
    started by this host's clock now (a +10 s step since), it is still that process's."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        time.sleep(0.2)
        old = f"{BY_BUILD}:{host_tag()}-{child.pid}-{time.time_ns() - 10 * 10**9}-0/1"
        assert _stale(tmp_path, old) == frozenset()  # was: counted killed ("pid reused")
    finally:
        child.kill()
        child.wait()


def test_a_pid_taken_by_another_process_or_boot_is_no_owner(tmp_path: Path, live_line: str):
    other_start = _with(
        live_line, ticks=_field(live_line, "ticks") + 1
    )  # another process that got the same pid
    other_boot = _with(live_line, boot="0" * 32)  # written before a reboot
    assert _stale(tmp_path, other_start, other_boot) == {other_start, other_boot}


def test_another_hosts_line_found_at_the_start_is_a_killed_runs_whatever_its_clock(tmp_path: Path):
    """Another host's line is ordered by the mark (changed under the dataset's lock), not by its
    clock: one found when this run sets its line came first, even dated 10 min ahead; one set
    after it stays when this run ends."""
    ahead = f"{BY_BUILD}:elsewhere_x-4242-{time.time_ns() + 600 * 10**9}-0/1"
    set_pending(tmp_path, ahead)
    run = BuildRun.new((0, 1))
    try:
        run.begin(tmp_path)
        assert run.stale == {ahead}  # was: left, as a run started after this one
        behind = f"{BY_BUILD}:elsewhere_x-4243-{time.time_ns() - 600 * 10**9}-0/1"
        set_pending(tmp_path, behind)  # its clock 10 min behind, set while this run goes on
        run.finish(tmp_path)
    finally:
        run.close()
    assert pending_by(tmp_path) == {behind}
