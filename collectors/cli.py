"""``mf-collect``: gather video-shop pairs from the sources into the catalog.

One subcommand per registered source (:func:`collectors.base.registry`), built from what the
source class declares: its help, target forms, own options and examples. Heavy libraries
(yt-dlp, instaloader, requests) load only when a collection runs, so ``--help`` is fast.
"""

from __future__ import annotations

import inspect
import logging
import sys
from typing import Any

import click

from collectors.base import Source
from collectors.config import MAX_WORKERS
from collectors.registry import registry
from movingfashion.executors.options import executor_params
from schemas.cli_support import HELP, emit, exit_if_failed, log_to_stderr, plain, run_main

EXIT_STATUS = """\b
Exit status: 0 all items done, 1 some items failed or were rejected, or a page could
not be discovered (listed in the output and in --json "problems", the other pages still
read), or a local fault (disk full, no permission, no file handle left) stopped the run
early: named with its path in one line and in --json "stopped", retried by a rerun; 2
usage or input error (nothing is created; a damaged catalog is named with the way to
recover it), 130 interrupted (rerun to resume)."""


def _check_base_url(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """Refuse a ``--base-url`` that is not an http(s) URL with a host: without a scheme it was read
    as a path, and every request failed ``host_not_allowed`` with no word about the option."""
    if value is None:
        return None
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # an unclosed [IPv6] bracket, a bad port
        ok = False
    if not ok:
        raise click.BadParameter(
            f"{value!r} is not an http(s) URL with a host: give the site's scheme and host, "
            "e.g. --base-url http://127.0.0.1:8765 (the address mf world serve prints)",
            param_hint="'--base-url'",
        )
    return value


def _group_help() -> str:
    examples = "\n".join(f"  {cls.examples[0]}" for cls in registry().values() if cls.examples)
    return (
        "Collect video-shop pairs into the catalog.\n\n"
        "Files land in ROOT/<source>/<source_id>/<kind>.<ext>; items and assets are recorded in "
        "the catalog (default ROOT/catalog.sqlite) with SHA-256, metadata, status and reasons. "
        "Reruns skip what is done before any request, and items that failed for a reason that looks "
        "permanent in max_failed_runs runs (config, 3): given up, tried again with --retry-given-up.\n\n"
        f"{EXIT_STATUS}\n\n"
        "\b\nExamples (a local world: `mf world serve --world world --port 8765`):\n"
        + examples
        + "\n\nAdd --debug to any command to see a traceback on errors."
    )


def _common_params() -> list[click.Parameter]:
    return [
        click.Argument(["targets"], nargs=-1),
        click.Option(
            ["--root"],
            type=click.Path(file_okay=False),
            help="Collection folder (files go to ROOT/<source>/<id>/). Required.",
        ),
        click.Option(["--out"], type=click.Path(file_okay=False), hidden=True, help="Old name of --root."),
        click.Option(
            ["--catalog"],
            type=click.Path(dir_okay=False),
            help="SQLite catalog [default: ROOT/catalog.sqlite].",
        ),
        click.Option(
            ["--workers"],
            type=click.IntRange(1, MAX_WORKERS),
            default=None,
            help="Items collected at once [default: config, 4].",
        ),
        click.Option(["--limit"], type=click.IntRange(1), default=None, help="Stop after this many items."),
        click.Option(
            ["--dry-run"],
            is_flag=True,
            help="Discover and list the items a run would fetch, and apart those it would skip "
            "(collected or rejected for good); fetch and create nothing (an existing catalog is only read).",
        ),
        click.Option(
            ["--config"],
            type=click.Path(dir_okay=False, exists=True),
            help="YAML with http/netaporter/tiktok/instagram/urls/local settings.",
        ),
        click.Option(
            ["--ignore-robots"], is_flag=True, help="Do not honour robots.txt (logged as a warning)."
        ),
        click.Option(
            ["--base-url"],
            callback=_check_base_url,
            help="Point every host of the source at one site (a mirror, the local world); URLs on "
            "the real site's hosts are read on it.",
        ),
        *executor_params(),
        click.Option(
            ["--retry-rejected"],
            is_flag=True,
            help="Also retry items an earlier run rejected (refused content, 404, ...) and those "
            "mf clean rejected for a damaged video or shop image file (downloaded again, unless its "
            "source says it still serves the same file: then the item stays rejected, listed as "
            "still_damaged); other rejections by cleaning or review stay, and so do items given up "
            "(--retry-given-up).",
        ),
        click.Option(
            ["--force-refetch"],
            is_flag=True,
            help="With --retry-rejected: download a damaged file again, and hand its item to mf clean, "
            "even when its source still serves the same file (same ETag or Last-Modified and size, or "
            "the same bytes).",
        ),
        click.Option(
            ["--retry-given-up"],
            is_flag=True,
            help="Also retry items given up after failing for a reason that looks permanent in "
            "max_failed_runs runs (config, 3; reason gave_up:<reason>); each is tried again with a "
            "fresh count (given up again only after max_failed_runs more such runs), a success "
            "clears its count.",
        ),
        click.Option(
            ["--recheck"],
            is_flag=True,
            help="Ask the site again about every item of this source collected before (no "
            "TARGETS, nothing downloaded): items it no longer has (404/410, post deleted, product "
            "page gone) are rejected, so the next mf publish drops them (takedowns).",
        ),
        click.Option(
            ["--progress/--no-progress"],
            default=None,
            help="Progress on stderr [default: a bar on a terminal, a line every 10 s in a log or pipe].",
        ),
        click.Option(["-v", "--verbose"], count=True, help="More log output (-vv for debug)."),
        click.Option(["--json", "as_json"], is_flag=True, help="Print the summary as JSON."),
    ]


def _source_params(cls: type[Source]) -> list[click.Parameter]:
    params: list[click.Parameter] = []
    for opt in cls.options:
        kind: Any = click.Path(dir_okay=False) if opt.kind == "file" else str
        params.append(click.Option([opt.flag, opt.keyword], type=kind, default=None, help=opt.help))
    return params


def _help(cls: type[Source]) -> str:
    doc = inspect.cleandoc(cls.__doc__ or str(cls.name))
    forms = "\n".join(f"  {f.example:<40} {f.help}" for f in cls.target_forms)
    examples = "\n".join(f"  {e}" for e in cls.examples)
    if cls.examples:  # every source: items given up after too many failed runs, tried again
        examples += f"\n  {_retry_example(cls.examples[0])}"
    return f"{doc}\n\n\b\nTARGETS, one or more of:\n{forms}\n\n\b\nExamples:\n{examples}"


def _retry_example(example: str) -> str:
    """``example`` (a source's first) retrying the items given up, without its --dry-run/--json."""
    words = [w for w in example.split() if w not in ("--dry-run", "--json")]
    return " ".join([*words, "--retry-given-up"])


def _command(cls: type[Source]) -> click.Command:
    def callback(**kw: Any) -> None:
        _run(cls, **kw)

    return click.Command(
        str(cls.name),
        callback=callback,
        params=[*_common_params(), *_source_params(cls)],
        help=_help(cls),
        short_help=inspect.cleandoc(cls.__doc__ or "").split("\n", 1)[0],
        epilog=EXIT_STATUS,
        context_settings=HELP,
    )


def _run(
    cls: type[Source],
    *,
    targets: tuple[str, ...],
    root: str | None,
    out: str | None,
    catalog: str | None,
    workers: int | None,
    limit: int | None,
    dry_run: bool,
    config: str | None,
    ignore_robots: bool,
    base_url: str | None,
    executor: str | None,
    ray_address: str | None,
    retry_rejected: bool,
    retry_given_up: bool,
    force_refetch: bool,
    recheck: bool,
    progress: bool | None,
    verbose: int,
    as_json: bool,
    **options: Any,
) -> None:
    if out is not None:
        if root is not None and root != out:
            raise click.UsageError("--out is the old name of --root: give one of them")
        click.echo("warning: --out is deprecated, use --root (the collection folder)", err=True)
        root = out
    if root is None:
        raise click.UsageError("Missing option '--root' (the collection folder).")

    from collectors.api import collect
    from collectors.config import load_collect_config
    from movingfashion.media.logs import keep_native_logs

    log_to_stderr([logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)])
    if verbose < 2 and not keep_native_logs():  # FFmpeg's own complaints: the item's reason says it
        logging.getLogger("libav").setLevel(logging.CRITICAL)
    cfg = load_collect_config(config, base_url=base_url, ignore_robots=ignore_robots, workers=workers)
    if executor:
        cfg = cfg.model_copy(update={"executor": executor})
    summary = collect(
        str(cls.name),
        list(targets),
        root=root,
        catalog=catalog,
        cfg=cfg,
        workers=cfg.workers,
        limit=limit,
        dry_run=dry_run,
        retry_rejected=retry_rejected,
        retry_given_up=retry_given_up,
        force_refetch=force_refetch,
        show_progress=progress,
        ray_address=ray_address,
        recheck=recheck,
        **options,
    )
    # like every command's --json: an "executor" block only when a remote executor ran the items
    result = summary if summary.executor else {k: v for k, v in plain(summary).items() if k != "executor"}
    emit(result, as_json, lambda _: summary.human())
    if summary.interrupted:
        click.echo("interrupted: state is saved, rerun the same command to resume", err=True)
        sys.exit(130)
    if summary.stopped:
        click.echo(summary.stopped["message"], err=True)
        sys.exit(1)
    if recheck:  # gone items are what a recheck is for: only unanswered ones fail the run
        exit_if_failed(
            summary.failed, note=None if as_json else f"{summary.failed} not answered: rerun to ask again"
        )
        return
    note = (
        f"{summary.failed} failed, {summary.rejected} rejected (listed above; a rerun retries "
        "the failed ones, --retry-rejected the rejected ones"
        + (", --retry-given-up the given-up ones)" if summary.given_up else ")")
    )
    # rejected items count as failed for the exit status; with --json they are in "problems"
    exit_if_failed(summary.failed + summary.rejected, note=None if as_json else note)


@click.group(help=_group_help(), context_settings=HELP)
@click.version_option(package_name="movingfashion-toolkit", prog_name="mf-collect")
def collect() -> None:
    pass


for _cls in registry().values():
    collect.add_command(_command(_cls))


def main() -> None:
    run_main(collect)


if __name__ == "__main__":  # python -m collectors.cli, as mf-collect
    main()
