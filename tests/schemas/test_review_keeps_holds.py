"""A review decision that does not address another stage's hold keeps it (tracklets, association,
merge: one rule for all); an accept made under the hold lifts it, and its undo holds again."""

from __future__ import annotations

import pytest

from annotations.review.marks import mark_needs_review, withdraw_needs_review
from schemas.catalog import Catalog
from schemas.items import SourceItem, Status
from schemas.review import merge_holds_accepted, record_decision, undo_decision

A, B = "videos/P0_0.mp4", "videos/P0_1.mp4"


def _catalog(path):
    cat = Catalog(path)
    cat.upsert_items(
        [SourceItem(source="netaporter", source_id="p0", url="http://x/0")], status=Status.ACCEPTED
    )
    cat.set_item_state("netaporter", "p0", product_id="P0", df2_class=1)
    return cat


def _state(cat):
    row = cat.get_item("netaporter", "p0")
    return row.status, row.reason, row.df2_class


def _hold(cat, reason):
    """Another stage's hold over the item: the tracklet builder's own mark, or a cleaning/publish reason."""
    if reason.startswith("tracklets: "):
        assert mark_needs_review(cat, "P0", reason.removeprefix("tracklets: "))
    else:
        cat.set_item_state("netaporter", "p0", status=Status.NEEDS_REVIEW, reason=reason)


@pytest.mark.parametrize(
    "hold",
    [
        f"tracklets: {B}: ground truth overlaps another tracklet",
        "association: the shop image matches no frame",
        "merge: shares its shop image with netaporter/p9 (P9), colour red vs blue",
    ],
)
def test_a_class_decision_after_an_accept_keeps_a_later_hold(tmp_path, hold):
    with _catalog(tmp_path / "c.sqlite") as cat:
        record_decision(cat, video=A, product_id="P0", kind="accept")
        _hold(cat, hold)  # set after the reviewer's accept, which did not see it
        record_decision(cat, video=A, product_id="P0", kind="class", df2_class=7)
        assert _state(cat) == (Status.NEEDS_REVIEW, hold, 7)
        undo_decision(cat, video=A)  # undoing the class change does not lift it either
        assert _state(cat) == (Status.NEEDS_REVIEW, hold, 1)
        # an accept made under the hold lifts it; undoing that accept holds the item again
        record_decision(cat, video=B, product_id="P0", kind="accept")
        assert _state(cat) == (Status.ACCEPTED, None, 1)
        undo_decision(cat, video=B)
        assert _state(cat) == (Status.NEEDS_REVIEW, hold, 1)
        # a reject rejects, whatever the hold
        record_decision(cat, video=B, product_id="P0", kind="reject", reason="blurry")
        assert _state(cat)[0] == Status.REJECTED


def test_two_class_decisions_keep_a_tracklet_flag_set_between_them(tmp_path):
    with _catalog(tmp_path / "c.sqlite") as cat:
        record_decision(cat, video=A, product_id="P0", kind="class", df2_class=3)
        assert mark_needs_review(cat, "P0", f"{A}: no tracklet overlaps the ground truth")
        record_decision(cat, video=A, product_id="P0", kind="class", df2_class=4)
        assert _state(cat) == (
            Status.NEEDS_REVIEW,
            f"tracklets: {A}: no tracklet overlaps the ground truth",
            4,
        )


def test_undoing_a_class_decision_does_not_bring_back_a_withdrawn_flag(tmp_path):
    with _catalog(tmp_path / "c.sqlite") as cat:
        record_decision(cat, video=A, product_id="P0", kind="accept")
        assert mark_needs_review(cat, "P0", f"{B}: flagged")
        record_decision(cat, video=A, product_id="P0", kind="class", df2_class=5)
        assert _state(cat)[:2] == (Status.NEEDS_REVIEW, f"tracklets: {B}: flagged")
        assert withdraw_needs_review(cat, "P0", f"{B}: flagged")  # the builder decided it again
        undo_decision(cat, video=A)
        assert _state(cat) == (Status.ACCEPTED, None, 1)


