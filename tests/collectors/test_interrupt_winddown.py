"""The first Ctrl-C winds the run down: a running item waiting out a host's pause (a Retry-After
of up to ``retry_after_max_s``, a 429/503's backoff) ends at once as ``interrupted`` (retryable:
a rerun collects it), while rate-token waits and transfers in flight go on (a running download
finishes). The second Ctrl-C (the client's ``stop``) is tests/collectors/test_interrupt.py's and
test_http_host_pause.py's; the same on Ray: test_ray_host_pause.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from collectors.config import HttpConfig
from collectors.http import PoliteClient
from schemas.errors import FetchError
from tests.collectors.fakesite import FakeSite, Route, fast_http, jpeg_bytes, mp4_bytes
from tests.collectors.test_cli import list_page, netaporter_cmd, start_interruptible
from tests.polling import wait_for

ROOT = Path(__file__).resolve().parents[2]
PAUSE_S = 300  # the cap a user may configure: never sat out after the first Ctrl-C
GUARD_S = 60.0  # a guard against a hang, far under PAUSE_S: never a measure of speed


def _outcome(fn, *args) -> dict:
    """Run ``fn(*args)`` in a thread; the dict gets ``"value"`` or ``"error"`` and ``"done"``."""
    got: dict = {"done": threading.Event()}

    def run() -> None:
        try:
            got["value"] = fn(*args)
        except FetchError as exc:
            got["error"] = exc
        finally:
            got["done"].set()

    threading.Thread(target=run, daemon=True).start()
    return got


@pytest.mark.parametrize("retry_after", [str(PAUSE_S), None])
def test_a_wind_down_ends_a_wait_for_a_paused_host_as_interrupted(retry_after):
    """A Retry-After of 300 s, or a 429 without one (the backoff, 300 s here, pauses the host):
    the request that got it and another one queued behind the host's pause both end within
    seconds of the wind-down, ``interrupted`` (retryable), and nothing more is sent to the host."""
    with FakeSite() as site:
        site.routes["/busy"] = Route(b"ok", fail_first=10**6, fail_status=429, retry_after=retry_after)
        site.routes["/next"] = Route(b"ok")
        cfg = HttpConfig(
            **{
                **fast_http(max_retries=3),
                "retry_after_max_s": PAUSE_S,
                "backoff_base_s": PAUSE_S,
                "backoff_max_s": PAUSE_S,
                "jitter": 0.0,
            }
        )
        client = PoliteClient(cfg)
        first = _outcome(client.get_bytes, site.url("/busy"))
        wait_for(lambda: client.stats["retries"] >= 1, "the 429 came and its wait began")
        queued = _outcome(client.get_bytes, site.url("/next"))  # waits for the host's pause
        assert not first["done"].wait(0.5) and not queued["done"].is_set()
        client.winddown.set()
        assert first["done"].wait(GUARD_S) and queued["done"].wait(GUARD_S), "a pause was sat out"
        for got in (first, queued):
            assert got["error"].reason == "interrupted" and got["error"].retryable
        assert site.hits["/busy"] == 1 and site.hits["/next"] == 0
        assert not client.stop.is_set()  # wound down, not stopped


def test_a_wind_down_leaves_rate_waits_and_a_transfer_in_flight_alone(tmp_path):
    """Wound down, a download whose body is arriving finishes and is renamed into place, and a
    request that waits only for its host's rate token still goes out."""
    release = threading.Event()
    body = mp4_bytes(tmp_path, 7)
    with FakeSite() as site:
        site.routes["/v.mp4"] = Route(body, content_type="video/mp4", hold=release)
        site.routes["/page"] = Route(b"ok", content_type="text/plain")
        cfg = HttpConfig(**{**fast_http(), "rate_per_host": 4.0, "burst_per_host": 1})
        client = PoliteClient(cfg)
        folder = tmp_path / "item"
        got = _outcome(client.download, site.url("/v.mp4"), folder, "video", "video")
        part = folder / ".video.part"
        wait_for(lambda: part.exists() and part.stat().st_size > 0, "half the body arrived")
        client.winddown.set()
        release.set()
        assert got["done"].wait(GUARD_S)
        assert "error" not in got, got.get("error")
        assert got["value"].path.read_bytes() == body and not part.exists()
        for _ in range(3):  # one token a quarter second: these wait for it, and go out
            assert client.get_bytes(site.url("/page"))[0] == b"ok"
        assert site.hits["/page"] == 3


