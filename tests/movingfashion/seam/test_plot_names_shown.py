"""Names a plot shows (method names from results.json, product ids from the split file) are
drawn as themselves: a ``$`` is never read as matplotlib mathtext (``$\\foo$`` made the report's
PNGs fail with a mathtext parse error; ``$x^2$`` was drawn as a formula)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from movingfashion.seam.report import plot_attention, plot_frames
from schemas.library_state import pyplot
from schemas.render import plot_text

HOSTILE = ["$\\foo$", "$x^2$", "a$b$c", "\\$", "$", "$$", "\\\\$x$"]


def _shown(text: str) -> tuple[str, bool]:
    """(the text matplotlib draws, whether it parses it as mathtext)."""
    from matplotlib.text import Text

    pyplot()
    return Text(text=text)._preprocess_math(text)


@given(st.text(alphabet=st.sampled_from("$\\ax^_{}"), max_size=12) | st.sampled_from(HOSTILE))
@settings(max_examples=150, deadline=None)
def test_plot_text_is_drawn_as_itself(value):
    assert _shown(plot_text(value)) == (value, False)


def _results(name: str) -> dict:
    cell = {"all": {"top1": 0.5, "top5": 0.7}, "regular": {"top1": 0.6, "top5": 0.8}}
    curve = {"mean": [0.1, 0.2, 0.3], "std": [0.01, 0.01, 0.01]}
    return {
        "protocol": {"frames": [1, 2], "ks": [1, 5]},
        "methods": {"seam": {"1": cell, "2": cell}},
        "names": {"seam": name},
        "attention": {"seam": {"percentiles": [0, 50, 100], "all": curve, "hard": curve}},
    }


def test_a_method_named_like_mathtext_still_plots(tmp_path):
    results = _results("$\\foo$ and $x^2$")
    plot_frames(results, tmp_path / "frames.png")
    assert plot_attention(results, tmp_path / "attention.png")
    assert (tmp_path / "frames.png").stat().st_size > 0
