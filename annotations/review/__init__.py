"""Human review of the tracklets: the builder's catalog marks, the command-line decisions, and
the browser review page (``mf review``: :mod:`annotations.review.server`).

Decisions are stored in the catalog by :mod:`schemas.review`; :mod:`annotations.review.decisions`
applies their effect on the dataset's tracklet files.
"""

from annotations.review.marks import (
    REVIEW_FILE,
    STAGE,
    log_failure,
    mark_needs_review,
    open_catalog,
    read_decisions,
    record_decision,
)

__all__ = [
    "REVIEW_FILE",
    "STAGE",
    "log_failure",
    "mark_needs_review",
    "open_catalog",
    "read_decisions",
    "record_decision",
]
