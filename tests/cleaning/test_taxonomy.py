"""Taxonomy rules: realistic titles and breadcrumbs -> DeepFashion2 class, rejection or review."""

from __future__ import annotations

from pathlib import Path

import pytest

from cleaning.taxonomy import classify, classify_item, coverage, load_rules
from schemas.errors import ConfigError
from schemas.taxonomy import DF2_IDS

C = DF2_IDS  # name -> id
R, V = "rejected", "needs_review"

# (title, breadcrumb "A > B > C" or "", expected: class name | "rejected:<reason>" | "needs_review")
CASES: list[tuple[str, str, str]] = [
    # the hard cases named in the issue (documented choices)
    ("Sleeveless shirt dress", "", "vest_dress"),
    ("Cropped cardigan", "", "long_sleeved_outwear"),
    ("Strapless midi dress", "", "sling_dress"),
    ("Shorts suit", "", V),
    ("Denim jacket", "", "long_sleeved_outwear"),
    ("Camisole", "", "sling"),
    ("Tank top", "", "vest"),
    # short_sleeved_shirt
    ("Cotton-jersey T-shirt", "Clothing > Tops > T-shirts", "short_sleeved_shirt"),
    ("Oversized organic-cotton tee", "", "short_sleeved_shirt"),
    ("Striped linen short-sleeved shirt", "Clothing > Tops > Shirts", "short_sleeved_shirt"),
    ("Piqué polo shirt", "Clothing > Tops > Polo shirts", "short_sleeved_shirt"),
    ("Logo-print t shirt", "", "short_sleeved_shirt"),
    ("Cap-sleeve ribbed top", "", "short_sleeved_shirt"),
    ("Puff-sleeve cotton-poplin blouse", "Clothing > Tops > Blouses", "short_sleeved_shirt"),
    ("Short sleeve silk blouse", "", "short_sleeved_shirt"),
    # long_sleeved_shirt
    ("Silk-satin shirt", "Clothing > Tops > Shirts", "long_sleeved_shirt"),
    ("Cashmere sweater", "Clothing > Knitwear > Sweaters", "long_sleeved_shirt"),
    ("Ribbed-knit turtleneck", "", "long_sleeved_shirt"),
    ("Merino wool jumper", "", "long_sleeved_shirt"),
    ("Cotton-fleece hoodie", "Clothing > Activewear > Hoodies", "long_sleeved_shirt"),
    ("Printed sweatshirt", "", "long_sleeved_shirt"),
    ("Long-sleeved jersey T-shirt", "", "long_sleeved_shirt"),
    ("Long-sleeve top", "Clothing > Tops", "long_sleeved_shirt"),
    ("Ruffled georgette blouse", "Clothing > Tops > Blouses", V),  # a blouse's sleeves are not implied
    ("Denim shirt", "", "long_sleeved_shirt"),
    ("Oxford dress shirt", "", "long_sleeved_shirt"),
    # short_sleeved_outwear
    ("Short-sleeved tweed jacket", "Clothing > Jackets", "short_sleeved_outwear"),
    ("Short sleeve cardigan", "", "short_sleeved_outwear"),
    ("Boucle cropped jacket", "Clothing > Jackets > Cropped jackets", "short_sleeved_outwear"),  # rules file
    ("Long-sleeved cropped jacket", "", "long_sleeved_outwear"),
    ("Cap-sleeve blazer", "", "short_sleeved_outwear"),
    # long_sleeved_outwear
    ("Double-breasted wool blazer", "Clothing > Jackets > Blazers", "long_sleeved_outwear"),
    ("Belted cotton-gabardine trench coat", "Clothing > Coats > Trench coats", "long_sleeved_outwear"),
    ("Quilted shell puffer jacket", "", "long_sleeved_outwear"),
    ("Leather biker jacket", "", "long_sleeved_outwear"),
    ("Satin bomber jacket", "", "long_sleeved_outwear"),
    ("Oversized wool coat", "", "long_sleeved_outwear"),
    ("Hooded parka", "", "long_sleeved_outwear"),
    ("Silk kimono", "", "long_sleeved_outwear"),
    ("Alpaca-blend cardigan", "Clothing > Knitwear > Cardigans", "long_sleeved_outwear"),
    ("Denim shirt jacket", "", "long_sleeved_outwear"),
    # vest
    ("Ribbed tank", "", "vest"),
    ("Cotton vest top", "Clothing > Tops > Tank tops", "vest"),
    ("Sleeveless silk shirt", "", "vest"),
    ("Quilted gilet", "", "vest"),
    ("Tailored waistcoat", "Clothing > Jackets > Waistcoats", "vest"),
    ("Knitted sweater vest", "", "vest"),
    ("Halterneck top", "", "vest"),
    ("Sleeveless knit top", "", "vest"),
    # sling
    ("Silk-satin camisole", "Clothing > Tops > Camisoles", "sling"),
    ("Lace-trimmed cami top", "", "sling"),
    ("Bandeau top", "", "sling"),
    ("Strapless bustier", "", "sling"),
    ("Spaghetti strap top", "", "sling"),
    ("Strappy crop top", "", "sling"),
    # shorts
    ("Denim shorts", "Clothing > Shorts > Denim shorts", "shorts"),
    ("Pleated wool-blend shorts", "Clothing > Shorts > Tailored shorts", "shorts"),
    ("Linen bermuda shorts", "", "shorts"),
    ("Cycling shorts", "", "shorts"),
    ("High-rise hot pants", "", "shorts"),
    # trousers
    ("Wide-leg pants", "Clothing > Pants > Wide-leg pants", "trousers"),
    ("Straight-leg jeans", "Clothing > Jeans", "trousers"),
    ("Tailored trousers", "", "trousers"),
    ("Stretch leggings", "", "trousers"),
    ("Cotton-jersey joggers", "", "trousers"),
    ("Cropped culottes", "", "trousers"),
    ("Cargo pants", "", "trousers"),
    ("Flared track pants", "", "trousers"),
    # skirt
    ("Pleated midi skirt", "Clothing > Skirts > Midi skirts", "skirt"),
    ("Leather mini skirt", "", "skirt"),
    ("Wrap maxi skirt", "", "skirt"),
    ("Denim skort", "", "skirt"),
    ("Sequined miniskirt", "", "skirt"),
    # short_sleeved_dress
    ("T-shirt dress", "", "short_sleeved_dress"),
    ("Short-sleeved floral mini dress", "Clothing > Dresses > Mini dresses", "short_sleeved_dress"),
    ("Puff-sleeve cotton dress", "", "short_sleeved_dress"),
    ("Cap-sleeve wrap dress", "", "short_sleeved_dress"),
    # long_sleeved_dress
    ("Long-sleeved midi dress", "Clothing > Dresses > Midi dresses", "long_sleeved_dress"),
    ("Long sleeve ribbed-knit dress", "", "long_sleeved_dress"),
    ("Sweater dress", "", "long_sleeved_dress"),
    ("Balloon-sleeve maxi dress", "", "long_sleeved_dress"),
    ("Turtleneck jersey dress", "", "long_sleeved_dress"),
    # vest_dress
    ("Sleeveless crepe midi dress", "Clothing > Dresses > Midi dresses", "vest_dress"),
    ("Ribbed tank dress", "", "vest_dress"),
    ("Denim pinafore dress", "", "vest_dress"),
    ("Halterneck maxi dress", "", "vest_dress"),
    ("Sleeveless linen shirt dress", "", "vest_dress"),
    # sling_dress
    ("Silk-satin slip dress", "Clothing > Dresses > Slip dresses", "sling_dress"),
    ("Spaghetti strap midi dress", "", "sling_dress"),
    ("Lace-trimmed cami dress", "", "sling_dress"),
    ("Strapless sequin gown", "", "sling_dress"),
    ("Strappy linen sundress", "", "sling_dress"),
    # non-clothing: rejected with the reason
    ("Leather tote bag", "Bags > Tote bags", "rejected:bag"),
    ("Mini shoulder bag", "Bags > Shoulder bags", "rejected:bag"),
    ("Croc-effect clutch", "", "rejected:bag"),
    ("Leather sneakers", "Shoes > Sneakers", "rejected:shoes"),
    ("Suede ankle boots", "Shoes > Boots", "rejected:shoes"),
    ("Leather sandals", "", "rejected:shoes"),
    ("Patent pumps", "", "rejected:shoes"),
    ("Gold-plated necklace", "Jewelry > Necklaces", "rejected:jewellery"),
    ("Pearl drop earrings", "", "rejected:jewellery"),
    ("Signet ring", "", "rejected:jewellery"),
    ("Eau de parfum 50ml", "Beauty > Fragrance", "rejected:beauty"),
    ("Matte lipstick", "", "rejected:beauty"),
    ("Silk scarf", "Accessories > Scarves", "rejected:accessories"),
    ("Leather belt", "", "rejected:accessories"),
    ("Cat-eye sunglasses", "", "rejected:accessories"),
    ("Wool beanie", "", "rejected:accessories"),
    ("Triangle bikini top", "Clothing > Beachwear > Bikinis", "rejected:swimwear"),
    ("Ruched swimsuit", "", "rejected:swimwear"),
    ("Lace bra", "Clothing > Lingerie", "rejected:lingerie"),
    # a clothing breadcrumb never overrides a non-clothing one
    ("Silk dress scarf", "Accessories > Scarves", "rejected:accessories"),
    # ambiguous: needs review
    ("Linen jumpsuit", "", V),
    ("Cotton playsuit", "", V),
    ("Two-piece co-ord set", "", V),
    ("Floral midi dress", "Clothing > Dresses > Midi dresses", V),
    ("Relaxed top", "", V),
    ("New season favourite", "", V),
    # trailing 'with ...' does not change the head noun
    ("Mini dress with short sleeves", "", "short_sleeved_dress"),
    ("Wool coat with leather belt", "", "long_sleeved_outwear"),
]


