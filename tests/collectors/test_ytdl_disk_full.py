"""A disk that fills while yt-dlp's download writes its resume state (``.part.json``) is a local
fault, as anywhere else: the download raises :class:`LocalFault` (``disk_full``, naming the file)
and the run stops, instead of yt-dlp hiding it in ``NoSupportingHandlers`` (an
``internal_error`` with a traceback)."""

from __future__ import annotations

import errno
from types import SimpleNamespace

import pytest

import collectors.part_resume as part_resume
from collectors.core import Candidate
from collectors.guard import guarded_collect
from schemas.errors import LocalFault
from tests.collectors.conftest import info
from tests.collectors.fakesite import FakeSite, Route, mp4_bytes
from tests.collectors.test_ytdl_resume import PATH, _fetcher


def _full(path, *args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device", str(path))


def test_disk_full_writing_the_resume_state_is_a_local_fault(tmp_path, monkeypatch):
    monkeypatch.setattr(part_resume, "atomic_write_json", _full)
    with FakeSite() as site:
        site.routes[PATH] = Route(mp4_bytes(tmp_path, 1), content_type="video/mp4", headers={"ETag": '"v1"'})
        with pytest.raises(LocalFault) as err:
            _fetcher(site).download(info("7001", site.url(PATH)), tmp_path / "item")
    assert err.value.reason == "disk_full"
    assert err.value.path is not None and err.value.path.endswith(".part.json")


class _Ctx:
    def __init__(self) -> None:
        self.halted: list[BaseException] = []
        self.catalog = SimpleNamespace(get_item=lambda *a: None)

    def halt(self, exc: BaseException) -> None:
        self.halted.append(exc)


def test_a_local_fault_yt_dlp_hid_in_no_supporting_handlers_stops_the_run(tmp_path):
    from yt_dlp.networking.exceptions import NoSupportingHandlers

    hidden = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / ".v.part.json"))

    def collect(cand):
        try:
            raise NoSupportingHandlers([], [hidden])
        except NoSupportingHandlers as exc:
            raise RuntimeError("wrapped by a caller") from exc

    ctx = _Ctx()
    source = SimpleNamespace(name="tiktok", ctx=ctx, collect=collect)
    out = guarded_collect(source, Candidate(raw_id="7001"))
    assert (out.status, out.reason) == ("failed", "disk_full")
    assert len(ctx.halted) == 1 and isinstance(ctx.halted[0], LocalFault)
    assert ctx.halted[0].path == str(tmp_path / ".v.part.json")


def test_a_shared_library_the_machine_lacks_stops_the_run_naming_it():
    """OpenCV cannot load libGL (a media check imports it): every item would fail the same way, so
    the run stops with ``missing_library``, as with a full disk; a plain import bug does not."""

    def collect_with(error):
        def collect(cand):
            raise error

        ctx = _Ctx()
        return guarded_collect(
            SimpleNamespace(name="tiktok", ctx=ctx, collect=collect), Candidate(raw_id="7001")
        ), ctx

    out, ctx = collect_with(
        ImportError("libGL.so.1: cannot open shared object file: No such file or directory")
    )
    assert (out.status, out.reason) == ("failed", "missing_library")
    assert len(ctx.halted) == 1 and "apt-get install libgl1" in str(ctx.halted[0])
    out, ctx = collect_with(ImportError("No module named 'cv3'"))
    assert (out.status, out.reason) == ("failed", "internal_error:ImportError") and ctx.halted == []
