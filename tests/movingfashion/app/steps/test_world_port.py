"""The demo serves its world on a port derived from the seed, so the page URLs the collectors
store (and publish copies into entries.jsonl, croissant.json, manifest.json) are the same in two
demos of one seed; a taken port falls back to a free one, said in one line on stderr."""

from __future__ import annotations

import socket

import movingfashion.app.steps.world as world_step
from movingfashion.app.context import DemoContext
from tests.world_fixtures import SMALL_WORLD


def _ctx(small_world, tmp_path) -> DemoContext:
    tmp_path.mkdir(exist_ok=True)
    if not (tmp_path / "world").exists():
        (tmp_path / "world").symlink_to(small_world, target_is_directory=True)
    return DemoContext(
        work=tmp_path, products=SMALL_WORLD["products"], seed=SMALL_WORLD["seed"], quick=SMALL_WORLD["quick"]
    )


def _serve(ctx: DemoContext) -> str:
    """The base URL the world step serves ``ctx``'s world on (the server stopped again)."""
    try:
        world_step.run(ctx)
        return ctx.base_url
    finally:
        if ctx.server is not None:
            ctx.server.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_demos_of_one_seed_serve_the_same_urls(small_world, tmp_path, monkeypatch, capsys):
    # the seed's port among ports known free here (a demo running on this machine holds its own)
    port = _free_port()
    monkeypatch.setattr(world_step, "DEMO_PORTS", range(port, port + 1))
    first = _serve(_ctx(small_world, tmp_path / "a"))
    second = _serve(_ctx(small_world, tmp_path / "b"))
    assert first == second  # was: a random port each run
    assert "warning" not in capsys.readouterr().err


def test_the_port_is_the_seeds(small_world, tmp_path, monkeypatch, capsys):
    assert world_step.demo_port(3) == world_step.demo_port(3) != world_step.demo_port(4)
    assert all(world_step.demo_port(s) in world_step.DEMO_PORTS for s in (0, 11, 10**9, -1))
    port = _free_port()
    monkeypatch.setattr(world_step, "DEMO_PORTS", range(port, port + 1))
    assert _serve(_ctx(small_world, tmp_path)) == f"http://127.0.0.1:{port}"
    assert capsys.readouterr().err == ""


def test_a_taken_port_falls_back_to_a_free_one_and_says_so(small_world, tmp_path, monkeypatch, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setattr(world_step, "DEMO_PORTS", range(port, port + 1))
        url = _serve(_ctx(small_world, tmp_path))
    assert url.startswith("http://127.0.0.1:") and url != f"http://127.0.0.1:{port}"
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and str(port) in lines[0] and url in lines[0] and "differ" in lines[0]
