"""Watch a Ray cluster's head while a run uses it, so a head lost mid-run is reported in the
toolkit's words.

When the head's machine dies, Ray's driver waits for its GCS for about a minute inside a native
call (the main thread never gets control back) and then ends the process with Ray's own log
line. :class:`HeadWatch` is a daemon thread that opens a TCP connection to the head's GCS port
every :data:`PROBE_EVERY_S` seconds; once none has succeeded for :data:`LOST_AFTER_S` seconds it
calls ``on_lost`` with one line that names the address and what to do. The default,
:func:`exit_lost`, prints it on stderr and ends the process with exit status 1 (a fault stopped
the run). Ending the process there is as safe as a killed driver: every write is atomic and
every stage resumes (README, "When things go wrong").
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Callable

from schemas.errors import ConfigError

#: Seconds without an answer from the head's GCS port after which the cluster counts as lost
#: (Ray itself gives up after 60 s; a live head answers a TCP connection at once).
LOST_AFTER_S = 15.0
#: Seconds between two probes of the head.
PROBE_EVERY_S = 2.0
#: Exit status of a run whose cluster was lost (a fault stopped the run).
LOST_EXIT_STATUS = 1


def lost_message(address: str, silent_s: float, where: str = "--ray-address") -> str:
    """The one line that reports a lost head: the address, for how long, and what to do."""
    return str(
        ConfigError(
            f"lost the Ray cluster at {address} mid-run: its head has not answered for {silent_s:.0f}s",
            where=where,
            hint="what was recorded is kept; rerun the same command once the head is back, "
            "or without --executor ray, and it resumes (leave out --force if you gave it: with it, "
            "the rerun redoes what this run had already redone)",
        )
    )


def exit_lost(message: str) -> None:
    """Print ``error: <message>`` on stderr and end the process (the main thread is stuck in Ray)."""
    try:
        sys.stderr.write(f"error: {message}\n")
        sys.stderr.flush()
    finally:
        os._exit(LOST_EXIT_STATUS)


class HeadWatch:
    """A daemon thread probing ``host:port`` (the head's GCS) until :meth:`stop`."""

    def __init__(
        self,
        host: str,
        port: int,
        address: str,
        *,
        where: str = "--ray-address",
        lost_after_s: float = LOST_AFTER_S,
        every_s: float = PROBE_EVERY_S,
        on_lost: Callable[[str], None] = exit_lost,
        connected: Callable[[], bool] = lambda: True,
    ) -> None:
        """``connected``: whether this process still uses the cluster (a driver that disconnected,
        ``ray.shutdown()``, is not told its former head is gone)."""
        self.endpoint = (host, port)
        self.address, self.where = address, where
        self.lost_after_s, self.every_s = lost_after_s, every_s
        self.on_lost, self.connected = on_lost, connected
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mf-ray-head-watch", daemon=True)

    def start(self) -> HeadWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def answers(self) -> bool:
        """One probe: does the head accept a TCP connection?"""
        try:
            with socket.create_connection(self.endpoint, timeout=max(0.2, min(self.every_s, 3.0))):
                return True
        except OSError:
            return False

    def _run(self) -> None:
        last_ok = time.monotonic()
        while not self._stop.wait(self.every_s):
            if self.answers():
                last_ok = time.monotonic()
                continue
            silent = time.monotonic() - last_ok
            if silent < self.lost_after_s:
                continue
            if not self._stop.is_set() and self.connected():
                self.on_lost(lost_message(self.address, silent, self.where))
            return