def test_a_class_decision_keeps_the_hold_the_item_has_now_not_an_older_one(tmp_path):
    merge = "merge: shares its shop image with netaporter/p9 (P9), colour red vs blue"
    with _catalog(tmp_path / "c.sqlite") as cat:
        _hold(cat, merge)
        record_decision(cat, video=A, product_id="P0", kind="class", df2_class=3)  # made under the merge hold
        cat.set_item_state("netaporter", "p0", status=Status.ACCEPTED, reason=None)  # publish released it
        _hold(cat, f"tracklets: {B}: flagged")  # then the tracklet builder flagged it
        record_decision(cat, video=A, product_id="P0", kind="class", df2_class=4)
        # the builder's flag stays: the stale merge reason would let the next publish release the item
        assert _state(cat) == (Status.NEEDS_REVIEW, f"tracklets: {B}: flagged", 4)
        undo_decision(cat, video=A)
        assert _state(cat) == (Status.NEEDS_REVIEW, f"tracklets: {B}: flagged", 3)


def test_an_accept_of_another_video_keeps_the_tracklet_flag_of_the_flagged_one(tmp_path):
    """The builder flags video B (its flag names B's stem, as the builder writes it); the reviewer
    accepts video A, whose tracklet nobody doubted: B's flag stays, so the next publish does not
    take the product with B's boxes unreviewed. Accepting B lifts it."""
    with _catalog(tmp_path / "c.sqlite") as cat:
        assert mark_needs_review(cat, "P0", "P0_1: low confidence: det_mean 0.2 < 0.3")
        flag = _state(cat)[1]
        record_decision(cat, video=A, product_id="P0", kind="accept")
        assert _state(cat) == (Status.NEEDS_REVIEW, flag, 1)
        record_decision(cat, video=A, product_id="P0", kind="class", df2_class=2)
        assert _state(cat) == (Status.NEEDS_REVIEW, flag, 2)
        record_decision(cat, video=B, product_id="P0", kind="accept")
        assert _state(cat) == (Status.ACCEPTED, None, 2)
        undo_decision(cat, video=B)
        assert _state(cat) == (Status.NEEDS_REVIEW, flag, 2)


def test_an_accept_after_a_reject_of_the_same_video_keeps_the_hold(tmp_path):
    """The reject was made under the hold; the accept that follows it was made under the reject,
    not under the hold (its ``prev`` is the reject's state), so the hold stays, as the rule says;
    an accept made while the item shows the hold again lifts it."""
    hold = "association: the shop image matches no frame"
    with _catalog(tmp_path / "c.sqlite") as cat:
        _hold(cat, hold)
        record_decision(cat, video=A, product_id="P0", kind="reject", reason="blurry")
        assert _state(cat)[0] == Status.REJECTED
        record_decision(cat, video=A, product_id="P0", kind="accept")
        assert _state(cat) == (Status.NEEDS_REVIEW, hold, 1)
        record_decision(cat, video=A, product_id="P0", kind="accept")
        assert _state(cat) == (Status.ACCEPTED, None, 1)
        undo_decision(cat, video=A)
        assert _state(cat) == (Status.NEEDS_REVIEW, hold, 1)
        undo_decision(cat, video=A)
        assert _state(cat)[0] == Status.REJECTED
        undo_decision(cat, video=A)
        assert _state(cat) == (Status.NEEDS_REVIEW, hold, 1)


def test_undoing_a_class_decision_made_under_a_withdrawn_flag_does_not_bring_it_back(tmp_path):
    """The class decision opened the product's review while the builder's flag held it; the
    builder ran again and withdrew the flag. Undoing the class decision restores the class only:
    without that decision the item is accepted, as the builder left it (before, the state stored
    when review opened came back, flag and all)."""
    with _catalog(tmp_path / "c.sqlite") as cat:
        assert mark_needs_review(cat, "P0", "P0_1: flagged")
        record_decision(cat, video=A, product_id="P0", kind="class", df2_class=5)
        assert _state(cat) == (Status.NEEDS_REVIEW, "tracklets: P0_1: flagged", 5)
        assert withdraw_needs_review(cat, "P0", "P0_1: flagged")
        assert _state(cat) == (Status.ACCEPTED, None, 5)
        undo_decision(cat, video=A)
        assert _state(cat) == (Status.ACCEPTED, None, 1)


