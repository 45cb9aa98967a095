"""``mf-collect``: help and its examples, JSON output, exit codes 0/1/2, --root/--out, --version,
the progress counts, and SIGKILL mid-collection followed by a rerun."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from collectors.cli import collect
from schemas.catalog import Catalog
from schemas.cli_support import run_main
from tests.collectors.fakesite import FakeSite, Route, jpeg_bytes, mp4_bytes

ROOT = Path(__file__).resolve().parents[2]


def fast_config(tmp_path: Path) -> str:
    cfg = tmp_path / "fast.yaml"
    cfg.write_text(
        "http:\n  backoff_base_s: 0.001\n  backoff_max_s: 0.005\n  retry_after_max_s: 0.005\n"
        "  rate_per_host: 1000\n  burst_per_host: 100\n  max_retries: 1\n"
    )
    return str(cfg)


def netaporter_cmd(site: FakeSite, out: Path, config: str, *extra: str) -> list[str]:
    """The ``mf-collect netaporter`` command line of a run against ``site`` into ``out``."""
    cli = "from collectors.cli import main; main()"
    return [
        sys.executable,
        "-c",
        cli,
        "netaporter",
        "--base-url",
        site.base,
        "--root",
        str(out),
        "--config",
        config,
        *extra,
    ]


def start_interruptible(cmd: list[str]) -> subprocess.Popen:
    """Start ``cmd`` (its output piped, as text) so that SIGINT reaches it as a terminal's
    Ctrl-C does: at its default, whatever the test runner's worker set (a process started with
    SIGINT ignored ignores it too, and Python keeps it so)."""
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


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
        assert "executor" not in out  # only a remote executor adds what ran where
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
                # half the body, then a pause long enough for the kill to land in it however
                # late a loaded machine sees the .part (the rerun gets no pause)
                bodies[i],
                content_type="video/mp4",
                stall_s=5.0,
                headers={"ETag": f'"{i}"'},
            )
            site.routes[f"/images/products/{i}/{i}_fr_l.jpg"] = Route(
                jpeg_bytes(int(i)), content_type="image/jpeg"
            )
        cmd = netaporter_cmd(site, out, fast_config(tmp_path), "--workers", "2")
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
        resumes = [h for h in site.headers_seen if "Range" in h]
        assert resumes, "the kept .part should be resumed"
        assert all(h.get("If-Range", "").strip('"') in ids for h in resumes)  # checked against its ETag
    assert not [p for p in out.rglob("*") if p.name.endswith((".part", ".part.json"))]
    with Catalog(out / "catalog.sqlite") as cat:
        assert cat.count_items() == 6 and cat.integrity_ok()
        videos = cat.assets(kind="video")
        assert len(videos) == 6 and len(cat.assets()) == 6 * 5  # video + 4 views (3 optional rejected 404)
        for a in videos:
            assert a.status == "downloaded"
            assert a.sha256 == hashlib.sha256(bodies[a.source_id]).hexdigest()
            assert (out / a.path).read_bytes() == bodies[a.source_id]


def run_cli(args: list, capsys) -> tuple[int, str, str]:
    """``mf-collect ARGS`` in-process through its entry point: (exit status, stdout, stderr)."""
    code = 0
    try:
        run_main(collect, [str(a) for a in args])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def product_page(pid: str) -> Route:
    ld = json.dumps({"@type": "Product", "name": f"Dress {pid}", "brand": {"name": "Halden"}})
    return Route(f"<script type='application/ld+json'>{ld}</script>".encode(), content_type="text/html")


@pytest.fixture
def mixed_shop(tmp_path):
    """Four products: 21 fine, 22 a server that keeps failing (failed), 23 a shop image that does
    not decode (rejected: not_an_image; an HTML page would be retried), 24 no page (rejected: http_404)."""
    with FakeSite() as site:
        for pid in ("21", "22", "23"):
            site.routes[f"/en-us/shop/product/{pid}"] = product_page(pid)
        site.routes["/en-us/shop/product/22"].fail_first = 1000
        site.routes["/images/products/21/21_fr_l.jpg"] = Route(jpeg_bytes(21), content_type="image/jpeg")
        site.routes["/images/products/23/23_fr_l.jpg"] = Route(b"not a jpeg " * 50, content_type="image/jpeg")
        ids = tmp_path / "ids.txt"
        ids.write_text("21\n22\n23\n24\n")
        yield site, ids


def test_exit_1_lists_failed_and_rejected_and_the_bar_counts_them_apart(mixed_shop, tmp_path, capsys):
    site, ids = mixed_shop
    root = tmp_path / "o"
    args = ["netaporter", f"@{ids}", "--base-url", site.base, "--root", root]
    args += ["--config", fast_config(tmp_path), "--progress"]
    code, out, err = run_cli(args, capsys)
    assert code == 1, err
    listed = {line.split()[1]: line.split()[0] for line in out.splitlines() if line.startswith("  ")}
    assert listed == {"22": "failed", "23": "rejected", "24": "rejected"}, out
    assert "1 failed, 2 rejected" in err
    bar = [line for line in err.replace("\r", "\n").splitlines() if "collect netaporter" in line][-1]
    assert "4/4" in bar and "ok=1, failed=1, rejected=2, skipped=0" in bar, bar
    # rerun: the failed item is tried again, the rejected ones are skipped; --json lists problems
    code, out, err = run_cli([*args[:-1], "--json"], capsys)
    summary = json.loads(out)
    assert code == 1 and (summary["skipped"], summary["failed"]) == (3, 1)
    assert [(p["source_id"], p["status"]) for p in summary["problems"]] == [("22", "failed")]
    assert summary["problems"][0]["reason"].startswith("http_503")
    site.routes["/en-us/shop/product/22"] = product_page("22")  # the server is back
    site.routes["/images/products/22/22_fr_l.jpg"] = Route(jpeg_bytes(22), content_type="image/jpeg")
    code, out, _ = run_cli([*args[:-1], "--json"], capsys)
    assert code == 0 and json.loads(out)["ok"] == 1 and json.loads(out)["problems"] == []


@pytest.mark.parametrize(
    "args,says",
    [
        (["urls"], "no urls targets given"),
        (["urls", "{tmp}/missing.txt"], "missing.txt"),
        (["tiktok", "@{tmp}/no/list.txt"], "no/list.txt"),
        (["instagram", "what-is-this"], "cannot read target"),
        (["tiktok", "{tmp}/info.json", "--shop-map", "{tmp}/none.csv"], "none.csv"),
        (["netaporter", "--executor", "cluster"], "Invalid value for '--executor'"),
        (["netaporter", "--ray-address", "127.0.0.1:1"], "--ray-address: it is only read by --executor ray"),
        (["netaporter", "--workers", "0"], "--workers"),
        # no scheme: read as a path, every request failed host_not_allowed (exit 1)
        (["netaporter", "--base-url", "127.0.0.1:8765"], "'127.0.0.1:8765' is not an http(s) URL"),
        (["urls", "x.txt", "--base-url", "htp://127.0.0.1:8765"], "--base-url http://"),
    ],
)
def test_exit_2_on_usage_or_input_error_creates_nothing(tmp_path, capsys, args, says):
    (tmp_path / "info.json").write_text('{"id": "7300"}')  # an info JSON without an id is refused
    root = tmp_path / "o"
    code, _, err = run_cli([a.format(tmp=tmp_path) for a in args] + ["--root", root], capsys)
    assert code == 2 and says in err and "Traceback" not in err, err
    assert not root.exists()


@pytest.mark.parametrize(
    "marker,says",
    [
        ("train.json", "a published dataset folder"),
        ("test.json", "a published dataset folder"),
        ("world.json", "a synthetic world folder"),
    ],
)
@pytest.mark.parametrize("dry_run", [False, True])
def test_a_dataset_or_world_folder_as_root_is_refused_before_anything_is_written(
    tmp_path, capsys, marker, says, dry_run
):
    """``--root DATASET`` (or a world folder) was collected into: its files and catalog.sqlite
    broke the dataset's manifest (mf verify: one break per file) and stopped the next publish."""
    folder = tmp_path / "dä set"
    folder.mkdir()
    (folder / marker).write_text("{}")
    (tmp_path / "info.json").write_text('{"id": "7300"}')
    before = sorted(p.name for p in folder.iterdir())
    args = ["tiktok", str(tmp_path / "info.json"), "--root", folder, "--json"]
    code, out, err = run_cli([*args, "--dry-run"] if dry_run else args, capsys)
    assert code == 2 and says in err and str(folder) in err and "--root" in err, err
    assert json.loads(out)["type"] == "ConfigError"
    assert sorted(p.name for p in folder.iterdir()) == before


