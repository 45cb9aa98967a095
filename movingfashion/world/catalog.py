"""Plan a world: which products exist, their look, their source metadata and their role.

Everything here is plain data drawn from seeded numpy Generators, so the same seed gives the
same plan. Pixels are made in :mod:`movingfashion.world.render`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import numpy as np

from schemas.errors import ConfigError
from schemas.items import SOURCE_PARTITION, SourceName

from .config import WorldConfig

COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (32, 32, 36),
    "white": (236, 236, 230),
    "ivory": (238, 228, 205),
    "navy": (32, 42, 92),
    "red": (184, 32, 42),
    "burgundy": (112, 26, 46),
    "pink": (232, 160, 182),
    "camel": (192, 150, 100),
    "olive": (112, 122, 62),
    "green": (40, 124, 72),
    "sky blue": (132, 182, 224),
    "cobalt": (40, 72, 172),
    "yellow": (232, 200, 62),
    "grey": (130, 130, 136),
    "brown": (112, 72, 42),
    "lilac": (182, 162, 212),
    "orange": (222, 122, 42),
    "teal": (30, 120, 128),
}
FABRICS = [
    "cotton-poplin",
    "linen",
    "silk-satin",
    "wool",
    "denim",
    "cotton-jersey",
    "crepe",
    "tweed",
    "ribbed-knit",
    "chiffon",
    "organic-cotton",
    "stretch-cady",
]
PATTERNS = ["plain", "stripes", "checks", "dots", "print", "logo"]
DESIGNERS = [
    "Maison Aurel",
    "Loro Vance",
    "Studio Nemi",
    "Ottavia Rhee",
    "Atelier Sorel",
    "Kasia Brun",
    "Nord & Pale",
    "Ines Calloway",
    "Vera Mondo",
    "Halden",
    "Juno Park",
    "Mirelle Ost",
]
USERS = [
    "styledbymia",
    "linen.and.light",
    "ootd.daily",
    "thrift_queen",
    "weekend.fits",
    "closet.diary",
    "nora.wears",
    "streetstyle.ldn",
    "minimal.mode",
    "vintage_vera",
    "fitcheck.jo",
    "capsule.kate",
]
SKIN = [(236, 200, 172), (212, 164, 128), (172, 120, 86), (120, 80, 56), (88, 58, 40), (246, 214, 190)]
HAIR = [(30, 22, 18), (70, 46, 28), (120, 84, 48), (196, 160, 96), (150, 60, 30), (60, 60, 64)]

#: df2 class -> (Net-A-Porter breadcrumb options, title nouns, description phrase, hashtags)
CLASS_TEXT: dict[int, tuple[list[list[str]], list[str], str, list[str]]] = {
    1: (
        [["Clothing", "Tops", "T-shirts"], ["Clothing", "Tops", "Shirts"]],
        ["T-shirt", "short-sleeve shirt"],
        "short sleeves",
        ["tshirt", "tee", "shortsleeve"],
    ),
    2: (
        [["Clothing", "Tops", "Shirts"], ["Clothing", "Tops", "Blouses"]],
        ["shirt", "blouse", "long-sleeve top"],
        "long sleeves with buttoned cuffs",
        ["shirt", "blouse", "longsleeve"],
    ),
    3: (
        [["Clothing", "Jackets", "Cropped jackets"], ["Clothing", "Jackets", "Short-sleeve jackets"]],
        ["short-sleeve jacket", "cropped jacket"],
        "short sleeves and an open front",
        ["jacket", "croppedjacket"],
    ),
    4: (
        [["Clothing", "Coats", "Trench coats"], ["Clothing", "Jackets", "Blazers"]],
        ["blazer", "coat", "jacket"],
        "long sleeves and an open front",
        ["blazer", "coat", "outerwear"],
    ),
    5: (
        [["Clothing", "Tops", "Tank tops"]],
        ["tank top", "vest top"],
        "no sleeves and wide shoulder straps",
        ["tanktop", "sleeveless"],
    ),
    6: (
        [["Clothing", "Tops", "Camisoles"]],
        ["camisole", "cami top"],
        "thin spaghetti straps",
        ["camisole", "cami", "spaghettistraps"],
    ),
    7: (
        [["Clothing", "Shorts", "Casual shorts"], ["Clothing", "Shorts", "Tailored shorts"]],
        ["shorts"],
        "a high rise and a short inseam",
        ["shorts", "summerstyle"],
    ),
    8: (
        [["Clothing", "Pants", "Wide-leg pants"], ["Clothing", "Pants", "Straight-leg pants"]],
        ["wide-leg pants", "straight-leg pants", "trousers"],
        "a full-length leg",
        ["trousers", "pants", "widelegpants"],
    ),
    9: (
        [["Clothing", "Skirts", "Midi skirts"], ["Clothing", "Skirts", "Mini skirts"]],
        ["midi skirt", "skirt"],
        "an A-line silhouette",
        ["skirt", "midiskirt"],
    ),
    10: (
        [["Clothing", "Dresses", "Mini dresses"], ["Clothing", "Dresses", "Midi dresses"]],
        ["mini dress", "T-shirt dress"],
        "short sleeves",
        ["minidress", "tshirtdress", "dress"],
    ),
    11: (
        [["Clothing", "Dresses", "Midi dresses"], ["Clothing", "Dresses", "Maxi dresses"]],
        ["long-sleeve midi dress", "shirt dress"],
        "long sleeves",
        ["longsleevedress", "dress", "maxidress"],
    ),
    12: (
        [["Clothing", "Dresses", "Midi dresses"], ["Clothing", "Dresses", "Maxi dresses"]],
        ["sleeveless midi dress", "tank dress"],
        "no sleeves and wide straps",
        ["sleevelessdress", "dress"],
    ),
    13: (
        [["Clothing", "Dresses", "Slip dresses"]],
        ["slip dress", "midi slip dress"],
        "thin spaghetti straps",
        ["slipdress", "dress", "spaghettistraps"],
    ),
}
#: non-clothing kind -> (breadcrumb, title nouns, hashtags)
OTHER_TEXT: dict[str, tuple[list[str], list[str], list[str]]] = {
    "bag": (
        ["Bags", "Shoulder bags"],
        ["shoulder bag", "tote", "mini bag"],
        ["bag", "handbag", "accessories"],
    ),
    "shoes": (
        ["Shoes", "Sneakers"],
        ["sneakers", "leather loafers", "sandals"],
        ["shoes", "sneakers", "shoegame"],
    ),
    "jewellery": (
        ["Jewelry", "Necklaces"],
        ["gold-plated necklace", "pendant necklace"],
        ["jewelry", "necklace"],
    ),
}
PATTERN_ADJ = {
    "plain": "",
    "stripes": "Striped",
    "checks": "Checked",
    "dots": "Polka-dot",
    "print": "Floral-print",
    "logo": "Logo-embroidered",
}


@dataclass(frozen=True)
class GarmentSpec:
    """Look of one garment: class, colour, pattern and cut (everything the renderer needs)."""

    df2_class: int
    colour: str
    pattern: str
    secondary: str
    fabric: str
    stripe: int = 6  # stripe/check width in texture pixels
    angle: int = 0  # 0 horizontal, 90 vertical stripes
    dot: int = 4
    logo: str | None = None  # 'circle', 'triangle', 'bar' or None
    logo_colour: str = "white"
    length: float = 1.0  # hem length factor
    fit: float = 1.0  # width factor
    tex_seed: int = 0

    @property
    def rgb(self) -> tuple[int, int, int]:
        return COLOURS[self.colour]


@dataclass
class ProductSpec:
    """One source item of the world (a row of world.json plus what is needed to render it)."""

    index: int
    product_id: str
    source: SourceName
    kind: str  # 'clothing' or bag/shoes/jewellery
    garment: GarmentSpec | None
    other_colour: str | None = None  # colour of a non-clothing item
    confusable_group: int | None = None
    has_video: bool = True
    split_layout: str | None = None  # 'left-right' / 'top-bottom'
    wrong_shop_of: str | None = None
    wrong_shop_kind: str | None = None  # 'shop', 'carousel' or 'split_screen' (with wrong_shop_of)
    wrong_extra_of: str | None = None  # a wrong carousel's second product shot: this item's shop image
    duplicate_of: str | None = None  # product id of the original
    duplicate_kind: str | None = None
    variant: str | None = None  # RepostVariant of a re-post variant (with duplicate_of)
    retake_of: str | None = (
        None  # product id whose garment and wearer this clip shows again (not a duplicate)
    )
    meta: dict = field(default_factory=dict)

    @property
    def df2_class(self) -> int | None:
        return self.garment.df2_class if (self.garment and self.kind == "clothing") else None

    @property
    def partition(self):
        return SOURCE_PARTITION[self.source]


def random_garment(rng: np.random.Generator, df2_class: int) -> GarmentSpec:
    """A random garment of one class."""
    names = list(COLOURS)
    colour = names[int(rng.integers(len(names)))]
    secondary = names[int(rng.integers(len(names)))]
    if secondary == colour:
        secondary = "white" if colour != "white" else "navy"
    pattern = PATTERNS[int(rng.integers(len(PATTERNS)))]
    return GarmentSpec(
        df2_class=df2_class,
        colour=colour,
        pattern=pattern,
        secondary=secondary,
        fabric=FABRICS[int(rng.integers(len(FABRICS)))],
        stripe=int(rng.integers(3, 11)),
        angle=int(rng.choice([0, 90, 45])),
        dot=int(rng.integers(3, 7)),
        logo=str(rng.choice(["circle", "triangle", "bar"])) if pattern == "logo" else None,
        logo_colour=secondary,
        length=float(rng.uniform(0.9, 1.12)),
        fit=float(rng.uniform(0.9, 1.15)),
        tex_seed=int(rng.integers(2**31)),
    )


def confusable_twin(rng: np.random.Generator, g: GarmentSpec) -> GarmentSpec:
    """Same class, colour and cut; one small difference (a logo, a stripe width, a dot size)."""
    if g.pattern in ("stripes", "checks"):
        return replace(g, stripe=g.stripe + int(rng.choice([-2, 2, 3])) if g.stripe > 4 else g.stripe + 3)
    if g.pattern == "dots":
        return replace(g, dot=g.dot + 2)
    if g.pattern == "logo":
        return replace(g, logo={"circle": "bar", "bar": "triangle", "triangle": "circle"}[g.logo or "circle"])
    return replace(g, pattern="logo", logo="circle", logo_colour=g.secondary)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _unique_id(rng: np.random.Generator, source: SourceName, taken: set[str]) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"
    while True:
        if source == SourceName.NETAPORTER:
            pid = (
                str(int(rng.integers(100000, 999999)))
                if rng.random() < 0.2
                else str(int(rng.integers(10**12, 10**13)))
            )
        elif source == SourceName.TIKTOK:
            pid = "7" + "".join(str(int(d)) for d in rng.integers(0, 10, 18))
        else:
            pid = "C" + "".join(alphabet[int(i)] for i in rng.integers(0, len(alphabet), 10))
        if pid not in taken:
            taken.add(pid)
            return pid


def _text(rng: np.random.Generator, p: ProductSpec) -> dict:
    """Source metadata: title, description, breadcrumb, caption, hashtags, designer, colour."""
    designer = DESIGNERS[int(rng.integers(len(DESIGNERS)))]
    if p.kind == "clothing":
        g = p.garment
        assert g is not None
        crumbs_opts, nouns, phrase, tags = CLASS_TEXT[g.df2_class]
        crumbs = list(crumbs_opts[int(rng.integers(len(crumbs_opts)))])
        noun = nouns[int(rng.integers(len(nouns)))]
        adj = PATTERN_ADJ[g.pattern]
        title = f"{adj} {g.fabric} {noun}".strip() if adj else f"{g.fabric} {noun}"
        title = title[0].upper() + title[1:]
        colour = g.colour
        desc = (
            f"{designer}'s {noun} is made from {g.colour} {g.fabric.replace('-', ' ')}"
            f"{' with ' + g.secondary + ' ' + g.pattern if g.pattern not in ('plain', 'logo') else ''}. "
            f"It is cut for a relaxed fit and has {phrase}."
            f"{' A small embroidered logo sits at the front.' if g.logo else ''} Wear it with flat sandals."
        )
        fabric_tag = g.fabric.split("-")[0]
    else:
        crumbs, nouns, tags = OTHER_TEXT[p.kind]
        crumbs = list(crumbs)
        noun = nouns[int(rng.integers(len(nouns)))]
        colour = p.other_colour or "black"
        material = "Recycled gold" if p.kind == "jewellery" else "Leather"
        title = (
            noun[0].upper() + noun[1:]
            if noun.split()[0] in ("leather", "gold-plated")
            else f"{material} {noun}"
        )
        desc = f"{designer}'s {noun} comes in {colour}. A piece to finish any look; it is not clothing."
        fabric_tag = "leather" if p.kind != "jewellery" else "gold"
    hashtags = ["ootd", *tags[:2], fabric_tag, colour.replace(" ", ""), "fashion"]
    user = USERS[int(rng.integers(len(USERS)))]
    caption_lead = [
        "obsessed with this",
        "new in:",
        "styling my",
        "can't stop wearing this",
        "weekend fit with my",
    ]
    caption = f"{caption_lead[int(rng.integers(len(caption_lead)))]} {colour} {title.lower()} " + " ".join(
        "#" + t for t in hashtags
    )
    meta = {
        "designer": designer,
        "title": title,
        "description": desc,
        "colour": colour,
        "noun": noun,
        "user": user,
        "timestamp": int(1_640_000_000 + rng.integers(0, 90_000_000)),
    }
    if p.source == SourceName.NETAPORTER:
        meta.update(category_path=crumbs, caption=None, hashtags=[])
    else:
        meta.update(
            category_path=[],
            caption=caption,
            hashtags=hashtags,
            title=caption[:60] if p.source == SourceName.TIKTOK else title,
        )
    return meta


def plan_world(products: int, seed: int, cfg: WorldConfig) -> list[ProductSpec]:
    """Decide every product of a world of ``products`` items (duplicates and extras included)."""
    if products < cfg.min_products:
        raise ConfigError(
            f"a world needs at least {cfg.min_products} products to cover every class and case, "
            f"got {products}",
            where="--products",
            hint=f"use --products {cfg.min_products} or more",
        )
    rng = np.random.default_rng([seed, 7919])
    n_other = max(3, round(products * cfg.nonclothing_fraction))
    n_dup = max(3, round(products * cfg.duplicate_fraction))
    n_novideo = max(1, round(products * 0.03))
    n_cloth = products - n_other - n_dup
    if n_cloth < 13 + n_novideo:
        raise ConfigError(f"{products} products leave too few clothing items", where="--products")
    # classes: each of the 13 once, then random; confusable twins copy an earlier garment
    specs: list[ProductSpec] = []
    taken: set[str] = set()
    shares = cfg.source_shares
    n_tt = max(4, round(n_cloth * shares.get("tiktok", 0.25)))
    n_ig = max(2, round(n_cloth * shares.get("instagram", 0.2)))
    n_nap = n_cloth - n_tt - n_ig
    sources = [SourceName.NETAPORTER] * n_nap + [SourceName.TIKTOK] * n_tt + [SourceName.INSTAGRAM] * n_ig
    sources = [sources[i] for i in rng.permutation(len(sources))]
    classes = list(range(1, 14)) + [int(c) for c in rng.integers(1, 14, n_cloth - 13)]
    classes = [classes[i] for i in rng.permutation(len(classes))]
    n_twins = int(round(n_cloth * cfg.confusable_fraction / 2))
    group = 0
    for i in range(n_cloth):
        g = random_garment(rng, classes[i])
        conf = None
        if group < n_twins and i >= 1 and i % 3 == 1:
            # twin of the previous product: same class, colour, cut
            prev = specs[-1]
            if prev.confusable_group is None and prev.garment is not None:
                group += 1
                prev.confusable_group = group
                g = confusable_twin(rng, prev.garment)
                classes[i] = g.df2_class
                conf = group
        specs.append(
            ProductSpec(
                index=len(specs),
                product_id="",
                source=sources[i],
                kind="clothing",
                garment=g,
                confusable_group=conf,
            )
        )
    # keep every class present (twins may have replaced one)
    present = {s.df2_class for s in specs}
    for c in sorted(set(range(1, 14)) - present):

        def spare(s: ProductSpec) -> bool:
            return sum(1 for t in specs if t.df2_class == s.df2_class) > 1

        victim = next((s for s in specs if s.confusable_group is None and spare(s)), None)
        if victim is None:  # tiny worlds: undo a twin pair instead (its second member is the spare)
            victim = next(s for s in reversed(specs) if s.confusable_group is not None and spare(s))
            pair = victim.confusable_group
            for t in specs:
                if t.confusable_group == pair:
                    t.confusable_group = None
        victim.garment = random_garment(rng, c)
    kinds = ["bag", "shoes", "jewellery"]
    other_sources = [SourceName.NETAPORTER, SourceName.TIKTOK, SourceName.INSTAGRAM]
    for j in range(n_other):
        specs.append(
            ProductSpec(
                index=len(specs),
                product_id="",
                source=other_sources[j % 3],
                kind=kinds[j % 3],
                garment=random_garment(rng, int(rng.integers(1, 14))),
                other_colour=list(COLOURS)[int(rng.integers(len(COLOURS)))],
            )
        )
    for s in specs:
        s.product_id = _unique_id(rng, s.source, taken)
    cloth = [s for s in specs if s.kind == "clothing"]
    class_count = {c: sum(1 for s in cloth if s.df2_class == c) for c in range(1, 14)}
    # split-screen TikTok items (at least one per layout)
    tt = [s for s in cloth if s.source == SourceName.TIKTOK]
    n_split = max(2, round(len(tt) * cfg.split_screen_fraction))
    for k, s in enumerate(tt[:n_split]):
        s.split_layout = "left-right" if k % 2 == 0 else "top-bottom"
    # products without a video (Net-A-Porter only), from classes with spares
    nap = [s for s in cloth if s.source == SourceName.NETAPORTER]
    novideo = [s for s in nap if class_count[s.df2_class] > 1][-n_novideo:]
    for s in novideo:
        s.has_video = False
        class_count[s.df2_class] -= 1
    # wrong shop associations: shop image of another product of the same class if possible
    n_wrong = max(1, round(products * cfg.wrong_shop_fraction))
    cands = _wrong_shop_candidates(cloth, class_count)
    if not cands:  # small worlds: the items without a video took the spares; plant the wrong shop first
        for s in novideo:
            s.has_video = True
            class_count[s.df2_class] += 1
        novideo = []
        cands = _wrong_shop_candidates(cloth, class_count) or _make_spare(rng, cloth, class_count)
    for s in cands[:n_wrong]:
        s.wrong_shop_of = _wrong_owner(s, cloth).product_id
        s.wrong_shop_kind = "shop"
        class_count[s.df2_class] -= 1
    if len(novideo) < n_novideo:  # small worlds: items without a video from what is left, then a
        # Net-A-Porter bag, shoe or jewel when no clothing class has a spare left
        short = n_novideo - len(novideo)
        spare = [s for s in nap if s.has_video and class_count[s.df2_class] > 1 and s.wrong_shop_kind is None]
        others = [s for s in specs if s.kind != "clothing" and s.source == SourceName.NETAPORTER]
        for s in (spare[-short:] + others)[:short]:
            s.has_video = False
            if s.kind == "clothing":
                class_count[s.df2_class] -= 1
    _plant_wrong_carousels_and_halves(cloth, class_count, cfg)
    # duplicates (re-posts of another item's video) cycling exact / reencode / subclip
    originals = [s for s in cloth if s.has_video and s.split_layout is None and s.wrong_shop_of is None]
    dup_kinds = ["exact", "reencode", "subclip"]
    for j in range(n_dup):
        orig = originals[(j * 5) % len(originals)]
        d = ProductSpec(
            index=len(specs),
            product_id=_unique_id(rng, orig.source, taken),
            source=orig.source,
            kind="clothing",
            garment=orig.garment,
            duplicate_of=orig.product_id,
            duplicate_kind=dup_kinds[j % 3],
        )
        specs.append(d)
    specs.extend(_variants_and_retakes(rng, originals, taken, len(specs), cfg))
    for s in specs:
        s.meta = _text(np.random.default_rng([seed, s.index, 11]), s)
    return specs


def _wrong_shop_candidates(cloth: list[ProductSpec], class_count: dict[int, int]) -> list[ProductSpec]:
    """Items that may be served another item's shop image: a video, a studio shop image (not
    Instagram, not split-screen) and a class that keeps a right pair without them."""
    return [
        s
        for s in cloth
        if s.has_video
        and s.split_layout is None
        and s.source != SourceName.INSTAGRAM
        and class_count[s.df2_class] > 1
    ]


def _make_spare(
    rng: np.random.Generator, cloth: list[ProductSpec], class_count: dict[int, int]
) -> list[ProductSpec]:
    """The wrong-shop candidates after moving a spare garment into the class of the first item that
    may be served another item's shop image (tiny worlds, where no such item's class has a spare)."""
    eligible = [
        s for s in cloth if s.has_video and s.split_layout is None and s.source != SourceName.INSTAGRAM
    ]
    if not eligible:
        raise ConfigError(
            "no Net-A-Porter or TikTok clothing item without split screen can carry the wrong shop image",
            where="source_shares",
            hint="give Net-A-Porter or TikTok a share of the clothing products",
        )
    x = eligible[0]
    assert x.garment is not None and x.df2_class is not None
    spares = [s for s in cloth if s is not x and s.has_video and class_count[s.df2_class or 0] > 1]
    victim = next((s for s in spares if s.confusable_group is None), None)
    if victim is not None:
        class_count[victim.df2_class or 0] -= 1
        victim.garment = random_garment(rng, x.df2_class)
    else:  # only a twin pair is spare: its second member becomes the twin of ``x`` instead
        victim = spares[-1]
        class_count[victim.df2_class or 0] -= 1
        pair = victim.confusable_group
        for t in cloth:
            if t.confusable_group == pair:
                t.confusable_group = None
        victim.garment = confusable_twin(rng, x.garment)
        x.confusable_group = victim.confusable_group = pair
    class_count[x.df2_class] += 1
    return _wrong_shop_candidates(cloth, class_count)


def _wrong_owner(
    s: ProductSpec, cloth: list[ProductSpec], skip: tuple[str, ...] = (), store_only: bool = False
) -> ProductSpec:
    """Whose shop image ``s`` is wrongly given: another item with a video and a studio shop image
    (not split-screen), of the same class when possible, never ``s``'s confusable twin (a twin
    differs by a logo or a stripe width: the same garment to any matcher, not a wrong pair).
    ``store_only``: an item whose source serves its shop image (not an Instagram carousel), the
    way a misattributed store picture ends up in a carousel or a split screen."""

    def ok(t: ProductSpec) -> bool:
        twin = s.confusable_group is not None and t.confusable_group == s.confusable_group
        return (
            t is not s
            and not twin
            and t.has_video
            and t.split_layout is None
            and t.wrong_shop_kind is None
            and t.product_id not in skip
            and not (store_only and t.source == SourceName.INSTAGRAM)
        )

    same = [t for t in cloth if ok(t) and t.df2_class == s.df2_class]
    return (same or [t for t in cloth if ok(t)])[0]


def _plant_wrong_carousels_and_halves(
    cloth: list[ProductSpec], class_count: dict[int, int], cfg: WorldConfig
) -> None:
    """``cfg.wrong_carousels`` Instagram items whose carousel holds other items' shop images instead
    of their own, and ``cfg.wrong_split_screens`` split-screen items whose still half shows another
    item's shop image (items of classes with spares first, so every class keeps a right pair)."""
    owners = {t.wrong_shop_of for t in cloth} | {t.wrong_extra_of for t in cloth}

    def free(s: ProductSpec) -> bool:  # not wrong already, and no other item shows its picture
        return s.wrong_shop_kind is None and s.product_id not in owners

    ig = [s for s in cloth if s.source == SourceName.INSTAGRAM and s.has_video and free(s)]
    ig.sort(key=lambda s: class_count[s.df2_class] <= 1)
    planted = 0
    for s in ig:
        if planted == cfg.wrong_carousels:
            break
        if not free(s):
            continue
        planted += 1
        first = _wrong_owner(s, cloth, store_only=True)
        s.wrong_shop_of, s.wrong_shop_kind = first.product_id, "carousel"
        s.wrong_extra_of = _wrong_owner(s, cloth, skip=(first.product_id,), store_only=True).product_id
        owners |= {s.wrong_shop_of, s.wrong_extra_of}
        class_count[s.df2_class] -= 1
    split = [s for s in cloth if s.split_layout is not None and free(s)]
    split.sort(key=lambda s: class_count[s.df2_class] <= 1)
    for s in split[: cfg.wrong_split_screens]:
        s.wrong_shop_of, s.wrong_shop_kind = (
            _wrong_owner(s, cloth, store_only=True).product_id,
            "split_screen",
        )
        owners.add(s.wrong_shop_of)
        class_count[s.df2_class] -= 1


