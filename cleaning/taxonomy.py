"""Map source metadata to the 13 DeepFashion2 classes with an editable rules file.

See ``cleaning/taxonomy_rules.yaml`` for the rules and how they are read. The result of
:func:`classify` is accepted (with a class), rejected (non-clothing, with the reason) or
needs_review (ambiguous, with the reason).
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from schemas.config import read_config_data
from schemas.errors import ConfigError, short_repr
from schemas.items import SourceItem, given_class
from schemas.taxonomy import DF2_CLASSES, DF2_IDS

DEFAULT_RULES = Path(__file__).with_name("taxonomy_rules.yaml")
FAMILIES = {"top", "outwear", "dress", "shorts", "trousers", "skirt", "review"}
SLEEVES = ("straps", "sleeveless", "short", "long")
#: Unicode hyphens, dashes and minus signs read as an ASCII hyphen ("T‐shirt" is a "T-shirt")
_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-"))


def _fold(text: str) -> str:
    """Invisible format characters dropped (soft hyphen, zero-width space and joiners, word
    joiner, BOM: "T\u00ad-shirt" reads "T-shirt"), NFKC (full-width letters become ASCII),
    every Unicode dash a hyphen, case folded (a Turkish "İ" is an "i")."""
    if text.isascii():
        return text.translate(_DASHES).lower()
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    text = unicodedata.normalize("NFKC", text).casefold().replace("i\u0307", "i")
    return unicodedata.normalize("NFKC", text).translate(_DASHES)


def _pattern(word: str) -> str:
    parts = [re.escape(p) for p in re.split(r"[\s\-]+", _fold(word).strip()) if p]
    return r"(?<![a-z0-9])" + r"[\s\-]?".join(parts) + r"(?:e?s|d)?(?![a-z0-9])"


@dataclass(frozen=True)
class _Keyword:
    word: str
    regex: re.Pattern[str]
    family: str  # garment family or "non_clothing:<reason>"
    sleeve: str | None = None


@dataclass
class Rules:
    """Compiled taxonomy rules."""

    keywords: list[_Keyword]
    sleeves: list[tuple[str, re.Pattern[str]]]
    classes: dict[str, dict[str, int] | int]
    source: str = "<rules>"


@dataclass(frozen=True)
class TaxonomyResult:
    status: str  # accepted | rejected | needs_review
    df2_class: int | None = None
    reason: str | None = None
    family: str | None = None
    sleeve: str | None = None
    evidence: dict[str, str] = field(default_factory=dict)


def load_rules(path: str | os.PathLike[str] | None = None) -> Rules:
    """Load and validate a rules YAML (the packaged one when ``path`` is None)."""
    return _load_rules(str(path or DEFAULT_RULES))


@lru_cache(maxsize=8)
def _load_rules(path: str) -> Rules:
    data = read_config_data(path, "taxonomy rules file")  # one-line errors, as a config file's
    if not isinstance(data, dict):
        raise ConfigError("rules must be a mapping with non_clothing, garments, sleeves, classes", where=path)
    kws: list[_Keyword] = []
    for reason, words in _mapping(data, "non_clothing", path).items():
        for w in _words(words, f"non_clothing.{reason}", path):
            kws.append(_Keyword(w, re.compile(_pattern(w)), f"non_clothing:{reason}"))
    garments = data.get("garments") or []
    if not isinstance(garments, list):
        raise ConfigError(
            "garments must be a list of {family, sleeve, words} mappings",
            where=path,
            hint="see the packaged cleaning/taxonomy_rules.yaml",
        )
    for i, g in enumerate(garments):
        if not isinstance(g, dict):
            raise ConfigError(
                f"garments[{i}] must be a mapping with family, words and an optional sleeve, not {short_repr(g)}",
                where=path,
                hint="write e.g. {family: dress, words: [dress, gown]}",
            )
        fam, sleeve = g.get("family"), g.get("sleeve")
        if fam not in FAMILIES:
            raise ConfigError(
                f"garments[{i}].family {short_repr(fam)} is not one of {sorted(FAMILIES)}", where=path
            )
        if sleeve is not None and sleeve not in SLEEVES:
            raise ConfigError(
                f"garments[{i}].sleeve {short_repr(sleeve)} is not one of {list(SLEEVES)}", where=path
            )
        for w in _words(g.get("words"), f"garments[{i}].words", path):
            kws.append(_Keyword(w, re.compile(_pattern(w)), fam, sleeve))
    sleeves = []
    for sleeve, words in _mapping(data, "sleeves", path).items():
        if sleeve not in SLEEVES:
            raise ConfigError(f"sleeves.{sleeve} is not one of {list(SLEEVES)}", where=path)
        sleeves.extend((sleeve, re.compile(_pattern(w))) for w in _words(words, f"sleeves.{sleeve}", path))
    classes: dict[str, dict[str, int] | int] = {}
    for fam, value in _mapping(data, "classes", path).items():
        if isinstance(value, dict):
            bad = [s for s in value if s not in SLEEVES]
            if bad:
                raise ConfigError(
                    f"classes.{fam}: sleeve {bad[0]!r} is not one of {list(SLEEVES)}", where=path
                )
            names = value
        elif isinstance(value, str):
            names = {"": value}
        else:
            raise ConfigError(
                f"classes.{fam} must be a DeepFashion2 class name or a mapping sleeve -> class name, "
                f"not {short_repr(value)}",
                where=path,
                hint=f"use one of {sorted(DF2_IDS)}",
            )
        unknown = [n for n in names.values() if not isinstance(n, str) or n not in DF2_IDS]
        if unknown:
            raise ConfigError(
                f"classes.{fam}: unknown DeepFashion2 class {unknown[0]!r}",
                where=path,
                hint=f"use one of {sorted(DF2_IDS)}",
            )
        classes[fam] = (
            {s: DF2_IDS[n] for s, n in value.items()} if isinstance(value, dict) else DF2_IDS[value]
        )
    return Rules(kws, sleeves, classes, path)


def _mapping(data: dict, name: str, path: str) -> dict:
    """``data[name]`` when it is a mapping (empty when absent); else a ConfigError naming the field."""
    value = data.get(name) or {}
    if not isinstance(value, dict):
        raise ConfigError(
            f"{name} must be a mapping (name: [words]), not {type(value).__name__} {short_repr(value)}",
            where=path,
            hint="see the packaged cleaning/taxonomy_rules.yaml",
        )
    return value


def _words(value: object, field: str, path: str) -> list[str]:
    """A keyword list: a list of words (numbers are read as words); a single string is refused
    (it would be read letter by letter)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(w, str | int | float) for w in value):
        raise ConfigError(
            f"{field} must be a list of words, not {short_repr(value)}",
            where=path,
            hint=f"write {field.rsplit('.', 1)[-1]}: [{short_repr(value)}]"
            if isinstance(value, str)
            else None,
        )
    return [str(w) for w in value]


