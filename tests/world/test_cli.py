"""``mf world generate`` / ``serve`` / ``export-gt``."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from movingfashion.world.cli import _human, world
from movingfashion.world.generate import generate_world
from movingfashion.world.server import WorldServer
from schemas.cli_support import run_main
from schemas.errors import ConfigError
from tests.world_fixtures import SMALL_WORLD


def test_generate_reuses_an_identical_world(small_world, world_truth, capsys):
    run_main(
        world,
        [
            "generate",
            "--out",
            str(small_world),
            "--products",
            str(SMALL_WORLD["products"]),
            "--seed",
            str(SMALL_WORLD["seed"]),
            "--quick",
            "--json",
        ],
    )
    out = json.loads(capsys.readouterr().out)
    assert out["products"] == len(world_truth.products) and out["classes"] == list(range(1, 14))
    assert out["split_screen"] >= 2 and out["duplicates"] >= 3 and out["df2_images"] > 0
    # both reports say the world was reused (was: neither did)
    assert out["reused"] is True
    assert " reused (" not in _human({**out, "reused": False}) and " reused (" in _human(out)
    args = ["generate", "--out", str(small_world), "--products", str(SMALL_WORLD["products"])]
    run_main(world, [*args, "--seed", str(SMALL_WORLD["seed"]), "--quick"])
    assert f"world {small_world} reused (the folder held this world already" in capsys.readouterr().out


def test_generate_refuses_bad_requests(small_world, tmp_path, capsys):
    with pytest.raises(ConfigError, match="at least 20"):
        generate_world(tmp_path / "w", products=5)
    assert not (tmp_path / "w").exists()  # nothing written for a refused request
    with pytest.raises(ConfigError, match="different world"):
        generate_world(small_world, products=SMALL_WORLD["products"], seed=99, quick=True)
    with pytest.raises(SystemExit) as exc:
        run_main(world, ["generate", "--out", str(tmp_path / "w"), "--products", "3"])
    assert exc.value.code == 2 and "--products" in capsys.readouterr().err


def test_generate_refuses_a_folder_that_holds_something_else(tmp_path, capsys):
    """Before, a non-empty folder without world.json was written into, mixing the world's files
    with what was there."""
    mine = tmp_path / "my-project"
    (mine / "media").mkdir(parents=True)
    (mine / "media" / "holiday.jpg").write_bytes(b"mine")
    (mine / "notes.txt").write_text("mine\n")
    with pytest.raises(SystemExit) as exc:
        run_main(world, ["generate", "--out", str(mine), "--products", "20", "--quick"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and str(mine) in err and "media, notes.txt" in err and "--out" in err
    assert sorted(p.name for p in mine.rglob("*")) == ["holiday.jpg", "media", "notes.txt"]
    # a world cut short (its parameters file is written first) is rendered again, as before
    cut = tmp_path / "cut-short"
    (cut / "media").mkdir(parents=True)
    (cut / "world_params.json").write_text(json.dumps({"generator_version": "0", "products": 20}))
    with pytest.raises(ConfigError, match="at least 20"):  # past the folder check, to the request's
        generate_world(cut, products=5)


def test_a_refused_out_folder_lists_the_visible_files_first_and_counts_them(tmp_path, capsys):
    """Before, the refusal named the first three names in sort order, hidden ones first: a folder
    holding ``.DS_Store``, ``.git`` and ``.idea`` beside the user's files was shown as ``.DS_Store,
    .git, .idea and 2 more``. Now the visible names come first and the entries are counted (the
    same for mf world export-gt)."""
    from movingfashion.world.gt_dataset import _check_out

    mine = tmp_path / "my-project"
    for folder in (".git", "media"):
        (mine / folder).mkdir(parents=True)
    for name in (".DS_Store", ".idea", "notes.txt"):
        (mine / name).write_text("mine\n")
    with pytest.raises(SystemExit) as exc:
        run_main(world, ["generate", "--out", str(mine), "--products", "20", "--quick"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "(5 entries: media, notes.txt, .DS_Store and 2 more)" in err, err
    with pytest.raises(ConfigError, match=r"\(5 entries: media, notes.txt, .DS_Store and 2 more\)"):
        _check_out(mine)


@pytest.mark.parametrize("field", ["frames", "quick_frames"])
def test_clips_too_short_for_a_sub_clip_are_a_config_error(tmp_path, field, capsys):
    """Before: 9 frames passed the config and crashed the render (numpy 'low >= high' drawing a
    sub-clip re-post's start) after gt/ and media/ were written."""
    cfg = tmp_path / "world.json"
    cfg.write_text(json.dumps({field: 9}))
    out = tmp_path / "w"
    args = ["generate", "--out", str(out), "--products", "20", "--config", str(cfg)]
    with pytest.raises(SystemExit) as exc:
        run_main(world, [*args, *(["--quick"] if field == "quick_frames" else [])])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and field in err and "Traceback" not in err
    assert not out.exists()


def test_serve_prints_base_url_and_writes_fixtures(small_world, tmp_path, capsys):
    run_main(
        world,
        [
            "serve",
            "--world",
            str(small_world),
            "--once",
            "--json",
            "--fixtures",
            str(tmp_path / "fx"),
            "--faults",
            "retry_after_429=1",
        ],
    )
    info = json.loads(capsys.readouterr().out)
    assert info["base_url"].startswith("http://127.0.0.1:") and info["faults"] == {"retry_after_429": 1}
    assert (tmp_path / "fx" / "urls.txt").exists() and info["fixtures"]["tiktok_info"]
    with pytest.raises(SystemExit) as exc:  # the old positional WORLD_DIR still works, with a warning
        run_main(world, ["serve", str(small_world), "--once", "--faults", "bogus=1"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "unknown fault 'bogus'" in err and "use --world instead" in err


def test_a_second_serve_reuses_unchanged_fixtures(small_world, tmp_path):
    """Served again on the same port, the world's fixtures are the same bytes: none is rewritten
    (same inode and modification time), so a fixtures folder another process reads, or one on a
    read-only copy of the world, stays as it is. Before, every file was written anew."""
    out = tmp_path / "fx"

    def stamps() -> dict[str, tuple[int, int]]:
        return {str(f): (f.stat().st_ino, f.stat().st_mtime_ns) for f in out.rglob("*") if f.is_file()}

    with WorldServer(small_world) as srv:
        port = int(srv.base_url.rsplit(":", 1)[1])
        srv.write_fixtures(out)
    first = stamps()
    assert len(first) > 5 and any(f.endswith("manifest.csv") for f in first)
    with WorldServer(small_world, port=port) as srv:
        srv.write_fixtures(out)
    assert stamps() == first


def test_busy_port_is_a_clear_error(small_world):
    with WorldServer(small_world) as a:
        port = int(a.base_url.rsplit(":", 1)[1])
        with pytest.raises(ConfigError, match="cannot listen"):
            WorldServer(small_world, port=port).start()


@pytest.mark.parametrize("port", [99999, -1])
def test_a_port_out_of_range_is_a_usage_error(small_world, port, capsys):
    """Before: an OverflowError traceback from bind (exit 1)."""
    with pytest.raises(SystemExit) as exc:
        run_main(world, ["serve", "--world", str(small_world), "--once", "--port", str(port)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--port" in err and "Traceback" not in err
    with pytest.raises(ConfigError, match="cannot listen"):
        WorldServer(small_world, port=port).start()


@pytest.mark.parametrize("command", ["generate", "export-gt"])
def test_a_negative_seed_is_a_usage_error(small_world, tmp_path, command, capsys):
    """Before: a numpy traceback (exit 1) from the seeded random generator."""
    args = ["--out", str(tmp_path / "x"), "--seed", "-1"]
    args += ["--world", str(small_world)] if command == "export-gt" else ["--products", "20", "--quick"]
    with pytest.raises(SystemExit) as exc:
        run_main(world, [command, *args])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--seed" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_export_gt_offers_every_tracklet_source_and_weights_only_for_linked(small_world, tmp_path):
    from click.testing import CliRunner

    from movingfashion.models.detectors.ultralytics_backend import default_detector_path
    from movingfashion.world.gt_dataset import TRACKLET_SOURCES

    opt = next(p for p in world.commands["export-gt"].params if p.name == "tracklets")
    assert tuple(opt.type.choices) == TRACKLET_SOURCES
    args = ["export-gt", "--world", str(small_world), "--out", str(tmp_path / "x")]
    res = CliRunner().invoke(world, [*args, "--weights", str(default_detector_path())])
    assert res.exit_code == 2 and "--tracklets linked" in res.output
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("source", ["tracked", "detected", "linked"])
def test_a_tracker_source_on_a_world_without_a_tracker_is_a_clear_error(
    small_world, tmp_path, source, capsys
):
    """The small world has no noise knobs, so no tracker boxes: before, the export fell back to
    the true boxes silently, labelled as the tracker's."""
    with pytest.raises(SystemExit) as exc:
        run_main(
            world,
            ["export-gt", "--world", str(small_world), "--out", str(tmp_path / "x"), "--tracklets", source],
        )
    err = capsys.readouterr().err
    assert exc.value.code == 2 and f"--tracklets {source} needs the world tracker's boxes" in err
    assert "--preset hard" in err and not (tmp_path / "x").exists()


@pytest.mark.parametrize("content", [None, '{"seed": 1', '{"unexpected": true}'])
def test_a_folder_without_a_readable_world_json_is_a_clear_error(tmp_path, content, capsys):
    folder = tmp_path / "cut-short"
    folder.mkdir()
    if content is not None:
        (folder / "world.json").write_text(content)
    with pytest.raises(SystemExit) as exc:
        run_main(world, ["export-gt", "--world", str(folder), "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert exc.value.code == 2, err
    assert str(folder / "world.json") in err and "mf world generate" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_serve_started_in_the_background_stops_on_sigint(small_world, tmp_path):
    """A shell starting ``mf world serve &`` starts it with SIGINT ignored; "Ctrl-C to stop"
    (``kill -INT``) still stops it: exit 130, the port freed."""
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "movingfashion",
            "world",
            "serve",
            "--world",
            str(small_world),
            "--port",
            "0",
            "--fixtures",
            str(tmp_path / "fx"),
        ],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # as `cmd &` in a script
    )
    try:
        line = proc.stdout.readline()  # the server is up once it printed its URL
        assert line.startswith("serving "), (line, proc.stderr.read() if proc.poll() is not None else "")
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("mf world serve started with SIGINT ignored did not stop on SIGINT")
        assert proc.returncode == 130, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_a_second_serve_of_the_same_fixtures_folder_is_refused(small_world, tmp_path, capsys):
    """While one ``mf world serve`` runs, a second one writing the same fixtures folder is refused
    (exit 2, naming the first and --fixtures): before, it rewrote every URL to its own port, dead
    once it stopped, and the first server's collectors failed on robots.txt. Another --fixtures
    folder serves; after the first stops the folder is free again."""
    root = Path(__file__).resolve().parents[2]
    fx = tmp_path / "fx ü"
    proc = subprocess.Popen(
        [sys.executable, "-m", "movingfashion", "world", "serve", "--world", str(small_world)]
        + ["--port", "0", "--fixtures", str(fx)],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving "), (line, proc.stderr.read() if proc.poll() is not None else "")
        urls = (fx / "urls.txt").read_bytes()
        with pytest.raises(SystemExit) as exc:
            run_main(world, ["serve", "--world", str(small_world), "--once", "--fixtures", str(fx)])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and "--fixtures" in err and str(proc.pid) in err, err
        assert (fx / "urls.txt").read_bytes() == urls
        run_main(world, ["serve", "--world", str(small_world), "--once", "--fixtures", str(tmp_path / "o")])
        assert (tmp_path / "o" / "urls.txt").is_file()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
    run_main(world, ["serve", "--world", str(small_world), "--once", "--fixtures", str(fx)])  # free again


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("truncate=1234567890123", "no product of this world has the id '1234567890123'"),
        ("html_as_image=1", "fault 'html_as_image'"),
        ("taken_down={pid},nope", "'nope'"),
        ("evil_ids=maybe", "is not true or false"),
    ],
)
def test_a_fault_that_would_do_nothing_is_refused(small_world, world_truth, tmp_path, capsys, fault, words):
    """``--faults truncate=<an id the world lacks>`` (a typo, or the help's own example) served
    every file whole, and ``evil_ids=maybe`` meant off: the collector under test seemed to cope
    with a fault it never met."""
    fault = fault.format(pid=world_truth.products[0].product_id)
    with pytest.raises(SystemExit) as exc:
        run_main(
            world,
            ["serve", "--world", str(small_world), "--once", "--fixtures", str(tmp_path), "--faults", fault],
        )
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--faults" in err and words in err, err
    run_main(
        world,
        [
            "serve",
            "--world",
            str(small_world),
            "--once",
            "--fixtures",
            str(tmp_path),
            "--faults",
            f"truncate={world_truth.products[0].product_id}",
            "--faults",
            "robots_disallow=/a/",
        ],
    )
