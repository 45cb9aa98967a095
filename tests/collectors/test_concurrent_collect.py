"""Two collect runs meeting on one item (a second terminal, a cron job): one download of its
files at a time. The run that holds the item's collect lock (``ROOT/.locks/<source>/.<id>.lock``)
collects it; the other skips it (``busy_elsewhere``, naming the holder) without a request or a
catalog write. A file that vanished or changed under a check is a retryable failure, never a
final rejection, and a kept ``.part`` never grows past the file nor takes the same bytes twice."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

import collectors.checks as checks
import collectors.core as core
import collectors.http as http
from collectors.base import Found, Source, TargetForm
from collectors.config import CollectConfig, HttpConfig
from collectors.core import Candidate, CollectContext, Outcome
from collectors.hosts import HostPolicy
from collectors.http import PoliteClient
from collectors.runner import run_collection
from schemas.catalog import Catalog
from schemas.errors import FetchError
from schemas.items import AssetKind, SourceItem, SourceName, Status
from tests.collectors.fakesite import FakeSite, Route, fast_http, jpeg_bytes, mp4_bytes

SID = "it-1"
ETAG = {"ETag": '"v1"'}


class OneVideo(Source):
    """A source whose items each have one video, fetched from ``video_url``."""

    name = SourceName.URLS
    config_section = "urls"
    target_forms = (TargetForm("an item", SID, r"[\w-]+"),)

    def __init__(self, ctx: CollectContext, video_url: str) -> None:
        super().__init__(ctx)
        self.video_url = video_url
        self.described: list[str] = []

    @classmethod
    def policy(cls, cfg: CollectConfig, targets: Sequence[str], **_) -> HostPolicy:
        return HostPolicy()

    def discover(self, targets: Sequence[str]) -> list[Candidate]:
        return [Candidate(raw_id=t, url=f"http://x.invalid/{t}") for t in targets]

    def describe(self, sid: str, cand: Candidate) -> Found:
        self.described.append(sid)
        return Found(SourceItem(source=self.name, source_id=sid, url=cand.url), cand)

    def fetch_media(self, found: Found):
        asset = self.ctx.fetch_asset(found.item, AssetKind.VIDEO, self.video_url, "video")
        return [asset], {AssetKind.VIDEO}


@pytest.fixture
def site(tmp_path):
    with FakeSite() as s:
        s.routes["/v.mp4"] = Route(mp4_bytes(tmp_path, 5, frames=12), content_type="video/mp4", headers=ETAG)
        yield s


def sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def client_for(site: FakeSite, **over) -> PoliteClient:
    cfg = HttpConfig(**{**fast_http(max_retries=1), **over})
    return PoliteClient(cfg, policy=HostPolicy.of([site.base.split("//")[1]]))


def collect_once(site: FakeSite, root: Path, client: PoliteClient | None = None) -> tuple[Outcome, OneVideo]:
    """One run collecting the item ``SID`` (its own catalog connection, as another process has)."""
    client = client or client_for(site)
    with Catalog(root / "catalog.sqlite") as cat:
        src = OneVideo(CollectContext(root, cat, CollectConfig(), client), site.url("/v.mp4"))
        out = src.collect(Candidate(raw_id=SID, url=f"http://x.invalid/{SID}"))
    return out, src


def item_state(root: Path) -> tuple[str, str | None] | None:
    with Catalog(root / "catalog.sqlite") as cat:
        row = cat.get_item(str(SourceName.URLS), SID)
    return None if row is None else (str(row.status), row.reason)


def test_a_second_run_skips_the_item_a_first_run_is_finishing_and_the_item_ends_downloaded(site, tmp_path):
    """Run A holds its complete ``.part`` before the probe and rename; run B meets the item then.
    Before the fix B renamed A's part as a "kept" one and A's probe of the vanished part
    rejected the good item (``not_a_video``), which every rerun then skipped."""
    root = tmp_path / "root"
    client_a = client_for(site)
    reached, go = threading.Event(), threading.Event()
    finish = client_a._finish

    def held_finish(*args, **kw):
        reached.set()
        go.wait(120)
        return finish(*args, **kw)

    client_a._finish = held_finish
    result: dict[str, Outcome] = {}
    a = threading.Thread(target=lambda: result.setdefault("a", collect_once(site, root, client_a)[0]))
    a.start()
    try:
        assert reached.wait(120)
        out_b, src_b = collect_once(site, root)
    finally:
        go.set()
        a.join(120)
    assert (out_b.status, out_b.reason) == ("skipped", "busy_elsewhere")
    assert "being collected by" in (out_b.message or "") and src_b.described == []
    assert result["a"].status == "ok"
    assert item_state(root) == ("downloaded", None)
    assert (root / "urls" / SID / "video.mp4").read_bytes() == site.routes["/v.mp4"].body
    assert collect_once(site, root)[0].status == "skipped"  # a rerun finds it done
    assert not list((root / "urls" / SID).glob(".*part*"))
    assert not list((root / ".locks").rglob("*.lock"))  # each run's lock file went with it


def test_an_item_another_process_holds_is_skipped_naming_it_and_collected_by_the_rerun(site, tmp_path):
    """Another process holds the item's collect lock: this run sends no request for it, writes
    nothing of it, lists it (``busy_elsewhere``, that process's pid) and exits as if it were
    done; once that process is gone a rerun collects it."""
    root = tmp_path / "root"
    lock = root / ".locks" / "urls" / f".{SID}.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from schemas.atomic import file_lock\n"
            f"with file_lock({str(lock)!r}):\n    print('held', flush=True); sys.stdin.readline()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with Catalog(root / "catalog.sqlite") as cat:
            src = OneVideo(CollectContext(root, cat, CollectConfig(), client_for(site)), site.url("/v.mp4"))
            summary = run_collection(src, [SID, "it-2"], workers=1, show_progress=False)
            assert cat.get_item(str(SourceName.URLS), SID) is None
    finally:
        holder.communicate("\n", timeout=30)
    assert src.described == ["it-2"] and site.hits["/v.mp4"] == 1
    assert (summary.ok, summary.skipped, summary.failed, summary.rejected) == (1, 1, 0, 0)
    (problem,) = summary.problems
    assert problem["source_id"] == SID and problem["status"] == "skipped"
    assert problem["reason"] == "busy_elsewhere" and f"pid {holder.pid}" in problem["message"]
    out, _ = collect_once(site, root)
    assert out.status == "ok" and item_state(root) == ("downloaded", None)


def test_a_part_that_vanishes_under_its_check_is_a_retryable_failure_not_a_rejection(
    site, tmp_path, monkeypatch
):
    """The probe of a finished ``.part`` that another writer renamed away meanwhile: the file
    says nothing about the site's, so the item fails (retried), it is never ``not_a_video``."""
    probe = checks.probe_video

    def probe_after_it_went(path):
        Path(path).unlink()
        return probe(path)

    monkeypatch.setattr(checks, "probe_video", probe_after_it_went)
    with pytest.raises(FetchError) as ei:
        client_for(site).download(site.url("/v.mp4"), tmp_path / "dl", "video", "video")
    assert ei.value.reason == "file_vanished" and ei.value.retryable
    root = tmp_path / "root"
    out, _ = collect_once(site, root)
    assert (out.status, out.reason) == ("failed", "file_vanished")
    assert item_state(root) == ("failed", "file_vanished")
    monkeypatch.setattr(checks, "probe_video", probe)
    assert collect_once(site, root)[0].status == "ok"  # no --retry-rejected needed


def test_a_file_to_adopt_that_vanishes_under_its_check_is_failed_not_rejected(tmp_path, monkeypatch):
    """yt-dlp's finished download (or a user's shop file) gone while it is checked: failed."""
    image = tmp_path / "dl" / ".shop.ytdl.jpg"
    image.parent.mkdir()
    image.write_bytes(jpeg_bytes(2))
    probe = checks.probe_image

    def probe_after_it_went(path):
        Path(path).unlink()
        return probe(path)

    monkeypatch.setattr(checks, "probe_image", probe_after_it_went)
    with Catalog(tmp_path / "c.sqlite") as cat:
        ctx = CollectContext(tmp_path / "root", cat, CollectConfig(), PoliteClient(HttpConfig()))
        item = SourceItem(source=SourceName.URLS, source_id=SID)
        asset = ctx.adopt_file(item, AssetKind.SHOP, image, "image", url="file:///shop.jpg", move=True)
    assert (asset.status, asset.reason) == (Status.FAILED, "file_vanished")


def test_a_part_written_twice_never_passes_for_the_file(site, tmp_path, monkeypatch):
    """Bytes appended twice (two writers on one part) make it longer than the file: it is
    fetched again from the start, never probed and renamed as it is."""
    body = site.routes["/v.mp4"].body
    write, calls = http._write_part, []

    def write_twice_once(fh, part, chunk):
        calls.append(len(chunk))
        write(fh, part, chunk)
        if len(calls) == 2:
            write(fh, part, chunk)  # the other writer's copy of the same bytes

    monkeypatch.setattr(http, "_write_part", write_twice_once)
    dl = client_for(site, chunk_bytes=1024).download(site.url("/v.mp4"), tmp_path / "it", "video", "video")
    assert dl.sha256 == sha(body) and dl.path.read_bytes() == body


def test_a_kept_part_another_writer_appended_to_is_resumed_after_its_bytes_not_appended_again(
    site, tmp_path, monkeypatch
):
    """Between reading the kept part's size and opening it for append, another writer adds the
    next bytes: this run asks again from the part's new end instead of appending after them."""
    body = site.routes["/v.mp4"].body
    site.routes["/v.mp4"].truncate_first = 1
    with pytest.raises(FetchError):
        client_for(site, max_retries=0).download(site.url("/v.mp4"), tmp_path / "it", "video", "video")
    part = tmp_path / "it" / ".video.part"
    kept = part.stat().st_size
    assert 0 < kept < len(body)
    open_part, extra = http._open_part, 100

    def other_writer_first(path, mode):
        if mode == "ab" and path.stat().st_size == kept:
            with open(path, "ab") as fh:
                fh.write(body[kept : kept + extra])
        return open_part(path, mode)

    monkeypatch.setattr(http, "_open_part", other_writer_first)
    dl = client_for(site).download(site.url("/v.mp4"), tmp_path / "it", "video", "video")
    assert dl.path.read_bytes() == body
    assert site.headers_seen[-1].get("Range") == f"bytes={kept + extra}-"


def test_a_lock_file_its_holder_removed_while_this_run_locked_it_is_taken_anew(site, tmp_path, monkeypatch):
    """The holder removes its lock file as it ends; a run that opened the file just before
    holds a lock on a file no other run sees: it drops it and locks the file now at the path."""
    real, entered = core.file_lock, []

    def removed_under_the_first(path, **kw):
        lock = real(path, **kw)
        entered.append(path)
        if len(entered) == 1:
            lock.__enter__()
            Path(path).unlink()  # the earlier holder's removal, after this run opened it

            class Entered:
                def __enter__(self):
                    return None

                def __exit__(self, *exc):
                    return lock.__exit__(*exc)

            return Entered()
        return lock

    monkeypatch.setattr(core, "file_lock", removed_under_the_first)
    out, _ = collect_once(site, tmp_path / "root")
    assert out.status == "ok" and len(entered) == 2