def _config(tmp_path: Path) -> str:
    """Waits of a few ms, a Retry-After of up to 300 s honoured, one image view per item."""
    cfg = tmp_path / "pause.yaml"
    cfg.write_text(
        "http:\n  backoff_base_s: 0.001\n  backoff_max_s: 0.005\n"
        f"  retry_after_max_s: {PAUSE_S}\n  rate_per_host: 1000\n  burst_per_host: 100\n  max_retries: 2\n"
        "netaporter:\n  views:\n    shop: fr\n"
    )
    return str(cfg)


def test_the_first_ctrl_c_ends_a_retry_after_wait_and_lets_a_download_finish(tmp_path):
    """mf-collect with two items running: one waits out a Retry-After of 300 s, the other is
    downloading its last file. The first Ctrl-C ends the wait at once (the item is
    ``interrupted``, and the rerun collects it) while the download finishes; the run exits 130
    within seconds, not minutes."""
    busy, slow = "301", "302"
    out = tmp_path / "o"
    release, go = threading.Event(), threading.Event()
    with FakeSite() as site:
        list_page(site, [busy, slow])
        for i in (busy, slow):
            site.routes[f"/videos/productPage/{i}_detail.mp4"] = Route(
                mp4_bytes(tmp_path, int(i)), content_type="video/mp4"
            )
            site.routes[f"/images/products/{i}/{i}_fr_l.jpg"] = Route(
                jpeg_bytes(int(i)), content_type="image/jpeg"
            )
        busy_video = f"/videos/productPage/{busy}_detail.mp4"
        # answered (429, Retry-After 300: the host pauses) only once the slow item is on its last file
        site.routes[busy_video].before = go
        site.routes[busy_video].fail_first, site.routes[busy_video].fail_status = 10**6, 429
        site.routes[busy_video].retry_after = str(PAUSE_S)
        # half sent (more than a write buffer: it shows in the .part file), then held
        site.routes[f"/images/products/{slow}/{slow}_fr_l.jpg"] = Route(
            jpeg_bytes(int(slow), size=(240, 320)), content_type="image/jpeg", hold=release
        )
        cmd = netaporter_cmd(site, out, _config(tmp_path), "--workers", "2", "--json")
        proc = start_interruptible(cmd)  # Ctrl-C as a terminal gives it
        lines: list[str] = []
        told = threading.Event()

        def read_stderr() -> None:
            for line in proc.stderr:
                lines.append(line)
                if "stopping: waiting" in line:
                    told.set()

        reader = threading.Thread(target=read_stderr, daemon=True)
        reader.start()
        slow_dir = out / "netaporter" / slow
        image_part = slow_dir / ".shop.part"
        try:
            wait_for(lambda: image_part.exists() and image_part.stat().st_size > 0, "the slow image half in")
            go.set()
            wait_for(lambda: site.hits[busy_video] >= 1, "the busy video answered 429 Retry-After 300")
            time.sleep(0.5)  # a head start for its answer (the outcome is the same without it)
            os.kill(proc.pid, signal.SIGINT)
            assert told.wait(GUARD_S), "".join(lines)  # the first Ctrl-C was taken: wound down
            release.set()  # the rest of the slow image's body
            proc.wait(GUARD_S)  # the old code sat out the 300 s here
            stdout = proc.stdout.read()
        finally:
            release.set()
            go.set()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        reader.join(10)
        stderr = "".join(lines)
        assert proc.returncode == 130, stderr
        first = json.loads(stdout)
        assert first["interrupted"] is True and "press Ctrl-C again" in stderr
        reasons = {p["source_id"]: p["reason"] for p in first["problems"]}
        assert reasons == {busy: "interrupted"}, first["problems"]
        assert first["ok"] == 1 and list(slow_dir.glob("shop.*")) and list(slow_dir.glob("video.*"))
        assert site.hits[busy_video] == 1  # nothing more went to the paused host
        assert not list((out / "netaporter" / busy).glob("video.*"))
        assert not [p for p in out.rglob("*") if p.name.endswith(".part")]  # nothing half-written
        site.routes[busy_video].fail_first = 0  # the site is calm again: the rerun collects it
        again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        second = json.loads(again.stdout)
        assert second["ok"] == 1 and second["skipped"] == 1
        assert list((out / "netaporter" / busy).glob("video.*"))
