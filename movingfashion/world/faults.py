"""Fault switches of the loopback sites (all off by default)."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.errors import ConfigError, validation_text

#: Unsafe ids the sites mention when ``evil_ids`` is on (collectors must refuse them).
EVIL_IDS = ["../../etc/passwd", "abc\x00def"]


class Faults(BaseModel):
    """What the loopback sites do wrong on purpose. Lists hold product ids (source ids)."""

    model_config = ConfigDict(extra="forbid")

    latency_s: float = Field(0.0, ge=0, description="sleep before every response")
    retry_after_429: int = Field(
        0, ge=0, description="first N requests of each media path: 429 + Retry-After: 1"
    )
    burst_5xx: int = Field(0, ge=0, description="first N requests of each media path (after any 429s): 503")
    truncate: list[str] = Field(
        default_factory=list, description="media body cut half-way, full Content-Length"
    )
    wrong_content_type: list[str] = Field(default_factory=list, description="media served as text/plain")
    html_as_image: list[str] = Field(
        default_factory=list, description="an HTML page served as the media (Content-Type image/jpeg)"
    )
    html_as_video: list[str] = Field(
        default_factory=list,
        description="an HTML error page served as the video (Content-Type video/mp4, status 200)",
    )
    short_length: list[str] = Field(
        default_factory=list,
        description="media: Content-Length and body both cut to half the file, Range ignored "
        "(the transfer looks complete; only the content check can tell)",
    )
    reset_mid_body: list[str] = Field(
        default_factory=list,
        description="media: the first answer of each path stops half-way with a connection reset "
        "(TCP RST); later answers are whole",
    )
    stall_mid_body: list[str] = Field(
        default_factory=list,
        description="media: the first answer of each path sends half the body, then waits stall_s "
        "before the rest",
    )
    stall_s: float = Field(5.0, ge=0, description="the pause of stall_mid_body (seconds)")
    redirect_foreign: list[str] = Field(
        default_factory=list, description="media: 302 to http://foreign.invalid/..."
    )
    oversized: list[str] = Field(default_factory=list, description="video body of oversized_bytes, streamed")
    oversized_bytes: int = Field(64 * 1024 * 1024, gt=0)
    malformed_jsonld: list[str] = Field(
        default_factory=list, description="product page with a broken JSON-LD block"
    )
    no_range: list[str] = Field(default_factory=list, description="ignore Range headers (always 200)")
    evil_ids: bool = Field(False, description="listings, sitemap and fixtures also name unsafe ids")
    robots_disallow: list[str] = Field(default_factory=list, description="path prefixes added to robots.txt")
    taken_down: list[str] = Field(
        default_factory=list,
        description="products removed from the sites: pages, posts and media answer 404, listings omit them",
    )

    def applies(self, name: str, product_id: str | None) -> bool:
        return product_id is not None and product_id in getattr(self, name)


_LISTS = {n for n, f in Faults.model_fields.items() if f.annotation == list[str]}
#: the list faults whose values are product ids (robots_disallow holds path prefixes)
ID_LISTS = sorted(_LISTS - {"robots_disallow"})
_FLAG_VALUES = {v: True for v in ("1", "true", "yes", "on")} | {v: False for v in ("0", "false", "no", "off")}


def check_fault_ids(faults: Faults, product_ids: Iterable[str]) -> None:
    """Refuse (:class:`ConfigError`) a fault naming an id no product of the world has: it would
    do nothing, silently, and a collector tested against it would seem to cope."""
    known = set(product_ids)
    for name in ID_LISTS:
        unknown = [v for v in getattr(faults, name) if v not in known]
        if unknown:
            raise ConfigError(
                f"fault '{name}': no product of this world has the id {unknown[0]!r}",
                where="--faults",
                hint=f"give product ids of the world (e.g. {', '.join(sorted(known)[:3])}: its "
                "fixtures/netaporter_ids.txt and world.json list them)",
            )


def parse_faults(pairs: list[str] | tuple[str, ...]) -> Faults:
    """Build :class:`Faults` from ``name=value`` strings (lists comma-separated, flags true/false)."""
    data: dict[str, object] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(
                f"fault {pair!r} is not name=value",
                where="--faults",
                hint=f"names: {', '.join(Faults.model_fields)}",
            )
        name, value = (x.strip() for x in pair.split("=", 1))
        if name not in Faults.model_fields:
            raise ConfigError(
                f"unknown fault {name!r}", where="--faults", hint=f"names: {', '.join(Faults.model_fields)}"
            )
        if name in _LISTS:
            data[name] = [v for v in value.split(",") if v]
        elif name == "evil_ids":
            if value.lower() not in _FLAG_VALUES:
                raise ConfigError(
                    f"fault 'evil_ids': {value!r} is not true or false",
                    where="--faults",
                    hint="evil_ids=true",
                )
            data[name] = _FLAG_VALUES[value.lower()]
        else:
            data[name] = value
    try:
        return Faults.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"fault '{err['loc'][0]}': {validation_text(err)}", where="--faults") from None
