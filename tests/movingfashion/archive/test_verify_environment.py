"""What this machine lacks or is told wrongly stops mf verify with one line: a shared library it
lacks (libGL: OpenCV cannot load) names the package to install, exit 1, where every valid video
was called broken; a bad MF_DECODE_DEVICE names the variable, exit 2."""

from __future__ import annotations

import json
import shutil

from movingfashion.archive import verify as verify_module
from tests.mf_cli import run_mf

NO_GL = "libGL.so.1: cannot open shared object file: No such file or directory"


def test_a_missing_shared_library_stops_verify_naming_it(tiny_dataset, tmp_path, monkeypatch, capsys):
    ds = tmp_path / "ds"
    shutil.copytree(tiny_dataset, ds)

    def no_gl(*args, **kwargs):
        raise ImportError(NO_GL)

    monkeypatch.setattr(verify_module, "video_facts", no_gl)
    code, out, err = run_mf(["verify", "--dataset", str(ds), "--deep"], capsys)  # decodes afresh
    assert code == 1, err
    assert "error: missing library (libGL.so.1 cannot be loaded; OpenCV" in err
    assert "apt-get install libgl1" in err and "rerun the same command" in err
    assert "BREAK" not in out + err and "re-download" not in out + err
    monkeypatch.undo()
    code, out, err = run_mf(["verify", "--dataset", str(ds), "--json"], capsys)
    decodable = next(c for c in json.loads(out)["checks"] if c["check"] == "decodable")
    assert decodable["checked"] == 7 and decodable["count"] == 0, decodable  # the videos were fine


def test_a_bad_decode_device_stops_a_command_at_its_start(tiny_dataset, monkeypatch, capsys):
    """`MF_DECODE_DEVICE=bananas` made every video "unreadable" (crop-cache) or was ignored
    (verify): every command now refuses it first, naming the variable."""
    monkeypatch.setenv("MF_DECODE_DEVICE", "bananas")
    code, out, err = run_mf(["verify", "--dataset", str(tiny_dataset)], capsys)
    assert code == 2 and out == ""
    assert (
        err.strip()
        == "error: MF_DECODE_DEVICE: unknown decode device 'bananas' (use cpu, cuda, auto, or unset it (cpu))"
    )


def test_help_and_version_answer_whatever_the_environment(monkeypatch, capsys):
    monkeypatch.setenv("MF_DECODE_DEVICE", "bananas")
    monkeypatch.setenv("MF_PROGRESS_EVERY_S", "soon")
    for args in (["--help"], ["--version"], ["verify", "--help"]):
        code, out, err = run_mf(args, capsys)
        assert code == 0 and out and err == "", (args, err)
