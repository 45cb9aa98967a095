"""``mf config``: the settings a stage uses (``show``) and the config reference (``reference``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from schemas.cli_support import EXIT_STATUS, HELP, emit, json_option, run_main

from .config_reference import STAGES

_DOCS = "docs/config.md"


@click.group(context_settings=HELP, epilog=EXIT_STATUS)
def config() -> None:
    """The keys, defaults and values in effect of every stage's config.

    Stages: collect (mf-collect), clean (mf clean / splits / publish), tracklets
    (mf-tracklets build), world (mf world generate), train (mf train), asymnet
    (mf train --method asymnet), evaluate (mf evaluate's options).

    \b
    Examples:
      mf config show clean                              # the defaults, as YAML
      mf config show clean --config clean.yaml          # the file merged over them, checked
      mf config show train --config t.yaml --json
      mf config reference --out docs/config.md          # every key, type, default and bound
      mf config reference --out docs/config.md --check  # exit 1 when the file is stale (CI)
      mf config reference --out -                       # print it
    """


def _yaml(values: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(values, sort_keys=False, allow_unicode=True, width=100).rstrip("\n")


@config.command("show", context_settings=HELP, epilog=EXIT_STATUS)
@click.argument("stage", type=click.Choice(list(STAGES)))
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="YAML/JSON config file of that stage, merged over the defaults and checked as the stage's "
    "command checks it (not for evaluate, which reads no config file).",
)
@json_option
def show(stage: str, config_path: str | None, as_json: bool) -> None:
    """Print the values a stage uses: its defaults, overridden by --config FILE.

    The output (YAML; --json: one JSON document) holds every key. For a stage that reads a
    config file (every stage but evaluate) it is itself a valid config file of that stage;
    evaluate reads none: its values are mf evaluate's options, and --config is refused for it
    (exit 2). A bad file is refused as the stage's command refuses it (exit 2).

    \b
    Examples:
      mf config show clean
      mf config show clean --config clean.yaml
      mf config show world --config world.yaml --json
      mf config show clean > clean.yaml                 # a complete file to edit
    """
    entry = STAGES[stage]
    if config_path is not None and not entry.file:
        raise click.UsageError(f"{stage} reads no config file: its settings are the command's options")
    values = entry.load_config(config_path).model_dump(mode="json")
    emit(values, as_json, _yaml, sort_keys=False)


@config.command("reference", context_settings=HELP, epilog=EXIT_STATUS)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help=f"Markdown file to write (the repository's is {_DOCS}); - prints it. Required.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing: exit 1 when --out differs from the reference the models give (for CI).",
)
@json_option
def reference(out: str, check: bool, as_json: bool) -> None:
    """Write the config reference: every key of every stage, its type, default, bounds and
    description, generated from the config models.

    \b
    Examples:
      mf config reference --out docs/config.md
      mf config reference --out docs/config.md --check   # exit 1 when stale
      mf config reference --out - | less
    """
    from .config_reference import render_reference

    text = render_reference()
    if out == "-":
        if check:
            raise click.BadParameter("--check compares with a file, not -", param_hint="'--out'")
        emit({"reference": text}, as_json, lambda r: r["reference"].rstrip("\n"))
        return
    path = Path(out)
    if check:
        _check(path, text, as_json)
        return
    if not path.parent.is_dir():
        raise click.BadParameter(f"folder {path.parent} does not exist", param_hint="'--out'")
    from schemas.atomic import write_if_changed

    written = write_if_changed(path, text.encode("utf-8"))
    emit(
        {"out": out, "written": written},
        as_json,
        lambda r: f"{out}: {'written' if written else 'up to date'}",
    )


def _check(path: Path, text: str, as_json: bool) -> None:
    """Exit 1 with one stderr line when ``path`` does not hold exactly ``text`` (2 when it is
    not a file)."""
    if not path.is_file():
        raise click.BadParameter(f"{path} is not a file to check", param_hint="'--out'")
    if path.read_bytes() == text.encode("utf-8"):  # any other bytes (not UTF-8 too) are stale
        emit({"out": str(path), "up_to_date": True}, as_json, lambda r: f"{path}: up to date")
        return
    if as_json:
        emit({"out": str(path), "up_to_date": False}, as_json)
    click.echo(f"{path}: stale; regenerate it with: mf config reference --out {path}", err=True)
    sys.exit(1)


def main() -> None:
    run_main(config)


if __name__ == "__main__":
    main()