def test_two_flagged_videos_hold_the_item_until_both_are_accepted(tmp_path):
    """The builder flags both videos of the product: the hold names each (and why), and an
    accept of one of them leaves the item held for the other (before, the reason named only the
    last flagged video, whose accept published the product with the other one unreviewed); the
    hold then names the other one only, the one still to review."""
    with _catalog(tmp_path / "c.sqlite") as cat:
        assert mark_needs_review(cat, "P0", "P0_0: low shop score 0.21")
        assert mark_needs_review(cat, "P0", "P0_1: low confidence: det_mean 0.2 < 0.3")
        status, reason, _ = _state(cat)
        assert status == Status.NEEDS_REVIEW
        assert "P0_0: low shop score 0.21" in reason and "P0_1: low confidence: det_mean 0.2 < 0.3" in reason
        record_decision(cat, video=B, product_id="P0", kind="accept")
        left = "tracklets: P0_0: low shop score 0.21"
        assert _state(cat) == (Status.NEEDS_REVIEW, left, 1)
        record_decision(cat, video=A, product_id="P0", kind="class", df2_class=2)  # no verdict
        assert _state(cat) == (Status.NEEDS_REVIEW, left, 2)
        record_decision(cat, video=A, product_id="P0", kind="accept")
        assert _state(cat) == (Status.ACCEPTED, None, 2)
        undo_decision(cat, video=A)  # the class decision goes, then the accept
        undo_decision(cat, video=A)
        assert _state(cat) == (Status.NEEDS_REVIEW, left, 1)
        undo_decision(cat, video=B)  # both pending again
        assert _state(cat) == (Status.NEEDS_REVIEW, reason, 1)


def test_the_hold_names_only_the_flagged_videos_still_to_review(tmp_path):
    """Three flagged videos: each accept takes its video out of the hold's reason (a reason whose
    why holds a '; ' too), a rebuild flagging another video adds it to those left, not to the
    accepted ones, an accept made under a hold that no longer names a video still counts for it,
    and a writer accepting the item holds it by the videos left."""
    c = "videos/P0_2.mp4"
    with _catalog(tmp_path / "c.sqlite") as cat:
        assert mark_needs_review(cat, "P0", "P0_0: low shop score 0.21; det_mean 0.2")
        assert mark_needs_review(cat, "P0", "P0_1: too few frames")
        assert mark_needs_review(cat, "P0", "P0_2: low confidence")
        record_decision(cat, video=B, product_id="P0", kind="accept")
        both = "tracklets: P0_0: low shop score 0.21; det_mean 0.2; P0_2: low confidence"
        assert _state(cat) == (Status.NEEDS_REVIEW, both, 1)
        cat.set_item_state("netaporter", "p0", status=Status.ACCEPTED, reason=None)  # a writer
        assert _state(cat) == (Status.NEEDS_REVIEW, both, 1)
        record_decision(cat, video=A, product_id="P0", kind="accept")
        assert _state(cat) == (Status.NEEDS_REVIEW, "tracklets: P0_2: low confidence", 1)
        assert mark_needs_review(cat, "P0", "P0_3: jumpy")  # a rebuild flags another video
        assert _state(cat) == (Status.NEEDS_REVIEW, "tracklets: P0_2: low confidence; P0_3: jumpy", 1)
        record_decision(cat, video=B, product_id="P0", kind="accept")  # B again, its flag not named
        assert _state(cat) == (Status.NEEDS_REVIEW, "tracklets: P0_2: low confidence; P0_3: jumpy", 1)
        record_decision(cat, video=c, product_id="P0", kind="accept")
        record_decision(cat, video="videos/P0_3.mp4", product_id="P0", kind="accept")
        assert _state(cat) == (Status.ACCEPTED, None, 1)
        undo_decision(cat, video=c)
        assert _state(cat) == (Status.NEEDS_REVIEW, "tracklets: P0_2: low confidence", 1)


