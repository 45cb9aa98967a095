"""The stages' CLIs with an unreachable Ray cluster address (``RAY_ADDRESS`` or ``--ray-address``):
one clear line, exit 2, nothing written, no Ray started."""

from __future__ import annotations

import shutil

import pytest

from schemas.catalog import Catalog
from tests.damage import assert_same_tree
from tests.ray_fixtures import free_port, tree_bytes


def test_an_unreachable_ray_address_is_exit_2_and_writes_nothing(gt_dataset, tmp_path, monkeypatch, capsys):
    import ray

    from annotations.cli import tracklets
    from collectors.cli import collect
    from movingfashion.app.cli import cli
    from schemas.cli_support import run_main

    assert not ray.is_initialized()
    port = free_port()  # nothing listens there
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    cat_path, root = tmp_path / "catalog.sqlite", tmp_path / "root"
    with Catalog(cat_path):
        pass
    root.mkdir()
    dataset = tmp_path / "dataset"
    shutil.copytree(gt_dataset, dataset)
    before = tree_bytes(tmp_path)
    runs = [
        (cli, ["clean", "--catalog", str(cat_path), "--root", str(root), "--executor", "ray"]),
        (cli, ["crop-cache", str(dataset), "--out", str(tmp_path / "cache"), "--executor", "ray"]),
        (tracklets, ["build", "--dataset", str(dataset), "--executor", "ray"]),
        (
            collect,
            ["urls", "http://127.0.0.1:9/v.mp4", "--root", str(tmp_path / "collected"), "--executor", "ray"],
        ),
    ]
    for group, args in runs:
        with pytest.raises(SystemExit) as exc:
            run_main(group, args)
        err = capsys.readouterr().err
        assert exc.value.code == 2, (args, err)
        assert f"cannot reach the Ray cluster at 127.0.0.1:{port}" in err and "RAY_ADDRESS" in err, err
        assert "Traceback" not in err
    # the same through the option, naming it
    with pytest.raises(SystemExit) as exc:
        run_main(
            cli,
            [
                "clean",
                "--catalog",
                str(cat_path),
                "--root",
                str(root),
                "--executor",
                "ray",
                "--ray-address",
                f"127.0.0.1:{port}",
            ],
        )
    assert exc.value.code == 2 and "--ray-address" in capsys.readouterr().err
    assert_same_tree(tree_bytes(tmp_path), before)  # nothing written, nothing created
    assert not ray.is_initialized()


def test_a_ray_client_address_is_checked_naming_the_option_and_what_to_do(tmp_path, monkeypatch, capsys):
    """``ray://`` (Ray Client) needs Ray's client package, which the toolkit's [ray] extra does
    not install: one line naming the option, the address and what to give instead, exit 2,
    before anything is tried (Ray's own error asked whether a head runs there)."""
    import socket
    import sys

    import ray

    from collectors.cli import collect
    from schemas.cli_support import run_main

    monkeypatch.setitem(sys.modules, "grpc", None)  # the client package is not installed
    with socket.socket() as listening:  # something answers there: not a reachability failure
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        address = f"ray://127.0.0.1:{listening.getsockname()[1]}"
        args = ["urls", "http://127.0.0.1:9/v.mp4", "--root", str(tmp_path / "collected")]
        with pytest.raises(SystemExit) as exc:
            run_main(collect, [*args, "--executor", "ray", "--ray-address", address])
    err = capsys.readouterr().err
    assert exc.value.code == 2, err
    assert f"--ray-address: {address} is a Ray Client address" in err, err
    assert "HOST:6379 without ray://" in err and "ray[client]" in err and "Traceback" not in err, err
    assert not (tmp_path / "collected").exists() and not ray.is_initialized()
    # as Ray reads it: a ray:// address without a port names Ray Client's; its hint names that port
    from movingfashion.executors.ray_backend import CLIENT_PORT, _endpoint, port_hint

    assert _endpoint("ray://10.0.0.5", "--ray-address") == ("10.0.0.5", CLIENT_PORT)
    assert _endpoint("ray://[::1]", "--ray-address") == ("::1", CLIENT_PORT)
    assert "--ray-client-server-port" in port_hint("ray://10.0.0.5") and "8265" in port_hint("10.0.0.5:6379")
