"""A checkpoint given to ``mf report`` and a results.json given as a checkpoint: each says what
the file is and where it goes (they were "not UTF-8 text (byte 64)" and "cannot read the
checkpoint (UnpicklingError): the file is corrupt or not a torch file")."""

from __future__ import annotations

import json

import pytest
import torch

from movingfashion.models.checkpoints import read_tagged_checkpoint
from movingfashion.seam.report import load_results
from schemas.errors import DataFormatError, ModelError


def test_report_names_a_checkpoint_given_as_results(tmp_path):
    ckpt = tmp_path / "last.pt"
    torch.save({"kind": "seam", "version": 1}, ckpt)
    with pytest.raises(DataFormatError, match="torch file") as err:
        load_results(ckpt)
    assert err.value.where == str(ckpt) and "mf evaluate --checkpoint" in (err.value.hint or "")


def test_a_json_file_given_as_a_checkpoint_is_named_as_json(tmp_path):
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"methods": {}, "protocol": {}}))
    with pytest.raises(ModelError, match="JSON text file, not a SEAM checkpoint") as err:
        read_tagged_checkpoint(results, kind="seam", version=1, what="SEAM", hint="train one")
    assert err.value.where == str(results) and "mf report" in (err.value.hint or "")
    broken = tmp_path / "broken.pt"  # a file that is neither still reads as before
    broken.write_bytes(b"\x00garbage")
    with pytest.raises(ModelError, match="corrupt or not a torch file"):
        read_tagged_checkpoint(broken, kind="seam", version=1, what="SEAM", hint="train one")
