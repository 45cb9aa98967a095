"""DDP through torchrun on the CPU: 2 gloo processes train a few steps and end with equal weights."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_two_gloo_ranks_agree_on_parameters(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(Path(__file__).with_name("ddp_worker.py")),
        str(tmp_path),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1))
    assert r0["world_size"] == r1["world_size"] == 2
    # 32 videos, 4 per rank per step -> 4 steps per epoch on each rank
    assert r0["history"][0]["steps"] == 4 and len(r0["history"]) == 2
    assert r0["params"].keys() == r1["params"].keys()
    for k in r0["params"]:
        assert torch.allclose(r0["params"][k].float(), r1["params"][k].float(), atol=1e-6), k
    # training moved the weights away from both initialisations (ranks started different)
    from tests.movingfashion.seam.conftest import tiny_model

    init0 = tiny_model("full", seed=0).state_dict()
    assert not torch.allclose(init0["head.scorer.weight"], r0["params"]["head.scorer.weight"])
    assert (tmp_path / "run" / "last.pt").is_file()
