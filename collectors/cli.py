"""``mf-collect``: gather video-shop pairs from the sources into the catalog."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import click

from schemas.cli_support import emit, json_option, run_main


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def collect() -> None:
    """Collect video-shop pairs into the catalog.

    Files land in ROOT/<source>/<source_id>/<kind>.<ext>; items and assets are recorded in
    the catalog with SHA-256, metadata, status and reasons. Reruns skip what is done.
    Exit status: 0 all good, 1 some items failed or were rejected, 2 bad usage/config,
    130 interrupted (rerun to resume).

    \b
    Examples:
      mf-collect netaporter --base-url http://127.0.0.1:8000 --out data --catalog data/catalog.sqlite
      mf-collect tiktok "https://www.tiktok.com/@user/video/123" --out data --catalog data/catalog.sqlite
    """


def _common(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.argument("targets", nargs=-1),
        click.option(
            "--out",
            "out",
            required=True,
            type=click.Path(file_okay=False),
            help="Collection root (files go to ROOT/<source>/<id>/).",
        ),
        click.option(
            "--catalog",
            "catalog",
            type=click.Path(dir_okay=False),
            help="SQLite catalog [default: ROOT/catalog.sqlite].",
        ),
        click.option(
            "--workers",
            type=click.IntRange(1, 256),
            default=None,
            help="Items collected at once [default: config, 4].",
        ),
        click.option("--limit", type=click.IntRange(1), default=None, help="Stop after this many items."),
        click.option("--dry-run", is_flag=True, help="Discover and list items; download nothing."),
        click.option(
            "--config",
            "config",
            type=click.Path(dir_okay=False),
            help="YAML with http/netaporter/tiktok/instagram/urls settings.",
        ),
        click.option("--ignore-robots", is_flag=True, help="Do not honour robots.txt (logged as a warning)."),
        click.option(
            "--base-url", help="Point every host of the source at one site (loopback tests, mirrors)."
        ),
        click.option("--executor", default=None, help="Executor backend [default: local]."),
        click.option("--retry-rejected", is_flag=True, help="Also retry items rejected by an earlier run."),
        click.option(
            "--progress/--no-progress", default=None, help="Progress bar on stderr [default: if a tty]."
        ),
        click.option("-v", "--verbose", count=True, help="More log output (-vv for debug)."),
        json_option,
    ]
    for opt in reversed(options):
        fn = opt(fn)
    return fn


def _run(
    source: str,
    targets: tuple[str, ...],
    *,
    out: str,
    catalog: str | None,
    workers: int | None,
    limit: int | None,
    dry_run: bool,
    config: str | None,
    ignore_robots: bool,
    base_url: str | None,
    executor: str | None,
    retry_rejected: bool,
    progress: bool | None,
    verbose: int,
    as_json: bool,
    **extra: Any,
) -> None:
    from pathlib import Path

    from collectors.api import collect as run_collect
    from collectors.config import load_collect_config

    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    cfg = load_collect_config(config, base_url=base_url, ignore_robots=ignore_robots, workers=workers)
    if executor:
        cfg = cfg.model_copy(update={"executor": executor})
    summary = run_collect(
        source,
        list(targets),
        out=out,
        catalog=catalog or str(Path(out) / "catalog.sqlite"),
        cfg=cfg,
        workers=cfg.workers,
        limit=limit,
        dry_run=dry_run,
        retry_rejected=retry_rejected,
        show_progress=progress,
        **extra,
    )
    emit(summary, as_json, lambda s: s.human())
    if summary.interrupted:
        click.echo("interrupted: state is saved, rerun the same command to resume", err=True)
        sys.exit(130)
    if summary.failed or summary.rejected:
        sys.exit(1)


@collect.command("netaporter")
@_common
def netaporter(targets: tuple[str, ...], **kw: Any) -> None:
    """Net-A-Porter product pages, detail videos and shop/front/rear/fabric images.

    TARGETS: listing, designer or category URLs/paths (pagination is followed), sitemap
    URLs, product page URLs, product ids, or @FILE with one per line. None: the configured
    clothing listing.

    \b
    Example:
      mf-collect netaporter --base-url http://127.0.0.1:8000 --out data --workers 4
      mf-collect netaporter /en-us/shop/designer/halden https://www.net-a-porter.com/sitemap.xml --out data
    """
    _run("netaporter", targets, **kw)


@collect.command("tiktok")
@_common
@click.option(
    "--shop-map",
    type=click.Path(exists=True, dir_okay=False),
    help="CSV/JSONL: video id or URL -> shop image URL or file.",
)
def tiktok(targets: tuple[str, ...], shop_map: str | None, **kw: Any) -> None:
    """TikTok videos through yt-dlp (videos, users, hashtags, URL files, saved info JSON).

    TARGETS: video URLs, tiktok:user:NAME (@NAME), tiktok:tag:NAME (#NAME), yt-dlp
    .info.json files or folders of them, or @FILE with one target per line.

    \b
    Example:
      mf-collect tiktok "https://www.tiktok.com/@user/video/123" --out data --shop-map shops.csv
      mf-collect tiktok fixtures/tiktok/ --out data --base-url http://127.0.0.1:8000
    """
    _run("tiktok", targets, shop_map=shop_map, **kw)


@collect.command("instagram")
@_common
@click.option(
    "--session-file",
    type=click.Path(dir_okay=False),
    help="instaloader session file (kept 0600; never printed).",
)
@click.option("--login", help="Instagram user name of the session file.")
def instagram(targets: tuple[str, ...], session_file: str | None, login: str | None, **kw: Any) -> None:
    """Instagram posts through instaloader (carousel: video + candidate shop images).

    TARGETS: saved structure .json files or folders, profile:NAME (@NAME), hashtag:TAG
    (#TAG), shortcode:CODE or post URLs, or @FILE with one target per line.

    \b
    Example:
      mf-collect instagram fixtures/instagram/ --out data --base-url http://127.0.0.1:8000
      mf-collect instagram profile:nora.wears --session-file ~/.mf/ig-session --login me --out data
    """
    _run("instagram", targets, session_file=session_file, login=login, **kw)


@collect.command("urls")
@_common
def urls(targets: tuple[str, ...], **kw: Any) -> None:
    """Any video URL yt-dlp understands, from URL arguments or list files.

    A list file has one `URL [SHOP_IMAGE]` per line (separated by space, tab or comma;
    SHOP_IMAGE is a URL or a file relative to the list); `#` starts a comment.

    \b
    Example:
      mf-collect urls videos.txt --out data --workers 8
    """
    _run("urls", targets, **kw)


def main() -> None:
    run_main(collect)
