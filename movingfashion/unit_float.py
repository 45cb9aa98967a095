"""uint8 pictures -> float32 in [0, 1]: the one conversion items and batches share.

On the CPU numpy divides on the calling thread. ``torch.div`` splits a large tensor across
torch's intra-op threads, which in a training process on a busy machine wait for a core and
cost several times the CPU of one thread (``benchmarks/bench_collate.py``, row ``to float``).
The values are the same: float32 division by 255, bit for bit (every uint8 value is checked in
``tests/movingfashion/test_unit_float.py``).
"""

from __future__ import annotations

import numpy as np
import torch

_255 = np.float32(255.0)


def unit_float(t: torch.Tensor) -> torch.Tensor:
    """``t / 255`` as float32; uint8 CPU tensors on one thread, anything else with ``torch.div``."""
    if t.device.type == "cpu" and t.dtype == torch.uint8 and t.layout == torch.strided:
        return torch.from_numpy(np.divide(t.numpy(), _255, dtype=np.float32))
    return torch.div(t, 255.0)
