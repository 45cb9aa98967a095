"""The source registry: one line per source, like yt-dlp's extractor list.

Adding a source = one module with a :class:`~collectors.base.Source` subclass and one entry in
:data:`SOURCES`; ``mf-collect`` gets a subcommand built from what the class declares. The
source modules import their heavy libraries (yt-dlp, instaloader, requests) only when they
collect, so importing the registry is cheap.
"""

from __future__ import annotations

from collectors.base import Source
from collectors.instagram import Instagram
from collectors.local import LocalFiles
from collectors.netaporter import NetAPorter
from collectors.tiktok import TikTok
from collectors.urls import UrlList
from schemas.registry import lookup

#: source name -> source class, in the order ``mf-collect --help`` lists them
SOURCES: dict[str, type[Source]] = {
    str(cls.name): cls for cls in (NetAPorter, TikTok, Instagram, UrlList, LocalFiles)
}


def registry() -> dict[str, type[Source]]:
    """Every source by name."""
    return SOURCES


def source_class(name: str) -> type[Source]:
    """The registered source called ``name``; :class:`ConfigError` names the choices."""
    return lookup(SOURCES, name, what="source", where="SOURCE")