def test_exit_2_without_root_and_for_no_targets_from_the_shell(tmp_path, capsys):
    code, _, err = run_cli(["urls", "http://127.0.0.1:9/x.mp4"], capsys)
    assert code == 2 and "--root" in err
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from collectors.cli import main; main()",
            "urls",
            "--root",
            str(tmp_path / "o"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "no urls targets given" in proc.stderr, proc.stderr
    assert not (tmp_path / "o").exists()


def test_out_is_a_hidden_deprecated_alias_of_root(mixed_shop, tmp_path, capsys):
    site, _ = mixed_shop
    base = ["netaporter", "21", "--base-url", site.base, "--config", fast_config(tmp_path), "--json"]
    code, out, err = run_cli([*base, "--out", tmp_path / "old"], capsys)
    assert code == 0 and json.loads(out)["ok"] == 1
    assert "--out is deprecated" in err and "--root" in err
    with Catalog(tmp_path / "old/catalog.sqlite") as cat:
        assert cat.get_item("netaporter", "21").status == "downloaded"
    assert (tmp_path / "old/netaporter/21/shop.jpg").read_bytes() == jpeg_bytes(21)
    code, _, err = run_cli([*base, "--out", tmp_path / "a", "--root", tmp_path / "b"], capsys)
    assert code == 2 and "old name of --root" in err and not (tmp_path / "a").exists()
    res = CliRunner().invoke(collect, ["netaporter", "--help"])
    assert "--root" in res.output and "--out" not in res.output


def test_version(capsys):
    from importlib.metadata import version

    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0 and out.strip() == f"mf-collect, version {version('movingfashion-toolkit')}"


def test_help_is_fast_and_imports_no_downloader():
    code = (
        "import sys; from click.testing import CliRunner; from collectors.cli import collect;"
        "[CliRunner().invoke(collect, [c, '--help']) for c in ('netaporter', 'tiktok', 'instagram', 'urls')];"
        "print(sorted(m for m in ('yt_dlp', 'instaloader', 'requests', 'cv2', 'torch') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stderr


def example_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("mf-collect ")]


def localize(line: str, base_url: str, fixtures: Path, data: Path) -> list[str]:
    """An example's argv with the local world's address, its fixture folder and a fresh data folder."""
    out = []
    for arg in shlex.split(line)[1:]:
        arg = arg.replace("http://127.0.0.1:8765", base_url).replace("world/fixtures", str(fixtures))
        if arg == "data" or arg.startswith("data/"):
            arg = str(data / arg[5:]) if arg != "data" else str(data)
        out.append(arg)
    return out


@pytest.mark.slow
def test_every_help_and_readme_example_works(world_server, tmp_path, capsys):
    """Each ``mf-collect`` example of the help texts and the README runs against the local world
    (``mf world serve --world world --port 8765`` writes ``world/fixtures``) and exits 0 with items."""
    fixtures = tmp_path / "fixtures"
    world_server.write_fixtures(fixtures)
    runner = CliRunner()
    texts = [runner.invoke(collect, ["--help"]).output]
    texts += [runner.invoke(collect, [name, "--help"]).output for name in collect.commands]
    readme = (ROOT / "README.md").read_text()
    lines = list(dict.fromkeys(example_lines("\n".join(texts)) + example_lines(readme)))
    assert {shlex.split(line)[1] for line in lines} == set(collect.commands)
    assert any(line in readme for line in lines)
    fast = ["--config", fast_config(tmp_path)]  # loopback: no need to pace requests like a real shop
    for line in lines:
        argv = localize(line, world_server.base_url, fixtures, tmp_path / "data")
        code, out, err = run_cli([*argv, *fast, *([] if "--json" in argv else ["--json"])], capsys)
        assert code == 0, (line, err)
        summary = json.loads(out)
        found = summary["ok"] + summary["skipped"] + (len(summary["items"]) if summary["dry_run"] else 0)
        assert found > 0 and summary["problems"] == [], (line, summary)


def test_real_sitemap_url_is_read_on_the_base_url(world_server, world_truth, tmp_path, capsys):
    """The README's sitemap URL on the real site's host, with --base-url: the same path on the base."""
    nap = sorted(p.product_id for p in world_truth.products if str(p.source) == "netaporter")
    args = ["netaporter", "https://www.net-a-porter.com/sitemap.xml", "--base-url", world_server.base_url]
    args += ["--config", fast_config(tmp_path)]
    code, out, err = run_cli([*args, "--root", tmp_path / "o", "--dry-run", "--json"], capsys)
    assert code == 0, err
    assert sorted(i["source_id"] for i in json.loads(out)["items"]) == nap
    assert all(i["url"].startswith(world_server.base_url) for i in json.loads(out)["items"])
    code, out, err = run_cli([*args, "--root", tmp_path / "o", "--limit", "2", "--json"], capsys)
    assert code == 0 and json.loads(out)["ok"] == 2, err


def sitemap_shop(site: FakeSite, ids: list[str], *, gone: bool = True) -> None:
    """A sitemap index whose second child lists ``ids`` and whose first is gone (404) or, with
    ``gone=False``, the same one again."""
    ns = "http://www.sitemaps.org/schemas/sitemap/0.9"
    for i in ids:
        site.routes[f"/en-us/shop/product/{i}"] = product_page(i)
        site.routes[f"/images/products/{i}/{i}_fr_l.jpg"] = Route(
            jpeg_bytes(int(i)), content_type="image/jpeg"
        )
    locs = "".join(f"<url><loc>{site.base}/en-us/shop/product/{i}</loc></url>" for i in ids)
    site.routes["/sitemap-good.xml"] = Route(
        f"<urlset xmlns='{ns}'>{locs}</urlset>".encode(), content_type="application/xml"
    )
    first = "gone" if gone else "good"
    children = "".join(f"<sitemap><loc>{site.base}/sitemap-{n}.xml</loc></sitemap>" for n in (first, "good"))
    site.routes["/sitemap.xml"] = Route(
        f"<sitemapindex xmlns='{ns}'>{children}</sitemapindex>".encode(), content_type="application/xml"
    )


def test_a_page_discovery_cannot_read_is_exit_1_with_the_summary(tmp_path, capsys):
    """A stale child sitemap: the products of the others are collected, the summary (and the
    --json document) is printed with the child's URL as a problem, exit 1 (a remote fault, not
    a usage error); a listing the site never answers is the same, with nothing found."""
    with FakeSite() as site:
        sitemap_shop(site, ["31", "32"])
        site.routes["/en-us/shop/clothing"] = Route(b"busy", fail_first=999, fail_status=503)
        args = ["netaporter", f"{site.base}/sitemap.xml", "--base-url", site.base, "--root", tmp_path / "o"]
        args += ["--config", fast_config(tmp_path)]
        code, out, err = run_cli([*args, "--json"], capsys)
        assert code == 1, err
        summary = json.loads(out)
        assert (summary["ok"], summary["failed"]) == (2, 1)
        assert [(p["url"], p["reason"], p["stage"]) for p in summary["problems"]] == [
            (site.url("/sitemap-gone.xml"), "http_404", "discovery")
        ]
        code, out, err = run_cli(args, capsys)  # rerun, text: the two are skipped, the child listed
        assert code == 1 and f"failed   {site.url('/sitemap-gone.xml')}  http_404" in out, out
        listing = ["netaporter", "--base-url", site.base, "--root", tmp_path / "l"]
        code, out, err = run_cli([*listing, "--config", fast_config(tmp_path)], capsys)
        assert code == 1 and "Traceback" not in err, err
        assert f"{site.url('/en-us/shop/clothing')}  http_503_exhausted" in out, out


def files_of(root: Path) -> dict[Path, tuple[int, int]]:
    return {
        p: (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if not p.name.endswith(("-wal", "-shm"))
    }


def test_dry_run_creates_nothing_and_lists_done_items_apart(tmp_path, capsys):
    with FakeSite() as site:
        sitemap_shop(site, ["41", "42"], gone=False)
        site.routes["/images/products/42/42_fr_l.jpg"] = Route(b"not a jpeg " * 50, content_type="image/jpeg")
        root = tmp_path / "o"
        base = ["netaporter", f"{site.base}/sitemap.xml", "--base-url", site.base, "--root", root]
        base += ["--config", fast_config(tmp_path), "--json"]
        code, out, err = run_cli([*base, "--dry-run"], capsys)
        assert code == 0 and not root.exists(), err  # no root, no catalog
        summary = json.loads(out)
        assert [i["source_id"] for i in summary["items"]] == ["41", "42"] and summary["would_skip"] == []
        assert summary["seconds"] == round(summary["seconds"], 3)  # as a collecting run reports it
        code, out, _ = run_cli(base, capsys)  # a real run: 41 collected, 42 rejected (not an image)
        assert (json.loads(out)["ok"], json.loads(out)["rejected"]) == (1, 1)
        site.routes["/sitemap-good.xml"].body = site.routes["/sitemap-good.xml"].body.replace(
            b"</urlset>", f"<url><loc>{site.base}/en-us/shop/product/43</loc></url></urlset>".encode()
        )
        before = files_of(root)
        digest = hashlib.sha256((root / "catalog.sqlite").read_bytes()).hexdigest()
        code, out, err = run_cli([*base, "--dry-run"], capsys)
        assert code == 0, err
        summary = json.loads(out)
        assert [i["source_id"] for i in summary["items"]] == ["43"] and summary["skipped"] == 2
        assert [(i["source_id"], i["status"], i["reason"]) for i in summary["would_skip"]] == [
            ("41", "downloaded", None),
            ("42", "rejected", "not_an_image"),
        ]
        code, out, _ = run_cli(base[:-1] + ["--dry-run"], capsys)
        assert out.splitlines()[:2] == [
            "dry run: would collect 1 items, skip 2 (collected or rejected for good)",
            f"  43  {site.base}/en-us/shop/product/43",
        ]
        assert "  41  downloaded" in out and "  42  rejected (not_an_image)" in out
    # the catalog was only read: no file added, changed or rewritten under the root (SQLite's
    # -wal/-shm beside it aside: a reader of a WAL database may create them)
    assert files_of(root) == before
    assert hashlib.sha256((root / "catalog.sqlite").read_bytes()).hexdigest() == digest


@pytest.mark.parametrize(
    ("summary_kw", "code", "line"),
    [
        ({"interrupted": True}, 130, "interrupted"),
        (
            {"stopped": {"reason": "disk_full", "message": "disk full under X: free space, then rerun"}},
            1,
            "disk full",
        ),
    ],
)
def test_text_mode_says_an_interrupted_or_stopped_run_once(tmp_path, monkeypatch, summary_kw, code, line):
    """stdout's summary and stderr's message together name the stop once, not twice."""
    import collectors.api
    from collectors.core import Summary

    monkeypatch.setattr(collectors.api, "collect", lambda *a, **k: Summary("netaporter", ok=1, **summary_kw))
    res = CliRunner().invoke(collect, ["netaporter", "--root", str(tmp_path / "out")])
    assert res.exit_code == code, res.output
    both = res.stdout + res.stderr
    assert both.count(line) == 1, both
    assert "netaporter: 1 ok" in res.stdout
