"""One exit-code rule in every command: 0 all done, 1 some items failed (listed), 2 usage or
input error with nothing created. Here: input that names nothing to work on (a dataset folder
that does not exist, a URL list without a URL, a missing catalog) is exit 2, never a silent 0."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.cli_support import run_main


def _cases(tmp: Path) -> list[tuple[str, str, list[str]]]:
    nope = str(tmp / "nope")
    return [
        ("mf-tracklets", "review", ["review", "--dataset", nope]),
        ("mf-tracklets", "sheets", ["sheets", "--dataset", nope]),
        ("mf-tracklets", "build", ["build", "--dataset", nope]),
        (
            "mf-tracklets",
            "export",
            ["export", "--format", "cvat", "--dataset", nope, "--out", str(tmp / "o")],
        ),
        ("mf", "review", ["review", "--dataset", nope, "--port", "0"]),
        ("mf", "verify", ["verify", "--dataset", nope]),
        ("mf", "crop-cache", ["crop-cache", nope, "--split", "test", "--out", str(tmp / "o")]),
        ("mf", "train", ["train", "--dataset", nope, "--out", str(tmp / "o")]),
        ("mf", "evaluate", ["evaluate", "--dataset", nope, "--checkpoint", nope, "--out", str(tmp / "o")]),
        ("mf", "clean", ["clean", "--catalog", nope, "--root", str(tmp)]),
        ("mf", "publish", ["publish", "--catalog", nope, "--root", str(tmp), "--out", str(tmp / "o")]),
        ("mf", "stats", ["stats", "--catalog", nope]),
        (
            "mf",
            "world generate --workers 0",
            ["world", "generate", "--out", str(tmp / "o"), "--products", "20", "--quick", "--workers", "0"],
        ),
        ("mf-collect", "urls, an empty list", ["urls", str(tmp / "empty.txt"), "--root", str(tmp / "o")]),
        (
            "mf-collect",
            "urls, comments only",
            ["urls", str(tmp / "comments.txt"), "--root", str(tmp / "o")],
        ),
    ]


def _command(prog: str):
    if prog == "mf":
        from movingfashion.app.cli import cli

        return cli
    if prog == "mf-collect":
        from collectors.cli import collect

        return collect
    from annotations.cli import tracklets

    return tracklets


@pytest.mark.parametrize(
    "n", range(len(_cases(Path("/x")))), ids=[f"{p} {c}" for p, c, _ in _cases(Path("/x"))]
)
def test_nothing_to_work_on_is_exit_2_and_nothing_is_created(n, tmp_path, capsys):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "comments.txt").write_text("# videos to collect\n\n   \n")
    prog, name, argv = _cases(tmp_path)[n]
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(SystemExit) as done:
        run_main(_command(prog), argv)
    err = capsys.readouterr().err
    assert done.value.code == 2, (prog, name, err)
    assert "Traceback" not in err and err.strip(), (prog, name, err)
    assert sorted(tmp_path.rglob("*")) == before, f"{prog} {name} created files"


def test_ctrl_c_says_the_state_is_saved_and_exits_130(capsys):
    import click

    @click.command()
    def slow() -> None:
        raise KeyboardInterrupt  # what Ctrl-C raises mid-run; click turns it into Abort

    with pytest.raises(SystemExit) as exc:
        run_main(slow, [])
    assert exc.value.code == 130
    assert "interrupted: state is saved, rerun the same command to resume" in capsys.readouterr().err


def test_a_command_that_does_not_resume_by_a_rerun_says_what_to_do_instead(capsys, monkeypatch, tmp_path):
    """``on_interrupt``: pretraining starts over, a server just stops; the next command run in
    the same process says the default again."""
    import click

    import movingfashion.models.pretrain as pretrain
    from movingfashion.app.cli import cli
    from schemas.cli_support import on_interrupt

    @click.command()
    def serve() -> None:
        on_interrupt("stopped")
        raise KeyboardInterrupt

    @click.command()
    def slow() -> None:
        raise KeyboardInterrupt

    for cmd, said in ((serve, "stopped"), (slow, "interrupted: state is saved")):
        with pytest.raises(SystemExit) as exc:
            run_main(cmd, [])
        assert exc.value.code == 130 and capsys.readouterr().err.strip().startswith(said)

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(pretrain, "pretrain_matcher", interrupted)
    with pytest.raises(SystemExit) as exc:
        run_main(
            cli, ["pretrain-matcher", "--df2", str(tmp_path), "--out", str(tmp_path / "m.pt"), "--steps", "1"]
        )
    err = capsys.readouterr().err
    assert exc.value.code == 130 and "does not resume" in err and "state is saved" not in err, err


@pytest.mark.parametrize("command", ["evaluate", "world export-gt"])
def test_ctrl_c_in_a_command_that_starts_over_does_not_promise_a_resume(
    command, capsys, monkeypatch, tmp_path
):
    """``mf evaluate`` and ``mf world export-gt`` keep nothing of a run cut short (the evaluation
    writes results.json at the end, the export builds in a sibling folder): Ctrl-C said "state is
    saved, rerun the same command to resume"; now it says the rerun starts over."""
    import movingfashion.seam.evaluate as evaluate
    import movingfashion.world.gt_dataset as gt_dataset
    from movingfashion.app.cli import cli

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluate, "run_evaluate", interrupted)
    monkeypatch.setattr(gt_dataset, "export_gt_dataset", interrupted)
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "test.json").write_text("{}")
    (tmp_path / "last.pt").write_bytes(b"")
    argv = {
        "evaluate": [
            "evaluate",
            "--dataset",
            str(tmp_path / "ds"),
            "--checkpoint",
            str(tmp_path / "last.pt"),
        ],
        "world export-gt": ["world", "export-gt", "--world", str(tmp_path), "--out", str(tmp_path / "gt")],
    }[command]
    with pytest.raises(SystemExit) as exc:
        run_main(cli, argv)
    err = capsys.readouterr().err
    assert exc.value.code == 130 and "starts over" in err and "state is saved" not in err, err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["build", "--dataset", "{ds}", "--conf", "2"], "'--conf': 2.0 is not in the range"),
        (["build", "--dataset", "{ds}", "--config", "{bad}"], "config file is not UTF-8 text"),
    ],
)
def test_build_options_out_of_bounds_are_one_line(tmp_path, capsys, argv, words):
    from annotations.cli import tracklets

    ds = tmp_path / "ds"
    ds.mkdir()
    (ds / "train.json").write_text("{}")
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"\xff\xfe stride: 2\n")
    with pytest.raises(SystemExit) as exc:
        run_main(tracklets, [a.format(ds=ds, bad=bad) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(err) == 1 and words in err[0], err
