"""A second Ctrl-C (the client's stop flag) aborts a yt-dlp transfer between two reads of its
body (``interrupted``), keeping yt-dlp's ``.part`` file (and the server's ETag beside it), which
the rerun resumes with Range and If-Range."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import pytest

from collectors.hosts import HostPolicy
from collectors.http import PoliteClient
from collectors.ytdl import YtdlFetcher
from schemas.catalog import Catalog
from schemas.errors import FetchError
from tests.collectors.conftest import FAST_HTTP, info
from tests.collectors.fakesite import FakeSite, Route, loopback_http, mp4_bytes
from tests.collectors.test_cli import ROOT, start_interruptible
from tests.polling import wait_for

CHUNK, PAUSE = 2048, 0.05
ETAG = '"v1"'


def _trickle(site: FakeSite, path: str, body: bytes) -> None:
    """Serve full GETs of ``path`` slowly (a chunk every PAUSE s); HEAD and Range as usual."""
    site.routes[path] = Route(body, content_type="video/mp4", headers={"ETag": ETAG})
    handler = site.server.RequestHandlerClass
    plain = handler._answer

    def answer(self, p, n, head):
        if p != path or head or self.headers.get("Range"):
            return plain(self, p, n, head)
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", ETAG)
        self.end_headers()
        try:
            for i in range(0, len(body), CHUNK):
                self.wfile.write(body[i : i + CHUNK])
                self.wfile.flush()
                time.sleep(PAUSE)
        except OSError:
            pass  # the client hung up

    handler._answer = answer


def test_stop_aborts_a_yt_dlp_transfer_and_the_rerun_resumes_its_part(tmp_path):
    body = mp4_bytes(tmp_path, 1, frames=120)
    assert len(body) > 20 * CHUNK  # a whole transfer takes over a second
    with FakeSite() as site:
        _trickle(site, "/v/7001.mp4", body)
        policy = HostPolicy.of([site.base.removeprefix("http://")])
        client = PoliteClient(FAST_HTTP, policy=policy)
        fetcher = YtdlFetcher(FAST_HTTP, policy, client=client)
        folder = tmp_path / "item"
        data = info("7001", site.url("/v/7001.mp4"))
        result: dict[str, object] = {}

        def run() -> None:
            try:
                result["path"] = fetcher.download(data, folder)
            except FetchError as exc:
                result["error"] = exc

        worker = threading.Thread(target=run)
        worker.start()
        deadline = time.time() + 60
        while time.time() < deadline and not any(
            p.stat().st_size for p in folder.glob(".video.ytdl.*.part") if p.exists()
        ):
            time.sleep(0.01)
        client.stop.set()  # the second Ctrl-C
        worker.join(60)
        assert not worker.is_alive()
        error = result.get("error")
        assert isinstance(error, FetchError) and error.reason == "interrupted", result
        (part,) = folder.glob(".video.ytdl.*.part")
        kept = part.stat().st_size
        assert 0 < kept < len(body) and body.startswith(part.read_bytes())
        state = part.with_name(part.name + ".json")  # the ETag a resume must find again
        assert {p.name for p in folder.iterdir()} == {part.name, state.name}

        client.stop.clear()  # the rerun
        site.headers_seen.clear()
        path = fetcher.download(data, folder)
        assert path.read_bytes() == body
        assert any(
            h.get("Range") == f"bytes={kept}-" and h.get("If-Range") == ETAG for h in site.headers_seen
        ), site.headers_seen
        assert [p.name for p in folder.iterdir()] == [path.name]  # the state went with its part


# -- yt-dlp's own retry waits end with the run's stop or wind-down ----------------------------

RETRY_S = 300.0  # yt-dlp's wait before its own retry of a 503: never sat out once the run stops
BOUND_S = (
    15.0  # how soon a stopped or wound-down wait must end: far under RETRY_S, generous on a busy machine
)


@dataclass
class _Busy:
    """GETs of one path answered 503 while ``busy``; ``gets``: the times they came."""

    busy: bool = True
    gets: list[float] = field(default_factory=list)


def _gets_answer_503(site: FakeSite, path: str, body: bytes) -> _Busy:
    """Answer every GET of ``path`` 503 while the returned ``busy`` holds (HEAD, the
    pre-flight check, and GETs once it is cleared, as usual)."""
    site.routes[path] = Route(body, content_type="video/mp4")
    handler = site.server.RequestHandlerClass
    plain = handler._answer
    state = _Busy()

    def answer(self, p, n, head):
        if p != path or head or not state.busy:
            return plain(self, p, n, head)
        state.gets.append(time.monotonic())
        return self._send(503, b"busy", "text/plain", head)

    handler._answer = answer
    return state


def _slow_retries() -> dict:
    """yt-dlp retries a 503 twice, after RETRY_S each (the cap of a backoff a user may set)."""
    return dict(backoff_base_s=RETRY_S, backoff_max_s=RETRY_S, retry_after_max_s=RETRY_S, max_retries=2)


@pytest.mark.parametrize("signal_name", ["stop", "winddown"])
def test_a_stop_or_wind_down_ends_yt_dlps_own_retry_wait(tmp_path, signal_name):
    """yt-dlp's HTTP downloader gets a 503 and waits RETRY_S before its retry; the run's stop
    (the second Ctrl-C) or wind-down (the first) ends that wait within BOUND_S, the download
    ends ``interrupted`` and no further try goes out."""
    cfg = loopback_http(**_slow_retries())
    with FakeSite() as site:
        gets = _gets_answer_503(site, "/v/7001.mp4", mp4_bytes(tmp_path, 1)).gets
        policy = HostPolicy.of([site.base.removeprefix("http://")])
        client = PoliteClient(cfg, policy=policy)
        waits: list[float] = []

        def sleep(seconds: float) -> None:  # the client's own wait, its calls seen
            waits.append(seconds)
            client.sleep(seconds)

        fetcher = YtdlFetcher(cfg, policy, client=client, sleep=sleep)
        result: dict[str, object] = {}
        done = threading.Event()

        def run() -> None:
            try:
                result["path"] = fetcher.download(info("7001", site.url("/v/7001.mp4")), tmp_path / "item")
            except FetchError as exc:
                result["error"] = exc
            finally:
                done.set()

        threading.Thread(target=run, daemon=True).start()
        wait_for(lambda: waits, "yt-dlp's wait before its retry began")
        assert waits == [RETRY_S] and len(gets) == 1 and not done.wait(0.3)
        t0 = time.monotonic()
        getattr(client, signal_name).set()
        assert done.wait(BOUND_S), f"yt-dlp's {RETRY_S:g}s retry wait was sat out"
        took = time.monotonic() - t0
    error = result.get("error")
    assert isinstance(error, FetchError) and error.reason == "interrupted", result
    assert len(gets) == 1 and waits == [RETRY_S], "a further try went out"
    assert took < BOUND_S


def test_the_first_ctrl_c_ends_yt_dlps_retry_wait_of_a_tiktok_video(tmp_path):
    """mf-collect tiktok: the video's server answers 503 and yt-dlp waits RETRY_S before its
    retry. The first Ctrl-C ends the wait: the run exits 130 within BOUND_S, the item is
    ``interrupted`` (not counted toward giving it up), and the rerun collects it."""
    out = tmp_path / "o"
    infos = tmp_path / "infos"
    infos.mkdir()
    config = tmp_path / "slow.yaml"
    config.write_text(
        "http:\n" + "".join(f"  {k}: {v}\n" for k, v in {**_slow_retries(), "rate_per_host": 1000}.items())
    )
    body = mp4_bytes(tmp_path, 2)
    with FakeSite() as site:
        busy = _gets_answer_503(site, "/tiktok/7001.mp4", body)
        gets = busy.gets
        (infos / "7001.info.json").write_text(json.dumps(info("7001", site.url("/tiktok/7001.mp4"))))
        cmd = [sys.executable, "-c", "from collectors.cli import main; main()", "tiktok", str(infos)]
        cmd += ["--base-url", site.base, "--root", str(out), "--config", str(config), "--json"]
        proc = start_interruptible(cmd)
        try:
            wait_for(lambda: gets, "the video's first GET answered 503")
            time.sleep(0.5)  # a head start into yt-dlp's wait (the outcome is the same without it)
            t0 = time.monotonic()
            os.kill(proc.pid, signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=60)
            took = time.monotonic() - t0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 130, stderr
        assert took < BOUND_S, f"the run took {took:.1f}s after the Ctrl-C"
        summary = json.loads(stdout)
        assert summary["interrupted"] is True and len(gets) == 1
        assert [(p["source_id"], p["reason"]) for p in summary["problems"]] == [("7001", "interrupted")]
        with Catalog(out / "catalog.sqlite") as cat:
            row = cat.get_item("tiktok", "7001")
            assert row.status != "downloaded" and row.attempts == 0
        busy.busy = False  # the site is calm again: the rerun collects it
        again = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["ok"] == 1
    assert (out / "tiktok" / "7001" / "video.mp4").read_bytes() == body


def test_a_stop_ends_the_spacing_yt_dlp_keeps_between_a_pages_requests(tmp_path):
    """yt-dlp spaces an extraction's pages by ``sleep_interval_requests`` (1 / rate_per_host:
    an hour here); that wait is the client's rate wait, so the run's stop ends it within
    BOUND_S, the extraction ends ``interrupted`` and the next page is never asked for."""
    cfg = loopback_http(rate_per_host=1 / 3600, burst_per_host=100)
    with FakeSite() as site:
        refresh = f'<meta http-equiv="refresh" content="0;url={site.url("/b")}">'
        site.routes["/a"] = Route(f"<html><head>{refresh}</head></html>".encode(), content_type="text/html")
        video = f'<video src="{site.url("/v.mp4")}"></video>'
        site.routes["/b"] = Route(f"<html><body>{video}</body></html>".encode(), content_type="text/html")
        policy = HostPolicy.of([site.base.removeprefix("http://")])
        client = PoliteClient(cfg, policy=policy)
        paces: list[float] = []
        pace = client.pace

        def seen_pace(seconds: float) -> None:
            paces.append(seconds)
            pace(seconds)

        client.pace = seen_pace
        fetcher = YtdlFetcher(cfg, policy, client=client)
        result: dict[str, object] = {}
        done = threading.Event()

        def run() -> None:
            try:
                result["info"] = fetcher.extract(site.url("/a"))
            except FetchError as exc:
                result["error"] = exc
            finally:
                done.set()

        threading.Thread(target=run, daemon=True).start()
        wait_for(lambda: paces, "yt-dlp's wait before the page /a points to began")
        assert paces == [3600.0] and site.hits["/a"] == 1 and not done.wait(0.3)
        client.stop.set()
        assert done.wait(BOUND_S), "yt-dlp's spacing of an hour was sat out"
        assert site.hits["/b"] == 0
    error = result.get("error")
    assert isinstance(error, FetchError) and error.reason == "interrupted", result