def _norm(text: str | None) -> str:
    return re.sub(r"\s+", " ", _fold(text or "").replace("_", " ").replace("#", " ")).strip()


def _head_span(text: str, rules: Rules) -> tuple[_Keyword, int, int] | None:
    """The keyword ending last in ``text`` (ties: the longest match) and its span."""
    best: tuple[int, int, _Keyword, int] | None = None
    for kw in rules.keywords:
        for m in kw.regex.finditer(text):
            cand = (m.end(), m.end() - m.start(), kw, m.start())
            if best is None or cand[:2] > best[:2]:
                best = cand
    return (best[2], best[3], best[0]) if best else None


def _head(text: str, rules: Rules) -> _Keyword | None:
    found = _head_span(text, rules)
    return found[0] if found else None


def _first(text: str, rules: Rules) -> _Keyword | None:
    """The keyword starting first in ``text`` (ties: the longest match)."""
    best: tuple[int, int, _Keyword] | None = None
    for kw in rules.keywords:
        m = kw.regex.search(text)
        if m:
            cand = (m.start(), -(m.end() - m.start()), kw)
            if best is None or cand[:2] < best[:2]:
                best = cand
    return best[2] if best else None


def _sleeve(text: str, rules: Rules, skip: tuple[int, int] | None = None) -> str | None:
    """The first sleeve word of ``text``, ignoring matches inside ``skip`` (the garment keyword:
    "sweater vest" is a vest, not long-sleeved)."""
    best: tuple[int, int, str] | None = None
    for sleeve, rx in rules.sleeves:
        for m in rx.finditer(text):
            if skip and m.start() >= skip[0] and m.end() <= skip[1]:
                continue
            break
        else:
            m = None
        if m:
            cand = (m.start(), -(m.end() - m.start()), sleeve)
            if best is None or cand[:2] < best[:2]:
                best = cand
    return best[2] if best else None


