"""``mf-collect``: help, JSON output, exit codes, and SIGKILL mid-collection followed by a rerun."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from collectors.cli import collect
from schemas.catalog import Catalog
from tests.collectors.fakesite import FakeSite, Route, jpeg_bytes, mp4_bytes

ROOT = Path(__file__).resolve().parents[2]


def fast_config(tmp_path: Path) -> str:
    cfg = tmp_path / "fast.yaml"
    cfg.write_text(
        "http:\n  backoff_base_s: 0.001\n  backoff_max_s: 0.005\n  retry_after_max_s: 0.005\n"
        "  rate_per_host: 1000\n  burst_per_host: 100\n  max_retries: 1\n"
    )
    return str(cfg)


def list_page(site: FakeSite, ids: list[str]) -> None:
    links = "".join(f"<a href='/en-us/shop/product/d/c/s/slug/{i}'>x</a>" for i in ids)
    site.routes["/en-us/shop/clothing"] = Route(f"<html>{links}</html>".encode(), content_type="text/html")
    for i in ids:
        ld = json.dumps(
            {"@type": "Product", "name": f"Dress {i}", "brand": {"name": "Halden"}, "color": "red"}
        )
        site.routes[f"/en-us/shop/product/d/c/s/slug/{i}"] = Route(
            f"<script type='application/ld+json'>{ld}</script>".encode(), content_type="text/html"
        )


@pytest.mark.parametrize("sub", ["netaporter", "tiktok", "instagram", "urls"])
def test_help_has_examples(sub):
    res = CliRunner().invoke(collect, [sub, "--help"])
    assert res.exit_code == 0 and "Examples:" in res.output and "--workers" in res.output


def test_json_summary_and_exit_codes(tmp_path):
    with FakeSite() as site:
        list_page(site, ["11", "12"])
        for i in ("11", "12"):
            site.routes[f"/images/products/{i}/{i}_fr_l.jpg"] = Route(
                jpeg_bytes(int(i)), content_type="image/jpeg"
            )
        args = [
            "netaporter",
            "--base-url",
            site.base,
            "--root",
            str(tmp_path / "o"),
            "--config",
            fast_config(tmp_path),
            "--json",
            "--workers",
            "2",
        ]
        res = CliRunner().invoke(collect, args)
        assert res.exit_code == 0, res.output
        out = json.loads(res.output)
        assert out["ok"] == 2 and out["failed"] == 0 and out["source"] == "netaporter"
        assert (tmp_path / "o/catalog.sqlite").exists()
        site.routes["/en-us/shop/clothing"].body += b"<a href='/en-us/shop/product/d/c/s/slug/13'>x</a>"
        res = CliRunner().invoke(collect, args)  # 13 has no page: one failure -> exit 1
        assert res.exit_code == 1 and json.loads(res.output)["skipped"] == 2


def test_bad_config_is_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("http:\n  max_retries: -3\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from collectors.cli import main; main()",
            "urls",
            "http://127.0.0.1:9/x.mp4",
            "--root",
            str(tmp_path / "o"),
            "--config",
            str(bad),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "max_retries" in proc.stderr and "Traceback" not in proc.stderr


def test_sigkill_mid_collection_then_rerun(tmp_path):
    ids = [str(100 + i) for i in range(6)]
    bodies = {i: mp4_bytes(tmp_path, int(i), frames=40) for i in ids}
    out = tmp_path / "o"
    with FakeSite() as site:
        list_page(site, ids)
        for i in ids:
            site.routes[f"/videos/productPage/{i}_detail.mp4"] = Route(
                bodies[i], content_type="video/mp4", stall_s=0.6
            )
            site.routes[f"/images/products/{i}/{i}_fr_l.jpg"] = Route(
                jpeg_bytes(int(i)), content_type="image/jpeg"
            )
        cmd = [
            sys.executable,
            "-c",
            "from collectors.cli import main; main()",
            "netaporter",
            "--base-url",
            site.base,
            "--root",
            str(out),
            "--config",
            fast_config(tmp_path),
            "--workers",
            "2",
        ]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline and not list(out.rglob(".video.part")):
            time.sleep(0.05)
        time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert list(out.rglob(".video.part")), "the kill should land mid-transfer"
        for route in site.routes.values():
            route.stall_s = 0.0
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert any("Range" in h for h in site.headers_seen), "the kept .part should be resumed"
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]
    with Catalog(out / "catalog.sqlite") as cat:
        assert cat.count_items() == 6 and cat.integrity_ok()
        videos = cat.assets(kind="video")
        assert len(videos) == 6 and len(cat.assets()) == 6 * 5  # video + 4 views (3 optional rejected 404)
        for a in videos:
            assert a.status == "downloaded"
            assert a.sha256 == hashlib.sha256(bodies[a.source_id]).hexdigest()
            assert (out / a.path).read_bytes() == bodies[a.source_id]