def _check(result, expected: str) -> None:
    if expected.startswith("rejected:"):
        assert result.status == R, result
        assert result.reason and expected.split(":")[1] in result.reason
    elif expected == V:
        assert result.status == V, result
        assert result.reason
    else:
        assert result.status == "accepted", result
        assert result.df2_class == C[expected], result


def test_there_are_more_than_100_cases_covering_every_class():
    assert len(CASES) >= 100
    assert {C[e] for _, _, e in CASES if e in C} == set(range(1, 14))


@pytest.mark.parametrize("title,crumbs,expected", CASES, ids=[c[0] for c in CASES])
def test_title_and_breadcrumb(title, crumbs, expected):
    path = [c.strip() for c in crumbs.split(">")] if crumbs else []
    _check(classify(title=title, category_path=path), expected)


def test_description_gives_the_sleeves_a_title_does_not():
    r = classify(
        title="Floral midi dress",
        category_path=["Clothing", "Dresses", "Midi dresses"],
        description="A floaty crepe dress with long sleeves and a tie waist.",
    )
    assert r.df2_class == C["long_sleeved_dress"] and r.evidence["sleeve"] == "description"
    r = classify(title="Cropped jacket", description="It has short sleeves and an open front.")
    assert r.df2_class == C["short_sleeved_outwear"]