def classify(
    *,
    title: str | None = None,
    category_path: list[str] | None = None,
    description: str | None = None,
    caption: str | None = None,
    hashtags: list[str] | None = None,
    rules: Rules | None = None,
) -> TaxonomyResult:
    """Classify one item from its metadata (see the rules file for the procedure)."""
    rules = rules or load_rules()
    title_n = _norm(title)
    cap_text = _norm((caption or "").split("#")[0])
    if title_n and cap_text and _norm(caption).startswith(title_n.rstrip(".… ")):
        title_n = cap_text  # the title is (a cut of) the caption: read its sentence, not its hashtags
    title_full = title_n
    head_part = title_n.split(" with ")[0]
    if _head(head_part, rules):
        title_n = head_part  # "mini dress with belt" is a dress; "weekend fit with my blazer" is not cut
    crumbs = [_norm(c) for c in (category_path or [])]
    others = [
        ("description", _norm(description)),
        ("caption", _norm(caption)),
        ("hashtags", _norm(" ".join(hashtags or []))),
    ]
    evidence: dict[str, str] = {}

    crumb_kw = None
    for c in reversed(crumbs):
        crumb_kw = _head(c, rules)
        if crumb_kw:
            evidence["breadcrumb"] = crumb_kw.word
            break
    title_found = _head_span(title_n, rules) if title_n else None
    title_kw = title_found[0] if title_found else None
    title_skip = (title_found[1], title_found[2]) if title_found and title_found[0].sleeve else None
    if title_kw:
        evidence["title"] = title_kw.word
    kw = None
    if crumb_kw and crumb_kw.family.startswith("non_clothing"):
        kw = crumb_kw
    elif title_kw:
        kw = title_kw
    elif crumb_kw:
        kw = crumb_kw
    else:
        for name, text in others:
            kw = _first(text, rules) if text else None
            if kw:
                evidence[name] = kw.word
                break
    if kw is None:
        return TaxonomyResult(
            "needs_review",
            reason="taxonomy: unknown_garment: no garment keyword in the metadata",
            evidence=evidence,
        )
    if kw.family.startswith("non_clothing:"):
        what = kw.family.split(":", 1)[1]
        return TaxonomyResult(
            "rejected",
            reason=f"taxonomy: non_clothing: {what} ('{kw.word}')",
            family=kw.family,
            evidence=evidence,
        )
    if kw.family == "review":
        return TaxonomyResult(
            "needs_review",
            family=kw.family,
            evidence=evidence,
            reason=f"taxonomy: ambiguous: '{kw.word}' has no single DeepFashion2 class",
        )
    table = rules.classes.get(kw.family)
    if table is None:
        return TaxonomyResult(
            "needs_review",
            family=kw.family,
            evidence=evidence,
            reason=f"taxonomy: no class for family '{kw.family}' in {rules.source}",
        )
    if isinstance(table, int):
        return TaxonomyResult("accepted", table, family=kw.family, evidence=evidence)
    # sleeve: title, then description, then the garment's default, then caption and hashtags
    candidates = [("title", title_full), others[0], ("default", None), *others[1:]]
    sleeve = None
    for name, text in candidates:
        skip = title_skip if name == "title" and kw is title_kw else None
        sleeve = kw.sleeve if name == "default" else (_sleeve(text, rules, skip) if text else None)
        if sleeve:
            evidence["sleeve"] = f"default of '{kw.word}'" if name == "default" else name
            break
    if sleeve is None or sleeve not in table:
        return TaxonomyResult(
            "needs_review",
            family=kw.family,
            evidence=evidence,
            reason=f"taxonomy: ambiguous: sleeve length of '{kw.word}' unknown",
        )
    return TaxonomyResult("accepted", table[sleeve], family=kw.family, sleeve=sleeve, evidence=evidence)


def classify_item(item, rules: Rules | None = None) -> TaxonomyResult:
    """:func:`classify` on a :class:`schemas.items.SourceItem` (or anything with the same fields);
    a class the item's manifest row gave (``mf-collect local``: :func:`schemas.items.given_class`)
    is taken as it is."""
    given = given_class(item) if isinstance(item, SourceItem) else None
    if given is not None:
        return TaxonomyResult("accepted", given, family="given", evidence={"manifest": DF2_CLASSES[given]})
    return classify(
        title=item.title,
        category_path=item.category_path,
        description=item.description,
        caption=item.caption,
        hashtags=item.hashtags,
        rules=rules,
    )


def coverage(results: list[TaxonomyResult]) -> dict[str, object]:
    """Coverage report: outcome counts, share mapped, per-class counts, top reasons."""
    status = Counter(r.status for r in results)
    classes = Counter(r.df2_class for r in results if r.df2_class)
    reasons = Counter(r.reason.split(" (")[0] for r in results if r.reason)
    n = len(results)
    return {
        "items": n,
        "accepted": status["accepted"],
        "rejected": status["rejected"],
        "needs_review": status["needs_review"],
        "mapped_fraction": round(status["accepted"] / n, 4) if n else 0.0,
        "per_class": {int(k): v for k, v in sorted(classes.items())},
        "reasons": dict(reasons.most_common(20)),
    }
