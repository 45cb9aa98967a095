"""A second Ctrl-C (the client's stop flag) aborts a yt-dlp transfer between two reads of its
body (``interrupted``), keeping yt-dlp's ``.part`` file (and the server's ETag beside it), which
the rerun resumes with Range and If-Range."""

from __future__ import annotations

import threading
import time

from collectors.hosts import HostPolicy
from collectors.http import PoliteClient
from collectors.ytdl import YtdlFetcher
from schemas.errors import FetchError
from tests.collectors.conftest import FAST_HTTP, info
from tests.collectors.fakesite import FakeSite, Route, mp4_bytes

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
