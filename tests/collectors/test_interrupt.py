"""Ctrl-C in the CLI: running items finish, the rest wait for the rerun (executor units:
tests/movingfashion/test_executors.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.collectors.fakesite import FakeSite, Route, jpeg_bytes, mp4_bytes
from tests.collectors.test_cli import fast_config, list_page, netaporter_cmd, start_interruptible

ROOT = Path(__file__).resolve().parents[2]


def test_ctrl_c_stops_cleanly_and_rerun_resumes(tmp_path):
    ids = [str(200 + i) for i in range(8)]
    out = tmp_path / "o"
    with FakeSite() as site:
        list_page(site, ids)
        for n, i in enumerate(ids):
            # the first two quickly, the rest slowly: Ctrl-C lands while they are in flight even
            # when a loaded machine is slow to see the first file
            site.routes[f"/videos/productPage/{i}_detail.mp4"] = Route(
                mp4_bytes(tmp_path, int(i)), content_type="video/mp4", delay_s=0.3 if n < 2 else 3.0
            )
            site.routes[f"/images/products/{i}/{i}_fr_l.jpg"] = Route(
                jpeg_bytes(int(i)), content_type="image/jpeg"
            )
        cmd = netaporter_cmd(site, out, fast_config(tmp_path), "--workers", "2", "--json")
        proc = start_interruptible(cmd)  # Ctrl-C as a terminal gives it
        deadline = time.time() + 60
        while time.time() < deadline and not list(out.rglob("video.mp4")):
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 130, stderr
        assert '"interrupted": true' in stdout and "rerun" in stderr
        # said when Ctrl-C came, before the running items finished (it printed nothing till the end)
        assert "stopping: waiting for the" in stderr and "Ctrl-C again" in stderr
        assert not [p for p in out.rglob("*") if p.name.endswith(".part")]  # in-flight ones finished
        done_first = len(list(out.rglob("video.mp4")))
        assert 0 < done_first < len(ids)
        first = json.loads(stdout)  # what was handed to the workers but never ran is counted
        assert first["ok"] == done_first and first["ok"] + first["failed"] + first["cancelled"] <= len(ids)
        # and so is what was found but never handed to them: every listed item is counted once
        counted = ("ok", "failed", "rejected", "skipped", "cancelled", "not_started")
        assert first["not_started"] > 0 and sum(first[k] for k in counted) == len(ids), first
        for route in site.routes.values():
            route.delay_s = 0.0
        proc2 = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert proc2.returncode == 0, proc2.stderr
        assert len(list(out.rglob("video.mp4"))) == len(ids)
        assert f'"skipped": {done_first}' in proc2.stdout


def test_sigterm_says_so_and_not_to_send_it_again(tmp_path):
    """SIGTERM (``timeout``, a scheduler) winds down as Ctrl-C does, but a second SIGTERM is
    ignored while the first unwinds: the line names SIGTERM and points at Ctrl-C, not "again"."""
    ids = [str(300 + i) for i in range(4)]
    out = tmp_path / "o"
    with FakeSite() as site:
        list_page(site, ids)
        for i in ids:
            site.routes[f"/videos/productPage/{i}_detail.mp4"] = Route(
                mp4_bytes(tmp_path, int(i)), content_type="video/mp4", delay_s=2.0
            )
            site.routes[f"/images/products/{i}/{i}_fr_l.jpg"] = Route(
                jpeg_bytes(int(i)), content_type="image/jpeg"
            )
        cmd = netaporter_cmd(site, out, fast_config(tmp_path), "--workers", "2", "--json")
        proc = start_interruptible(cmd)
        deadline = time.time() + 60
        while time.time() < deadline and not list(out.rglob(".*.part")) and not list(out.rglob("shop.*")):
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
        for route in site.routes.values():
            route.delay_s = 0.0
    assert proc.returncode == 143, stderr
    assert '"interrupted": true' in stdout
    assert "stopping (SIGTERM): waiting for the" in stderr, stderr
    assert "Ctrl-C again" not in stderr and "press Ctrl-C to stop" in stderr
