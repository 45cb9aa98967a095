"""``mf world generate`` over a world cut short renders only the products it had not finished
(was: the whole world again); a product whose files are not all there, or whose video differs
from its record, is rendered again; the world ends byte-identical to an uninterrupted one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import movingfashion.world.generate as generate
from movingfashion.world.generate import generate_world
from movingfashion.world.truth import load_world
from tests.damage import assert_same_tree
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
    assert_same_tree(_tree(out), _tree(small_world))


def _copied_from(world: Path):
    """A stand-in for ``generate._render_product`` that copies a product's files (and its
    duplicates') from ``world``, the same world rendered before, and returns what rendering them
    returns: for a test of what comes after the products (their resumed rendering is the test
    above's), at the cost of a copy instead of a render (about 20 s of CPU)."""
    truth = load_world(world)
    products = {p.product_id: p for p in truth.products}
    videos = {v.video_id: v for v in truth.videos}

    def render(task: tuple) -> dict[str, dict]:
        out, res = Path(task[0]), {}
        for spec in [task[1], *task[2]]:
            p = products[spec.product_id]
            vids = [videos[v].model_dump(mode="json") for v in p.videos]
            stills = [v["split_screen"]["still_image"] for v in vids if v.get("split_screen")]
            for rel in [*p.images.values(), *(v[k] for v in vids for k in ("path", "gt")), *stills]:
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(world / rel, out / rel)
            res[spec.product_id] = {"images": dict(p.images), "videos": vids}
        return res

    return render


def test_a_world_cut_short_in_its_df2_set_draws_only_the_pairs_not_done(small_world, tmp_path, monkeypatch):
    import movingfashion.world.df2 as df2

    out = tmp_path / "w"
    # the products come first (a run killed in the df2 set has them all): copied, not rendered
    monkeypatch.setattr(generate, "_render_product", _copied_from(small_world))
    real = df2.random_garment
    drawn: list[int] = []
    stop_at = [7]  # the first run is killed when it starts pair 7; the rerun runs to its end

    def garment(rng, cls):
        pair = rng.bit_generator.seed_seq.entropy[1]  # each pair draws from default_rng([seed, pair, 2002])
        if pair == stop_at[0]:
            raise Stop
        drawn.append(pair)
        return real(rng, cls)

    monkeypatch.setattr(df2, "random_garment", garment)
    args = (SMALL_WORLD["products"], SMALL_WORLD["seed"])
    with pytest.raises(Stop):
        generate_world(out, *args, quick=SMALL_WORLD["quick"], workers=1)
    assert drawn == [1, 2, 3, 4, 5, 6] and not (out / "world.json").exists()
    before = {p: p.stat().st_mtime_ns for p in (out / "df2").rglob("*") if p.is_file()}
    annos = (out / "df2" / "train" / "annos").glob("*.json")
    of_pair_1 = {a.stem for a in annos if json.loads(a.read_text())["pair_id"] == 1}
    gone = out / "df2" / "train" / "image" / "000001.jpg"  # pair 1's shop image: pair 1 is drawn again
    gone.unlink()
    drawn.clear()
    stop_at[0] = -1
    generate_world(out, *args, quick=SMALL_WORLD["quick"], workers=1)
    assert drawn == [1, *range(7, 17)]  # pairs 2 to 6 not drawn again
    rewritten = {p for p, t in before.items() if p.stat().st_mtime_ns != t}
    assert {p.stem for p in rewritten} == of_pair_1 and "train" in {p.parts[-3] for p in rewritten}
    assert len(before) > 2 * len(of_pair_1)  # the files of pairs 2 to 6 not written again
    assert not (out / ".rendered").exists()
    assert_same_tree(_tree(out), _tree(small_world))