def test_a_flag_of_the_other_video_joins_an_old_catalogs_single_flag(tmp_path):
    """A catalog an older version wrote holds the item by one video's flag (no record of it but
    the reason): the builder's flag of the other video is added to it, not put in its place."""
    with _catalog(tmp_path / "c.sqlite") as cat:
        cat.set_item_state("netaporter", "p0", status=Status.NEEDS_REVIEW, reason="tracklets: P0_1: flagged")
        assert mark_needs_review(cat, "P0", "P0_0: too few frames")
        reason = _state(cat)[1]
        assert "P0_1: flagged" in reason and "P0_0: too few frames" in reason
        record_decision(cat, video=A, product_id="P0", kind="accept")
        assert _state(cat)[0] == Status.NEEDS_REVIEW
        record_decision(cat, video=B, product_id="P0", kind="accept")
        assert _state(cat) == (Status.ACCEPTED, None, 1)


def test_the_builder_withdrawing_one_of_two_flags_keeps_the_other(tmp_path):
    """A rebuild no longer flags one video: the hold names the other only; once its video is
    accepted too, the item is released, whichever came first."""
    with _catalog(tmp_path / "c.sqlite") as cat:
        assert mark_needs_review(cat, "P0", "P0_0: low shop score 0.21")
        assert mark_needs_review(cat, "P0", "P0_1: too few frames")
        record_decision(cat, video=A, product_id="P0", kind="accept")  # under the hold naming both
        assert _state(cat)[0] == Status.NEEDS_REVIEW
        assert withdraw_needs_review(cat, "P0", "P0_1 no longer flagged", stems=["P0_1"])
        assert _state(cat) == (Status.ACCEPTED, None, 1)  # P0_0's accept saw its flag
        undo_decision(cat, video=A)
        assert _state(cat) == (Status.NEEDS_REVIEW, "tracklets: P0_0: low shop score 0.21", 1)


def test_a_flag_the_builder_withdraws_while_review_rejects_the_item_stays_withdrawn(tmp_path):
    """The reviewer rejects the flagged video; a rebuild no longer flags it. Undoing the reject
    gives the state the builder left: accepted (before, the builder could not withdraw its flag
    from a rejected item, and the undo brought back the flag the reject was made under)."""
    with _catalog(tmp_path / "c.sqlite") as cat:
        assert mark_needs_review(cat, "P0", "P0_1: too few frames")
        record_decision(cat, video=B, product_id="P0", kind="reject", reason="blurry")
        assert _state(cat)[0] == Status.REJECTED
        assert not withdraw_needs_review(cat, "P0", "P0_1 no longer flagged")  # the reject stays
        assert _state(cat)[0] == Status.REJECTED
        undo_decision(cat, video=B)
        assert _state(cat) == (Status.ACCEPTED, None, 1)


def test_a_flag_the_builder_sets_while_review_rejects_the_item_holds_it_after_the_undo(tmp_path):
    """While the item is rejected in review, the builder flags a video: the reject stays (before,
    the flag replaced it until the next decision), and undoing the reject holds the item by the
    flag; of two flags, the one a rebuild dropped meanwhile does not come back."""
    with _catalog(tmp_path / "c.sqlite") as cat:
        record_decision(cat, video=A, product_id="P0", kind="reject", reason="blurry")
        rejected = _state(cat)
        assert mark_needs_review(cat, "P0", "P0_1: too few frames")
        assert mark_needs_review(cat, "P0", "P0_0: low shop score 0.21")
        assert _state(cat) == rejected
        assert not withdraw_needs_review(cat, "P0", "P0_0 no longer flagged", stems=["P0_0"], release=False)
        undo_decision(cat, video=A)
        assert _state(cat) == (Status.NEEDS_REVIEW, "tracklets: P0_1: too few frames", 1)


