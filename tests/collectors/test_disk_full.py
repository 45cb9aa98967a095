"""A full disk during collection: named (``disk_full`` + the path), the run stops early with one
clear line, the JSON summary is still printed, and a rerun with space again completes with
nothing left failed or partial, equal to a collection that never ran out of space.

Two ways to fill the disk: a real 768 KiB tmpfs (mounted in a private mount namespace with
``unshare``, root or not), and a simulated one (``ENOSPC`` after a byte budget, injected where
downloads write) that runs everywhere.
"""

from __future__ import annotations

import errno
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from collectors.api import collect
from collectors.config import HttpConfig, load_collect_config
from schemas.catalog import Catalog

HTTP = HttpConfig(
    backoff_base_s=0.001,
    backoff_max_s=0.005,
    retry_after_max_s=0.005,
    rate_per_host=1000,
    burst_per_host=100,
    max_retries=2,
    max_concurrency_per_host=8,
)


def _cfg(base_url: str):
    return load_collect_config(base_url=base_url).model_copy(update={"http": HTTP})


def _snapshot(root: Path, catalog: Path) -> tuple[list, list, dict]:
    """Items and assets (without timestamps) and the files under root by SHA-256 (yt-dlp's download
    archive, a set written in completion order, as its sorted lines)."""
    from schemas.atomic import sha256_file

    def content(p: Path) -> str | list[str]:
        return sorted(p.read_text().splitlines()) if p.name == ".ytdlp-archive.txt" else sha256_file(p)

    with Catalog(catalog) as cat:
        items = [(str(r.item.source), r.item.source_id, str(r.status), r.reason) for r in cat.items()]
        assets = [
            (str(a.source), a.source_id, str(a.kind), a.url, str(a.status), a.reason, a.path, a.sha256)
            for a in cat.assets()
        ]
    files = {
        p.relative_to(root).as_posix(): content(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "catalog.sqlite" and not p.name.startswith("catalog.sqlite-")
    }
    return items, assets, files


def _collect_nap_and_tiktok(base_url: str, fx: dict, root: Path, catalog: Path):
    cfg = _cfg(base_url)
    nap = collect("netaporter", [fx["sitemap"]], root=root, catalog=catalog, cfg=cfg, workers=4)
    tt = collect(
        "tiktok",
        fx["tiktok_info"],
        root=root,
        catalog=catalog,
        cfg=cfg,
        workers=4,
        shop_map=fx["tiktok_shops"],
    )
    return nap, tt


@pytest.fixture(scope="module")
def reference(world_server, tmp_path_factory):
    """The same collection on a disk with room: what every disk-full run must end equal to."""
    tmp = tmp_path_factory.mktemp("full-ref")
    fx = world_server.write_fixtures(tmp / "fixtures")
    root = tmp / "data"
    nap, tt = _collect_nap_and_tiktok(world_server.base_url, fx, root, root / "catalog.sqlite")
    assert nap.failed == tt.failed == 0
    return fx, _snapshot(root, root / "catalog.sqlite"), nap.ok + nap.rejected


class _SmallDisk:
    """Download files that fail with ENOSPC once ``budget`` bytes are written in all."""

    def __init__(self, budget: int) -> None:
        self.left = budget

    def open(self, part: Path, mode: str):
        disk = self
        fh = open(part, mode)  # noqa: SIM115 - closed by the code under test

        class Full:
            def __getattr__(self, name):
                return getattr(fh, name)

            def write(self, data: bytes) -> int:
                if len(data) > disk.left:
                    fh.write(data[: disk.left])
                    disk.left = 0
                    raise OSError(errno.ENOSPC, "No space left on device")
                disk.left -= len(data)
                return fh.write(data)

        return Full()


def test_simulated_disk_full_stops_early_names_it_and_a_rerun_completes(
    reference, world_server, tmp_path, monkeypatch
):
    import collectors.http as http

    fx, want, nap_items = reference
    root, catalog = tmp_path / "data", tmp_path / "data" / "catalog.sqlite"
    monkeypatch.setattr(http, "_open_part", _SmallDisk(150_000).open)
    nap = collect("netaporter", [fx["sitemap"]], root=root, catalog=catalog, cfg=_cfg(world_server.base_url))
    assert nap.stopped is not None and nap.stopped["reason"] == "disk_full"
    assert nap.stopped["path"].startswith(str(root)) and nap.stopped["path"].endswith(".part")
    assert "disk full" in nap.stopped["message"] and "rerun" in nap.stopped["message"]
    assert nap.reasons.get("disk_full", 0) >= 1 and "truncated_body" not in nap.reasons
    # each item line names the file, as the stop line does (it read "failed 412395 disk_full")
    lines = [ln for ln in nap.human().splitlines() if "disk_full" in ln and ln.startswith("  ")]
    assert lines and all(f"disk_full  at {root}" in ln for ln in lines), lines
    assert nap.ok + nap.failed + nap.rejected < nap_items, "the run should stop early, not fail every item"
    with Catalog(catalog) as cat:
        assert {a.reason for a in cat.assets(status="failed")} <= {"disk_full"}
    monkeypatch.undo()  # room again
    rerun = _collect_nap_and_tiktok(world_server.base_url, fx, root, catalog)
    assert all(s.failed == 0 and s.stopped is None for s in rerun)
    assert not list(root.rglob("*.part"))
    assert _snapshot(root, catalog) == want


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt 2>/dev/null || exit 3"],
        capture_output=True,
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _unshare_works(), reason="no private mount namespace here (unshare -rm)")
def test_real_tmpfs_disk_full_4_workers_then_rerun_on_a_larger_disk(reference, world_server, tmp_path):
    """The finding's setup: a tiny tmpfs, 4 workers, the catalog on the same disk."""
    fx, want, _ = reference
    mnt, kept = tmp_path / "mnt", tmp_path / "kept"
    mnt.mkdir()
    kept.mkdir()
    exe = [str(Path(sys.executable).with_name("mf-collect"))]
    fast = tmp_path / "http.yaml"  # a loopback site: no need for a shop's 2 requests a second
    fast.write_text("http:\n  rate_per_host: 1000\n  burst_per_host: 100\n")
    common = ["--root", f"{mnt}/data", "--base-url", world_server.base_url, "--workers", "4", "--json"]
    common += ["--config", str(fast)]
    nap = [*exe, "netaporter", fx["sitemap"], *common]
    tt = [*exe, "tiktok", *fx["tiktok_info"], "--shop-map", fx["tiktok_shops"], *common]
    q = " ".join
    script = (
        f"mount -t tmpfs -o size=768k tmpfs {mnt} || exit 99; "
        f"{q(nap)} > {kept}/nap.json 2> {kept}/nap.err; echo $? > {kept}/nap.rc; "
        f"{q(tt)} > {kept}/tt.json 2> {kept}/tt.err; echo $? > {kept}/tt.rc; "
        f"cp -a {mnt}/data {kept}/data"
    )
    subprocess.run(["unshare", "-rm", "sh", "-c", script], check=True, timeout=300)
    runs = {name: json.loads((kept / f"{name}.json").read_text()) for name in ("nap", "tt")}
    stopped = [r["stopped"] for r in runs.values() if r["stopped"]]
    assert stopped, "768 KiB should not hold the collection"
    for name, r in runs.items():
        rc = int((kept / f"{name}.rc").read_text())
        err = (kept / f"{name}.err").read_text()
        assert "Traceback" not in err and "sqlite3." not in err
        if r["stopped"]:
            assert rc == 1 and r["stopped"]["reason"] == "disk_full"
            assert str(mnt) in r["stopped"]["path"]
            assert err.strip().splitlines()[-1].startswith("stopped early: disk full at")
            assert len(err.strip().splitlines()) <= 3, err
            assert "truncated_body" not in r["reasons"]
    root = kept / "data"
    rerun = _collect_nap_and_tiktok(world_server.base_url, fx, root, root / "catalog.sqlite")
    assert all(s.failed == 0 and s.stopped is None for s in rerun)
    assert not list(root.rglob("*.part"))
    assert _snapshot(root, root / "catalog.sqlite") == want
