"""The dataset's *refresh pending* mark, ``DATASET/.tracklets-refresh-pending`` (hidden: no
manifest, table or archive lists it).

A command that rewrites tracklet or split files of a published folder (``mf-tracklets build``,
``mf-tracklets import``, a review pick or its undo) sets the mark before its first write and
clears it after :func:`movingfashion.archive.describe.refresh` has described the folder again.
Killed in between, it leaves the mark: the rerun (or the review server's start-up reconcile)
finds its files already written, but the mark makes it refresh the whole folder (every file
hashed again), so it ends as an uninterrupted run would.

The mark's lines name who set it (:data:`BY_BUILD`, :data:`BY_IMPORT`, :data:`BY_PICK`). Each
build run has a line of its own (:class:`BuildRun`:
``build:<host>-<pid>-<start>-<i>/<n>-<boot id>-<ticks>``: its shard, then its process as this
host's kernel knows it, the boot and the start in clock ticks since boot, where ``/proc`` says)
and clears only that line, and the lines of the killed builds it settled: builds of several
shards of one folder, on one host or several, leave each other's lines alone. A build counts a
line as a killed build's, whose work it settles again, when its owner is gone on this host (no
such process in this boot, or another process started at another tick: its pid taken again;
no wall clock is compared, so a clock step changes nothing; a line without boot and ticks, as
older toolkits wrote, counts as gone when its wall-clock start is before this boot), or when it
is another host's line found at the start (its liveness cannot be checked here: it was set
before this run's own line, an order the dataset's lock gives every host alike, whatever their
clocks); a bare ``build`` line (what older toolkits wrote; an empty mark too) always.

A refresh settles what an import or a pick left pending, not what a build did (the builder also
settles flags and merges the split files again on its rerun), so :func:`refresh_if_pending`
leaves the builders' lines in place; a build that finds an import's or a pick's line at its
start refreshes the whole folder, which settles it, and clears it at its end. The mark is
changed under the dataset's lock (:func:`annotations.tracklet_files.dataset_lock`, re-entrant).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from annotations.tracklet_files import dataset_lock
from movingfashion.archive.at_rest import REFRESH_MARK
from schemas.atomic import atomic_write_text, host_tag, pid_alive
from schemas.faults import local_faults

#: the mark's file name, in the dataset folder (``mf verify`` reads it)
REFRESH_PENDING = REFRESH_MARK
#: who set a mark: ``mf-tracklets build`` (its rerun also settles flags and merges split files)
BY_BUILD = "build"
#: one build run's line: its host (as :mod:`schemas.atomic` names it), pid, start (wall clock,
#: ns: names the run, orders nothing), shard, and (older toolkits wrote none) its process's boot
#: id (hex, no dashes) and start in clock ticks since that boot
_RUN_LINE = re.compile(
    rf"{BY_BUILD}:(?P<host>[A-Za-z0-9_]+)-(?P<pid>[0-9]+)-(?P<start>[0-9]+)-(?P<i>[0-9]+)/(?P<n>[0-9]+)"
    r"(?:-(?P<boot>[0-9a-f]{32})-(?P<ticks>[0-9]+))?"
)
#: where the kernel names this boot (a new one at each boot)
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
#: the lines of the build runs going on in this process (a line of this pid not here is over)
_RUNNING: set[str] = set()
#: how much earlier (seconds) than this boot an older toolkit's line may say its run started and
#: still be of this boot (the boot time the kernel gives is whole seconds)
_START_SLACK_S = 2.0
#: ... ``mf-tracklets import``
BY_IMPORT = "import"
#: ... a review pick, its undo, or the review server's reconcile
BY_PICK = "pick"


def mark_path(dataset: str | os.PathLike[str]) -> Path:
    """Where the dataset's refresh-pending mark lies."""
    return Path(dataset) / REFRESH_PENDING


def pending_by(dataset: str | os.PathLike[str]) -> set[str]:
    """Who left the mark unfinished (empty set: no mark; an empty mark is the builder's)."""
    path = mark_path(dataset)
    try:
        with local_faults(path):
            text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return set()
    return {line.strip() for line in text.splitlines() if line.strip()} or {BY_BUILD}


def set_pending(dataset: str | os.PathLike[str], by: str) -> None:
    """Set the mark for ``by`` (before the first write of a refresh's worth of files)."""
    with dataset_lock(dataset):
        held = pending_by(dataset)
        if by not in held:
            _write(dataset, held | {by})


def clear_pending(dataset: str | os.PathLike[str], by: Iterable[str] | str | None = None) -> None:
    """Clear ``by``'s line (or lines; None: every line) of the mark, and the mark once empty
    (after the refresh)."""
    with dataset_lock(dataset):
        held = pending_by(dataset)
        left = set() if by is None else held - ({by} if isinstance(by, str) else set(by))
        if left != held:
            _write(dataset, left)


def refresh_if_pending(dataset: str | os.PathLike[str]) -> bool:
    """When a killed run left the mark, refresh the whole folder and clear what that settles
    (every line but the builders'); returns whether it refreshed."""
    held = pending_by(dataset)
    if not held:
        return False
    from movingfashion.archive.describe import refresh

    refresh(dataset)  # what changed is not known: every file is hashed again
    clear_pending(dataset, {line for line in held if not is_build(line)})
    return True


