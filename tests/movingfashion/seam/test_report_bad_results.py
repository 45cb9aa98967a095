"""``mf report`` on a damaged ``results.json``: one DataFormatError naming the file and the field
(exit 2, one line, no traceback) and no report file written; a results.json that ``mf evaluate``
writes still loads."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from movingfashion.seam.cli import report
from movingfashion.seam.config import EvalConfig
from movingfashion.seam.evaluate import evaluate_bank
from movingfashion.seam.report import load_results, write_report
from schemas.atomic import atomic_write_json
from schemas.errors import DataFormatError
from tests.mf_cli import run_command
from tests.movingfashion.seam.conftest import tiny_model
from tests.movingfashion.seam.synthetic import synthetic_bank

#: main sequence length of the evaluation below (the methods' table key)
T = "4"


@pytest.fixture(scope="module")
def evaluated() -> dict[str, Any]:
    """A results record as ``mf evaluate`` writes it (a tiny model on a synthetic bank)."""
    bank = synthetic_bank(12, pool=12)
    cfg = EvalConfig(ks=[1, 5], frames=[4], main_frames=4, pools=2, pool_size=4, attention_frames=5)
    res = evaluate_bank([tiny_model()], bank, cfg, device=torch.device("cpu"))
    res["config"] = cfg.model_dump(mode="json")
    res["dataset"] = "no-such-dataset"  # as run_evaluate records it; no qualitative sheet here
    return json.loads(json.dumps(res))


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Damage: the field at the dotted ``path`` set to ``value`` (None: JSON null)."""

    def damage(res: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for key in parents:
            res = res[key]
        res[last] = value

    return damage


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda res: res.pop(key)


def _non_utf8(text: bytes) -> bytes:
    return b"\xff" + text[1:]


CASES = {
    "non-UTF-8": (None, _non_utf8, "not UTF-8"),
    "protocol null": (_set("protocol", None), None, "protocol"),
    "metric as string": (_set(f"methods.seam.{T}.all.top1", "0.75"), None, f"methods.seam.{T}.all.top1"),
    "huge int": (_set(f"methods.seam.{T}.all.top1", 10**400), None, f"methods.seam.{T}.all.top1"),
    "NaN min IoU": (_set("protocol.query_min_iou", float("nan")), None, "protocol.query_min_iou"),
    "NaN metric": (
        _set(f"methods.seam.{T}.all.top1_std", float("nan")),
        None,
        f"methods.seam.{T}.all.top1_std",
    ),
    "method table null": (_set("methods.seam", None), None, "methods.seam"),
    "no method names": (_drop("names"), None, "names"),
}


def _damaged(evaluated: dict[str, Any], tmp_path: Path, case: str) -> Path:
    damage, raw, _ = CASES[case]
    res = json.loads(json.dumps(evaluated))
    if damage is not None:
        damage(res)
    text = json.dumps(res, indent=1).encode()  # NaN written as NaN, as json.dumps does
    path = tmp_path / "eval" / "results.json"
    path.parent.mkdir()
    path.write_bytes(raw(text) if raw is not None else text)
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_a_damaged_results_file_is_refused_naming_the_file_and_field(evaluated, tmp_path, capsys, case):
    path = _damaged(evaluated, tmp_path, case)
    needle = CASES[case][2]
    with pytest.raises(DataFormatError) as exc:
        write_report(path, tmp_path / "rep")
    assert exc.value.where == str(path) and needle in exc.value.message
    assert "mf evaluate" in (exc.value.hint or "")
    assert not (tmp_path / "rep").exists()
    code, out, err = run_command(report, [str(path), "--out", str(tmp_path / "rep2")], capsys)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert str(path) in err and needle in err
    assert not (tmp_path / "rep2").exists() and out == ""


def test_results_written_by_evaluate_still_load_and_report(evaluated, tmp_path, capsys):
    path = tmp_path / "eval" / "results.json"
    atomic_write_json(path, evaluated, indent=1)
    assert load_results(path) == evaluated  # what was read is given back unchanged
    code, _, err = run_command(report, [str(path.parent), "--out", str(tmp_path / "rep")], capsys)
    assert code == 0, err
    assert (tmp_path / "rep" / "report.md").is_file()


def test_an_older_evaluates_nan_attention_bins_read_as_null(evaluated, tmp_path, capsys):
    """An older ``mf evaluate`` wrote NaN for an attention bin with no frame (now null): its
    results still report; a NaN anywhere else is still refused."""
    res = json.loads(json.dumps(evaluated))
    method, groups = next((m, g) for m, g in res["attention"].items() if isinstance(g, dict) and "all" in g)
    groups["all"]["mean"][0] = float("nan")
    groups["all"]["std"][-1] = float("nan")
    path = tmp_path / "eval" / "results.json"
    path.parent.mkdir()
    path.write_text(json.dumps(res, indent=1))  # NaN written as NaN, as the older evaluate did
    got = load_results(path)
    assert (
        got["attention"][method]["all"]["mean"][0] is None
        and got["attention"][method]["all"]["std"][-1] is None
    )
    code, _, err = run_command(report, [str(path), "--out", str(tmp_path / "rep")], capsys)
    assert code == 0, err
    res["attention"][method]["percentiles"][0] = float("nan")  # not a bin's value: refused
    path.write_text(json.dumps(res, indent=1))
    with pytest.raises(DataFormatError, match="percentiles"):
        load_results(path)
