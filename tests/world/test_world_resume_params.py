"""A world cut short is resumed only with the parameters it was started with: a rerun with other
``--products``, ``--seed`` or ``--quick`` into the same ``--out`` is refused (exit 2, one line
naming the folder, the old and new values and what to do), instead of rendering a different
world over the old one's files."""

from __future__ import annotations

import json

import pytest

import movingfashion.world.generate as generate
from movingfashion.world.cli import world
from movingfashion.world.generate import PARAMS_FILE, generate_world
from tests.mf_cli import run_command


class Stop(BaseException):
    """Cuts the run short at its first product (rendering is not what is tested)."""


@pytest.fixture()
def cut_short(tmp_path, monkeypatch):
    """A world of 24 products, seed 3, quick, killed while rendering its first product."""
    out = tmp_path / "w"
    rendered: list[str] = []

    def stop(task):
        rendered.append(task[1].product_id)
        raise Stop

    monkeypatch.setattr(generate, "_render_product", stop)
    with pytest.raises(Stop):
        generate_world(out, 24, 3, quick=True, workers=1)
    assert (out / PARAMS_FILE).is_file() and not (out / "world.json").exists()
    return out, rendered


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--products", "30", "--seed", "3", "--quick"], "--products 24 (now 30)"),
        (["--products", "24", "--seed", "4", "--quick"], "--seed 3 (now 4)"),
        (["--products", "24", "--seed", "3"], "--quick True (now False)"),
    ],
)
def test_a_rerun_with_other_parameters_is_refused(cut_short, capsys, args, named):
    out, rendered = cut_short
    before = (out / PARAMS_FILE).read_bytes()
    code, stdout, err = run_command(world, ["generate", "--out", str(out), *args, "--workers", "1"], capsys)
    assert code == 2 and stdout == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert str(out) in lines[0] and named in lines[0] and "cut short" in lines[0]
    assert "--out" in lines[0] and "remove" in lines[0]  # what to do
    assert rendered == [rendered[0]]  # nothing rendered again
    assert (out / PARAMS_FILE).read_bytes() == before  # the old world's parameters stay


def test_a_rerun_with_the_same_parameters_resumes(cut_short, capsys):
    out, rendered = cut_short
    params = json.loads((out / PARAMS_FILE).read_text())
    with pytest.raises(Stop):  # past the folder check, to rendering (where the test cuts it short again)
        run_command(
            world,
            ["generate", "--out", str(out), "--products", "24", "--seed", "3", "--quick", "--workers", "1"],
            capsys,
        )
    assert rendered == [rendered[0], rendered[0]]
    assert json.loads((out / PARAMS_FILE).read_text()) == params
