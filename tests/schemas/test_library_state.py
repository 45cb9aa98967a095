"""Third-party libraries keep their state in a private folder of the process, never in
``$HOME``: ultralytics' settings file (a persistent id), matplotlib's font cache and config, a
local Ray's auth token and session folder. Each check runs a fresh interpreter with an empty
HOME and no variable that would point the library elsewhere, then lists what HOME holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHOSEN = ("YOLO_CONFIG_DIR", "MPLCONFIGDIR", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE")


def _run(code: str, home: Path, tmp: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in CHOSEN and not k.startswith("XDG_")}
    env.update(HOME=str(home), PYTHONPATH=str(ROOT), RAY_USAGE_STATS_ENABLED="0")
    if tmp is not None:
        env["TMPDIR"] = str(tmp)
    home.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=home, env=env, capture_output=True, text=True, timeout=240
    )


def _files(home: Path) -> list[str]:
    return sorted(str(p.relative_to(home)) for p in home.rglob("*"))


def test_the_detector_writes_nothing_in_home_keeps_stdout_clean_and_torch_threads(tmp_path):
    """ultralytics wrote ~/.config/Ultralytics/settings.json, printed its "Creating new
    Ultralytics Settings" banner on stdout (a --json output no longer parsed), and its first CPU
    predict set torch's threads to min(8, cores - 1) over --threads."""
    code = """
import json, os, torch, numpy as np
torch.set_num_threads(3)
from movingfashion.models.detectors.ultralytics_backend import UltralyticsDetector
d = UltralyticsDetector()
d.detect(np.zeros((2, 64, 64, 3), np.uint8))
state = os.environ["YOLO_CONFIG_DIR"]
print(json.dumps({"threads": torch.get_num_threads(), "state": state, "exists": os.path.isdir(state)}))
"""
    home = tmp_path / "home"
    r = _run(code, home)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)  # nothing but the JSON on stdout
    assert out["threads"] == 3
    assert out["exists"] and not out["state"].startswith(str(home))
    assert not Path(out["state"]).exists()  # removed at exit
    assert _files(home) == []


def test_plots_write_nothing_in_home(tmp_path):
    code = """
from cleaning.publish.plots import _plt, _png
plt = _plt()
fig = plt.figure()
_png(fig)
"""
    home = tmp_path / "home"
    r = _run(code, home)
    assert r.returncode == 0, r.stderr[-2000:]
    assert _files(home) == []


def test_a_local_ray_leaves_no_token_in_home_and_no_session_folder_even_under_a_long_tmpdir(tmp_path):
    """Ray 2.60 wrote ~/.ray/auth_token (mode 0644) and left /tmp/ray/session_* per run; under
    a TMPDIR of 46 characters its socket paths passed the 107 bytes of an AF_UNIX address."""
    tmp = tmp_path / ("t" * 60)
    tmp.mkdir()
    code = """
import json, os
from movingfashion.executors import ray_backend
import ray
ray_backend.connect(None, num_cpus=1)
assert ray.get(ray.put(41)) + 1 == 42
folder = ray_backend._RAY_TEMP
ray_backend.shutdown_keeping_sigterm()
print(json.dumps({"folder": str(folder), "left": folder.exists()}))
"""
    home = tmp_path / "home"
    r = _run(code, home, tmp)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["left"] is False
    assert _files(home) == []
    assert not (tmp / "ray").exists()


def test_a_killed_process_folder_is_swept_by_the_next_and_nothing_else_is(tmp_path):
    """SIGKILL runs no exit hook: its folder stayed under the temporary directory for good. The
    next process's first folder removes it; a live owner's folder, another pid namespace's, one
    without an owner record, another user's name pattern and a symlink are kept."""
    import signal

    from schemas import library_state as ls

    base = tmp_path / "tmp"
    base.mkdir()
    code = """
import os, signal
from schemas.library_state import private_state_dir
print(private_state_dir("ultralytics"), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
    r = _run(code, tmp_path / "home", base)
    assert r.returncode == -signal.SIGKILL
    killed = Path(r.stdout.strip())
    assert killed.is_dir() and killed.parent == base and (killed / ls.OWNER_FILE).is_file()

    me = ls._identity()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        kept = {}
        for name, owner in {
            "mf-live-": {**me, "pid": live.pid},
            "mf-other-ns-": {**me, "pid": 2**22 + 7, "pidns": "pid:[1]"},
            "mf-no-record-": None,
        }.items():
            kept[name] = Path(tempfile.mkdtemp(prefix=name, dir=base))
            if owner is not None:
                (kept[name] / ls.OWNER_FILE).write_text(json.dumps(owner))
        target = tmp_path / "elsewhere"
        target.mkdir()
        (base / "mf-link-x").symlink_to(target)
        assert ls.sweep_orphans(base) == [killed]
        assert not killed.exists()
        assert all(p.is_dir() for p in kept.values()) and (base / "mf-link-x").is_symlink()
        assert target.is_dir()
    finally:
        live.kill()
        live.wait()
    # once its owner is gone, the live one's folder goes with the next process's first folder
    r = _run(
        "from schemas.library_state import private_state_dir; private_state_dir('matplotlib')",
        tmp_path / "home",
        base,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert not kept["mf-live-"].exists() and kept["mf-other-ns-"].is_dir() and kept["mf-no-record-"].is_dir()