def test_social_media_captions_and_hashtags():
    # a TikTok title is the caption cut at 60 characters: the full caption decides
    cap = "obsessed with this black polka-dot silk-satin long-sleeve midi dress #ootd #dress #silk"
    assert classify(title=cap[:60], caption=cap).df2_class == C["long_sleeved_dress"]
    assert classify(title=cap[:40], caption=cap).df2_class == C["long_sleeved_dress"]
    # yt-dlp titles may carry the start of the hashtags: they are not garments of the title
    cap2 = "obsessed with this black striped cropped jacket #ootd #jacket #croppedjacket #fashion"
    r = classify(
        title=cap2[:68], caption=cap2, description=cap2, hashtags=["ootd", "jacket", "croppedjacket"]
    )
    assert r.df2_class == C["short_sleeved_outwear"], r
    assert (
        classify(caption="new in: my favourite #slipdress", hashtags=["ootd"]).df2_class == C["sling_dress"]
    )
    assert classify(hashtags=["denimjacket", "fashion"]).df2_class == C["long_sleeved_outwear"]
    assert classify(hashtags=["tanktop", "ootd"]).df2_class == C["vest"]
    assert (
        classify(caption="weekend fit with my camel wool blazer #fashion").df2_class
        == C["long_sleeved_outwear"]
    )
    r = classify(caption="styling my new handbag #bag #accessories")
    assert r.status == R and "bag" in r.reason


def test_every_world_product_maps_to_its_true_class(world_truth):
    for p in world_truth.products:
        r = classify(
            title=p.title,
            category_path=p.category_path,
            description=p.description,
            caption=p.caption,
            hashtags=p.hashtags,
        )
        if p.df2_class is None:
            assert r.status == R and r.reason.startswith("taxonomy: non_clothing"), (p.title, r)
        else:
            assert (r.status, r.df2_class) == ("accepted", p.df2_class), (p.title, p.description, r)


def test_coverage_report():
    results = [
        classify(title=t, category_path=[c.strip() for c in b.split(">")] if b else []) for t, b, _ in CASES
    ]
    cov = coverage(results)
    assert cov["items"] == len(CASES)
    assert cov["accepted"] + cov["rejected"] + cov["needs_review"] == len(CASES)
    assert set(cov["per_class"]) == set(range(1, 14))
    assert 0.6 < cov["mapped_fraction"] < 1.0


def test_user_rules_file(tmp_path):
    rules = tmp_path / "rules.yaml"
    base = load_rules().source
    text = (
        Path(base).read_text(encoding="utf-8").replace("swimwear: [swimwear,", "swimwear: [kaftan, swimwear,")
    )
    rules.write_text(text)
    custom = load_rules(rules)
    assert classify(title="Embroidered kaftan", rules=custom).status == R
    assert (
        classify(title="Embroidered kaftan", description="long sleeves").df2_class == C["long_sleeved_dress"]
    )


@pytest.mark.parametrize(
    "text,match",
    [
        ("garments:\n  - {family: hats, words: [hat]}\n", "family"),
        ("classes:\n  top: {short: not_a_class}\n", "unknown DeepFashion2 class"),
        ("[1, 2]\n", "mapping"),
    ],
)
def test_bad_rules_files_are_named(tmp_path, text, match):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=match) as exc:
        load_rules(p)
    assert str(p) in str(exc.value)


def test_classify_item_reads_a_source_item():
    from schemas.items import SourceItem

    item = SourceItem(
        source="netaporter", source_id="123", title="Linen shorts", category_path=["Clothing", "Shorts"]
    )
    assert classify_item(item).df2_class == C["shorts"]
