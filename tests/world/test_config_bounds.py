"""WorldConfig's bounds: a value that makes no sense is refused when the config file is read,
naming the file and the key (exit 2), before anything is rendered. Before, ``fps: 0`` exited 1
with nothing said, ``regular_size: [0, -4]`` dumped tracebacks of every worker, and
``workers: -1`` or ``wrong_shop_fraction: -0.5`` were accepted."""

from __future__ import annotations

import json

import pytest

from movingfashion.world.cli import world
from movingfashion.world.config import WorldConfig, preset_config
from schemas.cli_support import run_main
from schemas.config import load_config
from schemas.errors import ConfigError

BAD = [
    ("fps", 0),
    ("fps", -30),
    ("regular_size", [0, -4]),
    ("hard_size", [288, 0]),
    ("shop_size", [-1, 320]),
    ("fabric_size", 0),
    ("crf", -1),
    ("crf", 52),
    ("reencode_crf", 60),
    ("gop", 0),
    ("quick_scale", 0),
    ("nonclothing_fraction", 1.5),
    ("duplicate_fraction", -0.1),
    ("wrong_shop_fraction", -0.5),
    ("split_screen_fraction", 2),
    ("confusable_fraction", -1),
    ("source_shares", {"tiktok": -0.25}),
    ("source_shares", {"tiktokk": 0.5}),  # was ignored: tiktok kept its default share
    ("source_shares", {"tiktok": 0.7, "instagram": 0.5}),
    ("noise", {"kinds": {"blur": -1}}),  # was read as 0
    ("noise", {"kinds": {"blur": "nan"}}),
    ("df2_pairs", -1),
    ("df2_quick_pairs", -1),
    ("df2_users_per_pair", [4, 2]),
    ("df2_users_per_pair", [0, 2]),
    ("workers", 0),
    ("workers", -1),
    ("min_products", 0),
]


@pytest.mark.parametrize(("key", "value"), BAD)
def test_an_out_of_range_value_names_the_file_and_the_key(tmp_path, key, value):
    cfg = tmp_path / "world.yaml"
    cfg.write_text(json.dumps({key: value}))
    with pytest.raises(ConfigError, match=rf"world\.yaml: field '{key}(\.\w+)*'"):
        load_config(WorldConfig, cfg)


@pytest.mark.parametrize(("key", "value"), [("fps", 0), ("regular_size", [0, -4]), ("workers", -1)])
def test_generate_exits_2_with_one_line_before_writing(tmp_path, key, value, capsys):
    cfg = tmp_path / "world.yaml"
    cfg.write_text(json.dumps({key: value}))
    out = tmp_path / "w"
    args = ["generate", "--out", str(out), "--products", "20", "--quick", "--config", str(cfg)]
    with pytest.raises(SystemExit) as exc:
        run_main(world, args)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "Traceback" not in err
    assert str(cfg) in err and key in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_the_defaults_the_presets_and_the_edges_pass():
    WorldConfig()
    preset_config("hard")
    WorldConfig(
        crf=0,
        reencode_crf=51,
        gop=1,
        workers=1,
        quick_scale=0.25,
        fps=0.5,
        wrong_shop_fraction=0,
        split_screen_fraction=1,
        df2_pairs=0,
        df2_users_per_pair=(3, 3),
    )


def test_a_file_the_hard_preset_cannot_take_is_one_line_naming_the_file_and_the_preset(tmp_path, capsys):
    """Every noise kind off is a valid file (noise is off by default) but not with --preset hard,
    which turns noise on: a pydantic traceback, exit 1, before."""
    cfg = tmp_path / "world.yaml"
    cfg.write_text(
        json.dumps(
            {
                "noise": {
                    "kinds": {
                        "blur": 0,
                        "occlusion": 0,
                        "other_garment": 0,
                        "lookalike": 0,
                        "out_of_frame": 0,
                    }
                }
            }
        )
    )
    out = tmp_path / "w"
    args = [
        "generate",
        "--out",
        str(out),
        "--products",
        "20",
        "--quick",
        "--preset",
        "hard",
        "--config",
        str(cfg),
    ]
    with pytest.raises(SystemExit) as exc:
        run_main(world, args)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith(f"error: {cfg}: field 'noise' with --preset hard: ") and "positive weight" in err
    assert not out.exists()
