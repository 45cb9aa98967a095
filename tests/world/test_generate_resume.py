"""``mf world generate`` over a world cut short renders only the products it had not finished
(was: the whole world again); a product whose files are not all there, or whose video differs
from its record, is rendered again; the world ends byte-identical to an uninterrupted one."""

from __future__ import annotations

from pathlib import Path

import pytest

import movingfashion.world.generate as generate
from movingfashion.world.generate import generate_world
from movingfashion.world.truth import load_world
from tests.world_fixtures import SMALL_WORLD


class Stop(BaseException):
    """Cuts the run short (a kill)."""


def _tree(top: Path) -> dict[str, bytes]:
    return {p.relative_to(top).as_posix(): p.read_bytes() for p in sorted(top.rglob("*")) if p.is_file()}


def test_a_cut_short_world_resumes_where_it_stopped(small_world, tmp_path, monkeypatch):
    out = tmp_path / "w"
    real = generate._render_product
    rendered: list[str] = []
    stop_after = [5]  # the first run is killed after 5 products; the rerun runs to its end

    def render(task):
        if len(rendered) == stop_after[0]:
            raise Stop
        rendered.append(task[1].product_id)
        return real(task)

    monkeypatch.setattr(generate, "_render_product", render)
    args = (SMALL_WORLD["products"], SMALL_WORLD["seed"])
    with pytest.raises(Stop):
        generate_world(out, *args, quick=SMALL_WORLD["quick"], workers=1)
    first = list(rendered)
    assert len(first) == 5 and not (out / "world.json").exists()
    # one finished product's video damaged, another's image gone: both are rendered again
    truth = load_world(small_world)  # the same world, uninterrupted: which files are whose
    products = {p.product_id: p for p in truth.products}
    videos = {v.video_id: v for v in truth.videos}
    damaged = next(pid for pid in first if products[pid].videos)
    gone = next(pid for pid in first if pid != damaged and products[pid].images)
    video = out / videos[products[damaged].videos[0]].path
    video.write_bytes(video.read_bytes()[:-10])
    (out / next(iter(products[gone].images.values()))).unlink()
    rendered.clear()
    stop_after[0] = -1
    progress: list[tuple[int, int]] = []
    generate_world(
        out, *args, quick=SMALL_WORLD["quick"], workers=1, progress=lambda d, t: progress.append((d, t))
    )
    intact = set(first) - {damaged, gone}
    assert len(intact) == 3 and not intact & set(rendered)  # not rendered again
    assert damaged in rendered and gone in rendered
    assert progress[0] == (3, progress[-1][1]) and progress[-1][0] == progress[-1][1]
    assert not (out / ".rendered").exists()
    assert _tree(out) == _tree(small_world)
