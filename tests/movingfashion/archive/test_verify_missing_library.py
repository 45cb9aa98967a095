"""A machine without libGL (OpenCV's GUI build cannot load): mf verify stops with the library and
the package to install, exit 1, instead of calling every valid video broken."""

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