def is_build(line: str) -> bool:
    """Whether a line of the mark is a build's (a run's own, or an older toolkit's bare one)."""
    return line == BY_BUILD or line.startswith(f"{BY_BUILD}:")


@dataclass
class BuildRun:
    """One ``mf-tracklets build`` run's line of the mark: :meth:`begin` sets it before the first
    write and notes the killed builds' lines (:attr:`stale`), :meth:`finish` clears it (and the
    stale lines whose videos the run settled) after the refresh; :meth:`close` when the run ends
    whichever way (this process then no longer runs it)."""

    line: str
    shard: tuple[int, int]
    start_ns: int
    #: the lines of builds that did not finish (their written videos are to be settled again)
    stale: frozenset[str] = frozenset()
    #: the import's and pick's lines found at the start: the run's whole-folder refresh settles them
    settles: frozenset[str] = frozenset()

    @classmethod
    def new(cls, shard: tuple[int, int] = (0, 1)) -> BuildRun:
        """A run of this process over ``shard`` (``(i, n)``), starting now."""
        start = time.time_ns()
        line = f"{BY_BUILD}:{host_tag()}-{os.getpid()}-{start}-{shard[0]}/{shard[1]}"
        owner = _process_id(os.getpid())
        if owner is not None:
            line += f"-{owner[0]}-{owner[1]}"
        _RUNNING.add(line)
        return cls(line, shard, start)

    @property
    def unfinished(self) -> bool:
        """Whether a killed build left work to settle (its written videos count as built now)."""
        return bool(self.stale)

    def begin(self, dataset: str | os.PathLike[str]) -> set[str]:
        """Set this run's line; returns the lines the mark held before (others' runs)."""
        with dataset_lock(dataset):
            held = pending_by(dataset)
            self.stale = frozenset(line for line in held if is_build(line) and self._killed(line))
            self.settles = frozenset(line for line in held if not is_build(line))
            set_pending(dataset, self.line)
        return held

    def finish(self, dataset: str | os.PathLike[str]) -> None:
        """Clear this run's line, the stale lines it settled (those of its own shard; an
        unsharded run: every one) and the import's and pick's lines it found at its start, once
        its flags are settled and the whole folder refreshed (which a line found at the start
        makes it do); lines set while it ran stay."""
        covered = {line for line in self.stale if self._covers(line)}
        clear_pending(dataset, {self.line} | covered | set(self.settles))

    def close(self) -> None:
        """The run is over in this process (its line, if left, is a killed run's from now on)."""
        _RUNNING.discard(self.line)

    def _covers(self, line: str) -> bool:
        """Whether this run's jobs hold every video of the run behind ``line``."""
        if self.shard == (0, 1):
            return True
        m = _RUN_LINE.fullmatch(line)
        return m is not None and (int(m["i"]), int(m["n"])) == self.shard

    def _killed(self, line: str) -> bool:
        """Whether ``line`` (found in the mark when this run set its own) is a build that did not
        finish: a bare or unknown line, an owner gone on this host, or another host's line (set
        before this run's: the dataset's lock orders the mark's changes for every host)."""
        m = _RUN_LINE.fullmatch(line)
        if m is None or m["host"] != host_tag():
            return True
        owner = (m["boot"], int(m["ticks"])) if m["boot"] is not None else None
        return not _owner_alive(line, int(m["pid"]), int(m["start"]), owner)


def _owner_alive(line: str, pid: int, start_ns: int, owner: tuple[str, int] | None) -> bool:
    """Whether the run of this host behind ``line`` is still going: its pid alive and the
    process the line names (``owner``: boot id and start ticks), or, for a line without them
    (an older toolkit's), its wall-clock start not before this boot."""
    if pid == os.getpid():
        return line in _RUNNING
    if not pid_alive(pid):
        return False
    if owner is None:
        return not _before_boot(start_ns)
    now = _process_id(pid)
    return now is None or now == owner  # /proc does not say: the pid alive is all there is


def _process_id(pid: int) -> tuple[str, int] | None:
    """Process ``pid`` as this host's kernel knows it, whatever the clocks: (this boot's id, hex
    without dashes; its start in clock ticks since boot, ``/proc/<pid>/stat`` field 22); None
    when ``/proc`` does not say (another system, or the process is gone)."""
    try:
        boot = _BOOT_ID.read_text().strip().replace("-", "").lower()
        ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None
    return (boot, ticks) if re.fullmatch(r"[0-9a-f]{32}", boot) else None


def _before_boot(start_ns: int) -> bool:
    """Whether a line's wall-clock start lies before this boot (``btime`` of ``/proc/stat``): its
    pid is another process's now. Only for a line without boot id and ticks (an older
    toolkit's); False when unknown. A pid taken again within one boot is not told apart: by wall
    clocks it could not be told from a clock step either (the owner would look started after
    its line), which made a live build's line count as a killed one's."""
    try:
        boot = next(
            int(x.split()[1]) for x in Path("/proc/stat").read_text().splitlines() if x.startswith("btime ")
        )
    except (OSError, ValueError, IndexError, StopIteration):
        return False
    return start_ns / 1e9 + _START_SLACK_S < boot


def _write(dataset: str | os.PathLike[str], by: set[str]) -> None:
    """The mark holding ``by`` (none: no mark)."""
    path = mark_path(dataset)
    with local_faults(path):
        if by:
            atomic_write_text(path, "".join(f"{b}\n" for b in sorted(by)))
        else:
            path.unlink(missing_ok=True)
