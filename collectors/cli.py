"""``mf-collect``: gather video-shop pairs from the sources into the catalog."""

from __future__ import annotations

import click

from schemas.cli_support import run_main


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def collect() -> None:
    """Collect video-shop pairs into the catalog.

    \b
    Examples:
      mf-collect netaporter --base-url http://127.0.0.1:8000 --out data --catalog data/catalog.sqlite
      mf-collect tiktok "https://www.tiktok.com/@user/video/123" --out data --catalog data/catalog.sqlite
    """


def main() -> None:
    run_main(collect)