def test_undoing_an_accept_after_the_builder_withdrew_its_flag_keeps_the_item_accepted(tmp_path):
    """The accept lifted the flag; the builder then no longer flags the video (the item, accepted,
    does not change). Undoing the accept does not bring back the flag the accept was made under."""
    with _catalog(tmp_path / "c.sqlite") as cat:
        assert mark_needs_review(cat, "P0", "P0_1: too few frames")
        record_decision(cat, video=B, product_id="P0", kind="accept")
        assert not withdraw_needs_review(cat, "P0", "P0_1 no longer flagged")
        undo_decision(cat, video=B)
        assert _state(cat) == (Status.ACCEPTED, None, 1)


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (Status.REJECTED, "non-clothing"),
        (Status.DUPLICATE, "duplicate of netaporter/p9"),
        (Status.DOWNLOADED, None),
        (Status.FAILED, "download: timeout"),
    ],
)
@pytest.mark.parametrize("flag", ["P0_1: too few frames", "whole item unreadable"])
def test_the_builder_never_raises_an_item_cleaning_excluded_to_needs_review(tmp_path, status, reason, flag):
    """An item cleaning rejected (or marked duplicate, or not through cleaning yet) keeps its
    status and reason whatever the builder flags, and a reviewer's accept of the flagged video
    then does not let ``mf publish`` have it (before, the flag made it needs_review and the accept
    made it accepted). A video's flag is still recorded (``tracklet_flags:``)."""
    with _catalog(tmp_path / "c.sqlite") as cat:
        cat.set_item_state("netaporter", "p0", status=status, reason=reason)
        assert mark_needs_review(cat, "P0", flag)
        assert _state(cat) == (status, reason, 1)
        if ": " in flag:
            assert cat.get_meta("tracklet_flags:netaporter/p0") == {"P0_1": "too few frames"}
        record_decision(cat, video=B, product_id="P0", kind="accept")
        assert _state(cat) == (status, reason, 1)
        assert not withdraw_needs_review(cat, "P0", "P0_1 no longer flagged")
        assert _state(cat) == (status, reason, 1)
        # a review reject, a flag while it stands and its undo leave cleaning's state too
        record_decision(cat, video=A, product_id="P0", kind="reject", reason="blurry")
        assert mark_needs_review(cat, "P0", flag)
        undo_decision(cat, video=A)
        undo_decision(cat, video=B)
        assert _state(cat) == (status, reason, 1)


@pytest.mark.parametrize(
    "hold",
    [
        "association: the shop image matches no frame",
        "merge: shares its shop image with netaporter/p9 (P9), colour red vs blue",
    ],
)
def test_a_builder_flag_keeps_another_stages_hold_until_both_are_accepted(tmp_path, hold):
    """An item another stage holds is flagged by the builder: it stays held by that stage's
    reason (before, the flag replaced it, and an accept made for the tracklet, or the builder
    withdrawing its flag, released the item with the other hold unreviewed); an accept made under
    that hold leaves it held by the flag, and an accept under the flag releases it."""
    with _catalog(tmp_path / "c.sqlite") as cat:
        _hold(cat, hold)
        assert mark_needs_review(cat, "P0", "P0_1: too few frames")
        assert _state(cat) == (Status.NEEDS_REVIEW, hold, 1)
        assert not withdraw_needs_review(cat, "P0", "P0_1 decided again", stems=["P0_1"], release=False)
        assert mark_needs_review(cat, "P0", "P0_1: too few frames")
        record_decision(cat, video=A, product_id="P0", kind="accept")  # under the other hold
        assert _state(cat) == (Status.NEEDS_REVIEW, "tracklets: P0_1: too few frames", 1)
        record_decision(cat, video=B, product_id="P0", kind="accept")  # under the flag
        assert _state(cat) == (Status.ACCEPTED, None, 1)
        undo_decision(cat, video=B)
        assert _state(cat) == (Status.NEEDS_REVIEW, "tracklets: P0_1: too few frames", 1)
        undo_decision(cat, video=A)  # the accept under the other hold undone: held by it again
        assert _state(cat) == (Status.NEEDS_REVIEW, hold, 1)
        record_decision(cat, video=B, product_id="P0", kind="accept")  # under that hold
        assert _state(cat) == (Status.NEEDS_REVIEW, "tracklets: P0_1: too few frames", 1)


