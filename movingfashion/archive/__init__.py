"""The published dataset as a whole: audit it, describe it, pack it.

* :mod:`movingfashion.archive.verify` - ``mf verify``: audit any MovingFashion-format folder (ours or
  the official archive unpacked) against the real archive's invariants; its findings are a
  :class:`movingfashion.archive.report.VerifyReport` (a table, or JSON).
* :mod:`movingfashion.archive.describe` - the derived tables (``pairs/``, ``boxes/``:
  :mod:`~movingfashion.archive.tables`), Croissant 1.1 metadata (``croissant.json``:
  :mod:`~movingfashion.archive.croissant`), the datasheet and card (``README.md``:
  :mod:`~movingfashion.archive.card`) and ``manifest.json``.
* :mod:`movingfashion.archive.pack` - a deterministic zip of the folder and its SHA-256.
* :mod:`movingfashion.archive.at_rest` - ``mf verify`` audits a folder at rest: one another command
  is writing (its lock files, the refresh-pending mark) is named, not reported as broken.

Used by ``mf publish`` (cleaning), by the world's ground-truth export and by ``mf-tracklets``
(which refreshes the description after merging tracklets).
"""
