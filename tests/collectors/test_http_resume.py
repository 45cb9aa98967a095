"""Resuming a kept ``.part`` only when it is the start of the file the server has now
(``If-Range`` and the validator and size kept beside it), and finishing a file a server sends in
several ranges (206 answers shorter than the rest): the content checks never see a spliced or
short file."""

from __future__ import annotations

import hashlib
import json

import pytest

from collectors.config import HttpConfig
from collectors.hosts import HostPolicy
from collectors.http import PoliteClient
from schemas.errors import FetchError
from tests.collectors.fakesite import FakeSite, Route, fast_http, mp4_bytes

FAST = fast_http(max_retries=0)

V1 = {"ETag": '"v1"'}
V2 = {"ETag": '"v2"'}
MODIFIED_1 = {"Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT"}
MODIFIED_2 = {"Last-Modified": "Tue, 02 Jan 2024 00:00:00 GMT"}


@pytest.fixture
def site():
    with FakeSite() as s:
        yield s


def client_for(site: FakeSite, **over) -> PoliteClient:
    return PoliteClient(HttpConfig(**{**FAST, **over}), policy=HostPolicy.of([site.base.split("//")[1]]))


def sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def cut_off_once(site: FakeSite, tmp_path, body: bytes, headers: dict[str, str]):
    """A first download cut off half way (one try): its ``.part`` and resume state are kept."""
    site.routes["/v.mp4"] = Route(body, content_type="video/mp4", truncate_first=1, headers=headers)
    with pytest.raises(FetchError) as ei:
        client_for(site).download(site.url("/v.mp4"), tmp_path / "it", "video", "video")
    assert ei.value.reason == "truncated_body"
    folder = tmp_path / "it"
    assert sorted(p.name for p in folder.iterdir()) == [".video.part", ".video.part.json"]
    assert (folder / ".video.part").read_bytes() == body[: len(body) // 2]
    return folder


def honour_if_range(site: FakeSite, validator: str = "ETag") -> None:
    """Make the site answer as RFC 9110 asks: a Range whose If-Range no longer equals the file's
    ``validator`` header gets the whole (new) file, 200. By ``Last-Modified`` it compares dates
    exactly (as nginx, Apache and S3-like CDNs do): equal dates get the range, 206, even for
    other bytes."""
    handler = site.server.RequestHandlerClass
    answer = handler._answer

    def _answer(self, path, n, head):
        route = site.routes.get(path)
        if_range = self.headers.get("If-Range")
        if route is not None and if_range and if_range != route.headers.get(validator):
            del self.headers["Range"]
        return answer(self, path, n, head)

    handler._answer = _answer


@pytest.mark.parametrize("server", ["honours If-Range", "ignores If-Range"])
@pytest.mark.parametrize(("old_v", "new_v"), [(V1, V2), (MODIFIED_1, MODIFIED_2)], ids=["etag", "modified"])
def test_a_part_of_a_file_changed_since_is_fetched_again_whole(site, tmp_path, server, old_v, new_v):
    """The site publishes a new version between the cut-off and the resume: the stored file is
    the new one, never old prefix + new tail (the resume asked with If-Range; a 206 naming
    another validator or size is not spliced on)."""
    old, new = mp4_bytes(tmp_path, 1, frames=12), mp4_bytes(tmp_path, 2, frames=12)
    folder = cut_off_once(site, tmp_path, old, old_v)
    if server == "honours If-Range":
        honour_if_range(site)
    site.routes["/v.mp4"] = Route(new, content_type="video/mp4", headers=new_v)
    dl = client_for(site).download(site.url("/v.mp4"), folder, "video", "video")
    assert dl.sha256 == sha(new) == sha(dl.path.read_bytes()) and not dl.resumed
    validator = next(iter(old_v.values()))
    resumes = [(h.get("Range"), h.get("If-Range")) for h in site.headers_seen if h.get("Range")]
    assert resumes == [(f"bytes={len(old) // 2}-", validator)]
    assert sorted(p.name for p in folder.iterdir()) == ["video.mp4"]


def test_a_part_of_the_same_file_is_resumed(site, tmp_path):
    body = mp4_bytes(tmp_path, 3, frames=12)
    folder = cut_off_once(site, tmp_path, body, V1)
    client = client_for(site)
    dl = client.download(site.url("/v.mp4"), folder, "video", "video")
    assert dl.resumed and client.stats["resumed"] == 1 and dl.sha256 == sha(body)
    assert site.hits["/v.mp4"] == 2 and sorted(p.name for p in folder.iterdir()) == ["video.mp4"]


def test_a_part_without_a_kept_validator_starts_over(site, tmp_path):
    """A ``.part`` with no resume state beside it (the server named no version, or an older
    client kept it) cannot be checked: it is fetched again from the start, never with a bare Range."""
    body = mp4_bytes(tmp_path, 4, frames=12)
    folder = tmp_path / "it"
    folder.mkdir()
    (folder / ".video.part").write_bytes(b"\0" * (len(body) // 2))  # someone else's bytes
    site.routes["/v.mp4"] = Route(body, content_type="video/mp4", headers=V1)
    dl = client_for(site).download(site.url("/v.mp4"), folder, "video", "video")
    assert dl.sha256 == sha(body) and not dl.resumed
    assert not any("Range" in h for h in site.headers_seen)


def test_a_state_for_another_url_does_not_resume(site, tmp_path):
    body = mp4_bytes(tmp_path, 5, frames=12)
    folder = cut_off_once(site, tmp_path, body, V1)
    state = json.loads((folder / ".video.part.json").read_text())
    assert state["url"] == site.url("/v.mp4") and state["validator"] == '"v1"' and state["total"] == len(body)
    site.routes["/w.mp4"] = Route(body, content_type="video/mp4", headers=V1)
    dl = client_for(site).download(site.url("/w.mp4"), folder, "video", "video")
    assert dl.sha256 == sha(body) and not any("Range" in h for h in site.headers_seen[-1:])


def test_a_complete_part_is_finished_without_a_request(site, tmp_path):
    """A run killed after the last byte but before the rename: the kept state says the part
    is the whole file, so the rerun checks and renames it without asking the server again."""
    body = mp4_bytes(tmp_path, 6, frames=12)
    folder = cut_off_once(site, tmp_path, body, V1)
    (folder / ".video.part").write_bytes(body)
    hits = site.hits["/v.mp4"]
    dl = client_for(site).download(site.url("/v.mp4"), folder, "video", "video")
    assert dl.sha256 == sha(body) and site.hits["/v.mp4"] == hits
    assert sorted(p.name for p in folder.iterdir()) == ["video.mp4"]


def test_a_cut_off_part_the_server_names_no_version_of_is_not_kept(site, tmp_path):
    body = mp4_bytes(tmp_path, 7, frames=12)
    site.routes["/v.mp4"] = Route(body, content_type="video/mp4", truncate_first=9)
    with pytest.raises(FetchError) as ei:
        client_for(site, max_retries=1).download(site.url("/v.mp4"), tmp_path / "it", "video", "video")
    assert ei.value.reason == "truncated_body" and list((tmp_path / "it").iterdir()) == []


# -- 206 answers shorter than the rest --------------------------------------------------


def cap_ranges(site: FakeSite, path: str, body: bytes, chunk: int) -> None:
    """``path`` as a range-capping CDN serves it: the first answer (200, the whole length
    declared) is cut off half way, each Range gets at most ``chunk`` bytes (206)."""
    handler = site.server.RequestHandlerClass
    answer = handler._answer

    def _answer(self, p, n, head):
        if p != path or head:
            return answer(self, p, n, head)
        rng = self.headers.get("Range")
        self.send_response(206 if rng else 200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("ETag", '"e1"')
        self.send_header("Accept-Ranges", "bytes")
        if not rng:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        start = int(rng.split("=")[1].split("-")[0])
        end = min(start + chunk, len(body)) - 1
        self.send_header("Content-Range", f"bytes {start}-{end}/{len(body)}")
        self.send_header("Content-Length", str(end + 1 - start))
        self.end_headers()
        self.wfile.write(body[start : end + 1])

    handler._answer = _answer


def test_a_short_206_is_followed_by_requests_for_the_rest(site, tmp_path):
    body = mp4_bytes(tmp_path, 8, frames=40)
    chunk = len(body) // 7 + 1
    cap_ranges(site, "/v.mp4", body, chunk)
    dl = client_for(site, max_retries=1).download(site.url("/v.mp4"), tmp_path / "it", "video", "video")
    assert dl.sha256 == sha(body) and dl.resumed
    starts = [int(h["Range"].split("=")[1].rstrip("-")) for h in site.headers_seen if h.get("Range")]
    assert starts == list(range(len(body) // 2, len(body), chunk))
    assert sorted(p.name for p in (tmp_path / "it").iterdir()) == ["video.mp4"]


def test_a_file_still_short_after_the_rounds_is_truncated_never_a_bad_video(site, tmp_path):
    """Bounded: after ``max_range_rounds`` answers the file is still short: ``truncated_body``
    (retried by a rerun, which goes on from the kept part), never handed to the decode check."""
    body = mp4_bytes(tmp_path, 9, frames=40)
    cap_ranges(site, "/v.mp4", body, 100)
    client = client_for(site, max_retries=1, max_range_rounds=3)
    with pytest.raises(FetchError) as ei:
        client.download(site.url("/v.mp4"), tmp_path / "it", "video", "video")
    assert ei.value.reason == "truncated_body" and ei.value.retryable
    part = tmp_path / "it" / ".video.part"
    assert part.read_bytes() == body[: part.stat().st_size] and part.stat().st_size < len(body)
    rerun = client_for(site, max_range_rounds=1000).download(
        site.url("/v.mp4"), tmp_path / "it", "video", "video"
    )
    assert rerun.sha256 == sha(body)


@pytest.mark.parametrize("part", ["complete", "longer"])
def test_a_kept_part_the_server_has_no_range_for_starts_over(site, tmp_path, part):
    """A part whose state does not know the file's size (the server sent none) and that the
    server has no more bytes for (416: complete, or not a prefix of this file): fetched again."""
    body = mp4_bytes(tmp_path, 10, frames=12)
    site.routes["/v.mp4"] = Route(body, content_type="video/mp4", headers=V1)
    handler = site.server.RequestHandlerClass
    answer = handler._answer

    def _answer(self, path, n, head):
        rng = self.headers.get("Range")
        if rng and int(rng.split("=")[1].rstrip("-")) >= len(body):
            return self._send(416, b"", "text/plain", head, {"Content-Range": f"bytes */{len(body)}"})
        return answer(self, path, n, head)

    handler._answer = _answer
    folder = tmp_path / "it"
    folder.mkdir()
    (folder / ".video.part").write_bytes(body if part == "complete" else body + b"junk" * 100)
    state = {"url": site.url("/v.mp4"), "header": "ETag", "validator": '"v1"', "total": None}
    (folder / ".video.part.json").write_text(json.dumps(state))
    dl = client_for(site).download(site.url("/v.mp4"), folder, "video", "video")
    assert dl.sha256 == sha(body) and sorted(p.name for p in folder.iterdir()) == ["video.mp4"]
    kept = len(body) + (0 if part == "complete" else 400)
    assert site.hits["/v.mp4"] == 2  # the 416, then the whole file
    assert [h.get("Range") for h in site.headers_seen[-2:]] == [f"bytes={kept}-", None]


def test_a_killed_runs_half_written_state_is_swept_by_the_next_download(site, tmp_path):
    """A kill while the resume state is written leaves a temporary beside the part; the next
    download into the folder removes it (tests/test_kill_anywhere.py compares the folders)."""
    import os
    import subprocess
    import sys

    from schemas.atomic import host_tag

    body = mp4_bytes(tmp_path, 3, frames=12)
    folder = cut_off_once(site, tmp_path, body, V1)
    dead = int(
        subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
        ).stdout
    )
    temp = folder / f"..video.part.json.{host_tag()}-{dead}.ab12_x.part"
    temp.write_text("{")
    assert os.path.exists(temp)
    got = client_for(site).download(site.url("/v.mp4"), folder, "video", "video")
    assert got.path.read_bytes() == body and not temp.exists()


# -- Last-Modified as the validator (RFC 9110 8.8.2.2) -------------------------------------

SECOND = "Mon, 01 Jan 2024 00:00:00 GMT"  # the file's Last-Modified
SAME_SECOND = {"Last-Modified": SECOND}


def server_date(site: FakeSite, date: str | None) -> None:
    """The site's answers carry ``Date: date`` (None: no Date header at all)."""
    handler = site.server.RequestHandlerClass
    send_header = handler.send_header

    def _send_header(self, key, value):
        if key.lower() != "date":
            return send_header(self, key, value)
        if date is not None:
            return send_header(self, key, date)

    handler.send_header = _send_header


def same_size_other_bytes(body: bytes) -> bytes:
    """Another version of ``body`` of the same size, changed in both halves."""
    new = bytearray(body)
    for at in (len(body) // 3, len(body) * 3 // 4):
        for k in range(at, at + 24):
            new[k] ^= 0x5A
    return bytes(new)


@pytest.mark.parametrize(
    "date",
    [SECOND, "Sun, 31 Dec 2023 23:59:59 GMT", None],
    ids=["same second as Date", "later than Date", "no Date"],
)
def test_a_last_modified_not_a_second_older_than_date_keeps_no_resume_state(site, tmp_path, date):
    """A Last-Modified in the same second as the answer's Date (or after it, or with no Date to
    compare) is weak: the file may change again within that second under the same date. No
    resume state is kept, so the cut-off transfer starts over: the stored file is the new
    version, never the old head spliced onto the new tail (the site would answer the If-Range 206)."""
    old = mp4_bytes(tmp_path, 11, frames=12)
    new = same_size_other_bytes(old)
    server_date(site, date)
    honour_if_range(site, "Last-Modified")
    site.routes["/v.mp4"] = Route(old, content_type="video/mp4", truncate_first=1, headers=SAME_SECOND)
    folder = tmp_path / "it"
    with pytest.raises(FetchError) as ei:
        client_for(site).download(site.url("/v.mp4"), folder, "video", "video")
    assert ei.value.reason == "truncated_body" and list(folder.iterdir()) == []
    site.routes["/v.mp4"] = Route(new, content_type="video/mp4", headers=SAME_SECOND)
    dl = client_for(site).download(site.url("/v.mp4"), folder, "video", "video")
    assert dl.path.read_bytes() == new and dl.sha256 == sha(new) and not dl.resumed
    assert not any(h.get("Range") or h.get("If-Range") for h in site.headers_seen)
    assert sorted(p.name for p in folder.iterdir()) == ["video.mp4"]


def test_a_last_modified_a_second_older_than_date_still_resumes(site, tmp_path):
    """A Last-Modified at least 1 s before the answer's Date is strong: the part is resumed
    with it in If-Range."""
    body = mp4_bytes(tmp_path, 12, frames=12)
    server_date(site, "Mon, 01 Jan 2024 00:00:01 GMT")
    honour_if_range(site, "Last-Modified")
    folder = cut_off_once(site, tmp_path, body, SAME_SECOND)
    state = json.loads((folder / ".video.part.json").read_text())
    assert (state["header"], state["validator"]) == ("Last-Modified", SECOND)
    site.routes["/v.mp4"] = Route(body, content_type="video/mp4", headers=SAME_SECOND)
    dl = client_for(site).download(site.url("/v.mp4"), folder, "video", "video")
    assert dl.resumed and dl.sha256 == sha(body)
    resumes = [(h.get("Range"), h.get("If-Range")) for h in site.headers_seen if h.get("Range")]
    assert resumes == [(f"bytes={len(body) // 2}-", SECOND)]