def test_the_builder_withdrawing_its_flag_keeps_another_stages_hold(tmp_path):
    """The builder flags an item cleaning's association check holds, then no longer flags it:
    the item stays held by the association check (before, the flag had replaced its reason and
    the withdrawal accepted the item) until an accept made under it."""
    hold = "association: the shop image matches no frame"
    with _catalog(tmp_path / "c.sqlite") as cat:
        _hold(cat, hold)
        assert mark_needs_review(cat, "P0", "P0_1: too few frames")
        withdraw_needs_review(cat, "P0", "P0_1 no longer flagged")
        assert _state(cat) == (Status.NEEDS_REVIEW, hold, 1)
        record_decision(cat, video=A, product_id="P0", kind="accept")
        assert _state(cat) == (Status.ACCEPTED, None, 1)


WHOLE = "whole item unreadable"


@pytest.mark.parametrize(
    "hold",
    [
        "association: the shop image matches no frame",
        "merge: shares its shop image with netaporter/p9 (P9), colour red vs blue",
    ],
)
def test_a_flag_about_the_whole_item_keeps_another_stages_hold_and_holds_after_it(tmp_path, hold):
    """The builder's flag naming no video, on an item another stage holds: the other stage's
    reason stays (before, the flag replaced it, so an accept made for the flag released the item
    with the other hold never reviewed); the flag is recorded, and holds the item once an accept
    made under the other hold lifts it, until an accept made under the flag."""
    with _catalog(tmp_path / "c.sqlite") as cat:
        _hold(cat, hold)
        assert mark_needs_review(cat, "P0", WHOLE)
        assert _state(cat) == (Status.NEEDS_REVIEW, hold, 1)
        record_decision(cat, video=A, product_id="P0", kind="accept")  # under the other hold
        assert _state(cat) == (Status.NEEDS_REVIEW, f"tracklets: {WHOLE}", 1)
        record_decision(cat, video=B, product_id="P0", kind="accept")  # under the flag
        assert _state(cat) == (Status.ACCEPTED, None, 1)
        undo_decision(cat, video=B)
        assert _state(cat) == (Status.NEEDS_REVIEW, f"tracklets: {WHOLE}", 1)


def test_a_flag_about_the_whole_item_holds_it_once_a_writer_releases_another_hold(tmp_path):
    """``mf publish`` releasing its merge hold (or ``mf clean`` accepting an item it had
    excluded) makes the item accepted: the whole-item flag recorded meanwhile holds it; once the
    builder withdraws every flag of the item, nothing holds it."""
    merge = "merge: shares its shop image with netaporter/p9 (P9), colour red vs blue"
    with _catalog(tmp_path / "c.sqlite") as cat:
        _hold(cat, merge)
        mark_needs_review(cat, "P0", WHOLE)
        cat.set_item_state("netaporter", "p0", status=Status.ACCEPTED, reason=None)
        assert _state(cat) == (Status.NEEDS_REVIEW, f"tracklets: {WHOLE}", 1)
        assert withdraw_needs_review(cat, "P0", "no longer flagged")
        assert _state(cat) == (Status.ACCEPTED, None, 1)
        cat.set_item_state("netaporter", "p0", status=Status.REJECTED, reason="non-clothing")
        mark_needs_review(cat, "P0", WHOLE)  # recorded; cleaning's reject stays
        assert _state(cat) == (Status.REJECTED, "non-clothing", 1)
        cat.set_item_state("netaporter", "p0", status=Status.ACCEPTED, reason=None)  # mf clean again
        assert _state(cat) == (Status.NEEDS_REVIEW, f"tracklets: {WHOLE}", 1)


