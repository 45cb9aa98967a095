"""Run by test_ddp.py under torchrun (2 CPU processes, gloo): a few phase-2 steps, then each
rank saves its parameters so the test can check that the ranks agree."""

import sys
from pathlib import Path

import torch

from movingfashion.seam.train import train_phase2
from tests.movingfashion.seam.conftest import TINY, tiny_model, tiny_train_config
from tests.movingfashion.seam.synthetic import synthetic_bank

if __name__ == "__main__":
    torch.set_num_threads(1)
    out = Path(sys.argv[1])
    bank = synthetic_bank(32, pool=8, channels=8, seed=1)
    # different initial weights on each rank: DDP must broadcast rank 0's
    import os

    model = tiny_model("full", seed=int(os.environ["RANK"]))
    summary = train_phase2(bank, model, TINY, tiny_train_config("full", epochs=2, batch_size=4), out / "run")
    rank = summary["rank"]
    torch.save(
        {
            "world_size": summary["world_size"],
            "history": summary["history"],
            "params": {k: v.detach().clone() for k, v in model.state_dict().items()},
        },
        out / f"rank{rank}.pt",
    )