def _variants_and_retakes(
    rng: np.random.Generator, originals: list[ProductSpec], taken: set[str], start: int, cfg: WorldConfig
) -> list[ProductSpec]:
    """Re-post variants (``cfg.repost_variants`` per kind), retakes (``cfg.retakes``), rotated
    re-posts (``cfg.rotated_reposts`` per quarter turn), mirrored rotated ones
    (``cfg.mirrored_rotated_reposts``), reframed ones (``cfg.reframed_reposts``) and filled ones
    (``cfg.filled_reposts``) and one-bar ones (``cfg.one_bar_reposts``) of originals;
    each later knob's items come after the earlier ones': worlds without them are unchanged."""
    from .truth import (
        COPY_VARIANTS,
        FILLED_VARIANTS,
        MIRRORED_ROTATED_VARIANTS,
        ONE_BAR_VARIANTS,
        REFRAMED_VARIANTS,
        ROTATED_VARIANTS,
        DuplicateKind,
        RepostVariant,
    )

    out: list[ProductSpec] = []
    order = [originals[int(i)] for i in rng.permutation(len(originals))]
    j = 0

    def repost(kind: str) -> ProductSpec:
        nonlocal j
        orig = order[j % len(order)]
        j += 1
        return ProductSpec(
            index=start + len(out),
            product_id=_unique_id(rng, orig.source, taken),
            source=orig.source,
            kind="clothing",
            garment=orig.garment,
            duplicate_of=orig.product_id,
            duplicate_kind=(
                DuplicateKind.SUBCLIP if kind == RepostVariant.TRIM else DuplicateKind.REENCODE
            ).value,
            variant=kind,
        )

    for _ in range(cfg.repost_variants):
        for kind in COPY_VARIANTS:
            out.append(repost(kind.value))
    for r in range(cfg.retakes):
        orig = order[(r * 3 + 1) % len(order)]
        out.append(
            ProductSpec(
                index=start + len(out),
                product_id=_unique_id(rng, orig.source, taken),
                source=orig.source,
                kind="clothing",
                garment=orig.garment,
                retake_of=orig.product_id,
            )
        )
    # each knob's re-posts after the earlier knobs' (a world without a knob keeps its plan)
    for count, variants in (
        (cfg.rotated_reposts, ROTATED_VARIANTS),
        (cfg.mirrored_rotated_reposts, MIRRORED_ROTATED_VARIANTS),
        (cfg.reframed_reposts, REFRAMED_VARIANTS),
        (cfg.filled_reposts, FILLED_VARIANTS),
        (cfg.one_bar_reposts, ONE_BAR_VARIANTS),
    ):
        for _ in range(count):
            out.extend(repost(kind.value) for kind in variants)
    return out
