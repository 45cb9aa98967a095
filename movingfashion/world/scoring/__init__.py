"""Evaluators: score what a pipeline stage produced against the synthetic world's truth.

- :mod:`.cleaning`: a cleaned catalog (duplicates, split-screen recovery, taxonomy, shop pick,
  wrong associations), shown by ``mf stats --truth WORLD`` and the demo.
- :mod:`.tracklets`: a dataset's ground-truth tracklets against the true item boxes, shown by
  ``mf world score tracklets`` and the demo.

The stages themselves never import the world: they compute truth-free counts (``mf stats``) or
compare with any reference dataset (``mf-tracklets qa --reference``).
"""