def test_a_flag_made_without_its_tracklets_identity_is_not_lifted_by_the_accept_of_the_earlier_one(tmp_path):
    """The builder flagged B's tracklet (digest d1) and a reviewer accepted it; the video is
    flagged again for the same reason while its file does not read (no identity): the item is
    held, and neither a decision that restates it (a class change) nor a writer lets the accept
    of the earlier tracklet release it (before, the recorded identity was dropped and the reason
    alone matched). An accept made under the new hold lifts it, also when the flag is made again
    without an identity."""
    why = "low confidence: det_mean 0.2 < 0.3"
    hold = f"tracklets: {B}: {why}"
    with _catalog(tmp_path / "c.sqlite") as cat:
        assert mark_needs_review(cat, "P0", f"{B}: {why}", "d1")
        record_decision(cat, video=B, product_id="P0", kind="accept")
        assert _state(cat) == (Status.ACCEPTED, None, 1)
        assert mark_needs_review(cat, "P0", f"{B}: {why}", None)  # its file did not read
        assert _state(cat) == (Status.NEEDS_REVIEW, hold, 1)
        record_decision(cat, video=A, product_id="P0", kind="class", df2_class=4)
        assert _state(cat) == (Status.NEEDS_REVIEW, hold, 4)  # the earlier tracklet's accept counts not
        cat.set_item_state("netaporter", "p0", status=Status.ACCEPTED, reason=None)  # nor for a writer
        assert _state(cat) == (Status.NEEDS_REVIEW, hold, 4)
        record_decision(cat, video=B, product_id="P0", kind="accept")  # made under this hold
        assert _state(cat) == (Status.ACCEPTED, None, 4)
        assert mark_needs_review(cat, "P0", f"{B}: {why}", None)  # again, still unknown
        record_decision(cat, video=A, product_id="P0", kind="class", df2_class=5)
        assert _state(cat) == (Status.ACCEPTED, None, 5)  # the accept made under it lifts it


@pytest.mark.parametrize(
    "hold",
    [
        f"tracklets: {A}: ground truth overlaps another tracklet",
        "association: the shop image matches no frame",
        "merge: shares its shop image with netaporter/p9 (P9), colour red vs blue",
    ],
)
def test_the_same_accept_given_again_keeps_the_hold_lifted(tmp_path, hold):
    """A rerun of ``mf-tracklets review --accept`` (or ``a`` pressed twice on the page) records an
    accept made under no hold; the first one, made under the hold, still lifts it, also with a
    note of its own, until a reject or an undo of both."""
    with _catalog(tmp_path / "c.sqlite") as cat:
        if hold.startswith("tracklets: "):  # as the builder flags: with its tracklet's identity
            assert mark_needs_review(cat, "P0", hold.removeprefix("tracklets: "), "d1")
        else:
            _hold(cat, hold)
        record_decision(cat, video=A, product_id="P0", kind="accept")
        assert _state(cat) == (Status.ACCEPTED, None, 1)
        record_decision(cat, video=A, product_id="P0", kind="accept")
        assert _state(cat) == (Status.ACCEPTED, None, 1)
        record_decision(cat, video=A, product_id="P0", kind="accept", note="looked again")
        assert _state(cat) == (Status.ACCEPTED, None, 1)
        # mf publish does not hold it again for the merge conflict its first accept saw
        assert merge_holds_accepted(cat) == (
            {("netaporter", "p0"): {hold}} if hold.startswith("merge") else {}
        )
        undo_decision(cat, video=A)
        undo_decision(cat, video=A)
        assert _state(cat) == (Status.ACCEPTED, None, 1)
        undo_decision(cat, video=A)  # the accept made under the hold: held again
        assert _state(cat) == (Status.NEEDS_REVIEW, hold, 1)
