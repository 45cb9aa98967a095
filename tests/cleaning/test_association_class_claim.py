"""Rule 5 of the association check (:func:`cleaning.associations._class_claims`): a pair that
passes on every detection but not on the item's class is flagged only when another item's video
of that class claims the shop image.

The case is tuning world 6021770's missed TikTok 7224781122413332805: a same-class item's picture
scored 0.900 on every detection (another garment of the video) and 0.000 on the item's class,
while item 9304237416518's video of that class scored it 0.877.
"""

from __future__ import annotations

from pathlib import Path

from cleaning.associations import AssociationResult, _class_claims, _Pair

THRESHOLD, MARGIN = 0.7, 0.02


class ClassScores:
    """(video's item, shop image's item) -> the score on the item's class; 0.0 when not given.
    Records every pair it is asked for."""

    def __init__(self, scores: dict[tuple[str, str], float]) -> None:
        self.scores, self.asked = scores, []

    def score(self, video_path: str, shop_path: str, category: int | None = None) -> float:
        key = (Path(video_path).stem, Path(shop_path).stem)
        self.asked.append((*key, category))
        return self.scores.get(key, 0.0)


def pair(
    tmp: Path, sid: str, score: float, class_score: float, category: int = 1, shop: str | None = None
) -> _Pair:
    shop = shop or sid
    return _Pair(
        "tiktok", sid, tmp / f"{sid}.mp4", tmp / f"{shop}.png", sid, shop, None,
        category=category, score=score, class_score=class_score,
    )  # fmt: skip


def claims(
    pairs: list[_Pair], scorer: ClassScores, reasons: dict | None = None
) -> dict[str, tuple[str, float]]:
    worst = {(p.source, p.source_id): p for p in pairs}
    out = _class_claims(
        pairs,
        worst,
        reasons or {},
        THRESHOLD,
        MARGIN,
        scorer,
        None,
        None,
        None,
        set(),
        Path("/"),
        AssociationResult(),
    )
    return {k[1]: (q.source_id, round(c, 3)) for k, (_, q, c) in out.items()}


def test_a_picture_another_same_class_video_claims_is_flagged(tmp_path):
    wrong = pair(tmp_path, "wrong", 0.900, 0.0)
    owner = pair(tmp_path, "owner", 0.95, 0.95)
    other_class = pair(tmp_path, "trousers", 0.9, 0.9, category=8)
    scorer = ClassScores({("owner", "wrong"): 0.877, ("trousers", "wrong"): 0.99})
    assert claims([wrong, owner, other_class], scorer) == {"wrong": ("owner", 0.877)}
    # only the candidate's shop image is scored, by the videos of its class, on that class
    assert scorer.asked == [("owner", "wrong", 1)]


def test_a_right_pair_low_on_its_class_that_nobody_claims_stays(tmp_path):
    """Tuning world 6021770's right TikTok 7799344721262517872: 0.978 on every detection, 0.613 on
    its class; no other video of the class scores its picture the threshold."""
    right = pair(tmp_path, "right", 0.978, 0.613)
    other = pair(tmp_path, "other", 0.95, 0.95)
    assert claims([right, other], ClassScores({("other", "right"): 0.69})) == {}
    # a claim within the margin of the item's own class score is no claim either
    right.class_score = 0.69
    assert claims([right, other], ClassScores({("other", "right"): 0.705})) == {}


def test_retakes_sharing_the_shop_image_and_flagged_or_passing_items_are_left_alone(tmp_path):
    low = pair(tmp_path, "low", 0.9, 0.3)
    retake = pair(tmp_path, "retake", 0.95, 0.95, shop="low")  # the same shop image: rule 2's case
    scorer = ClassScores({("retake", "low"): 0.95})
    assert claims([low, retake], scorer) == {}
    assert scorer.asked == []
    claimant = pair(tmp_path, "claimant", 0.95, 0.95)
    scorer = ClassScores({("claimant", "low"): 0.95})
    assert claims([low, claimant], scorer) == {"low": ("claimant", 0.95)}
    # an item another rule flagged already, and one passing on its class, are not candidates
    assert claims([low, claimant], scorer, {("tiktok", "low"): "association: ..."}) == {}
    low.class_score = 0.8
    assert claims([low, claimant], scorer) == {}
