"""Every command line the README, docs/ and the commands' help texts show names a command and
options that exist.

The command lines are the inline code spans and the lines of shell code blocks that start with
``mf``, ``mf-collect`` or ``mf-tracklets``; each is resolved through the click groups
(:data:`tests.test_cli_conventions.ENTRY_POINTS`) and each ``--option`` it passes must be one of
that command's. A renamed option or command whose docs were not updated fails here.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from tests.test_cli_conventions import COMMAND_PATHS, ENTRY_POINTS

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_START = re.compile(r"(?:^|[\s/(])((?:mf|mf-collect|mf-tracklets) [^#|;&]*)")


def command_lines(text: str) -> list[str]:
    """The command lines of one Markdown text: code spans, and the lines of fenced and indented
    code blocks (a line ending in a backslash joined with the next)."""
    out = [m.group(1) for m in re.finditer(r"`((?:mf|mf-collect|mf-tracklets) [^`]+)`", text)]
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            m = _START.search(line.strip())
            if m:
                out.append(m.group(1))
    # indented code blocks (the README's): a line of four spaces, then the command
    out += re.findall(r"^ {4,}((?:mf|mf-collect|mf-tracklets) [^\n]*)", text.replace("\\\n", " "), re.M)
    return [re.split(r"\s[#|;&]|\s>", c)[0].replace("\n", " ") for c in out]


def _resolve(tokens: list[str]) -> tuple[click.Command, list[str], list[str]]:
    """The command ``tokens`` names, its path, and the arguments after it."""
    cmd: click.Command = ENTRY_POINTS[tokens[0]]
    path, i = [tokens[0]], 1
    while isinstance(cmd, click.Group) and i < len(tokens):
        sub = cmd.get_command(click.Context(cmd), tokens[i])
        if sub is None:
            break
        cmd, i = sub, i + 1
        path.append(tokens[i - 1])
    return cmd, path, tokens[i:]


def problems(line: str) -> list[str]:
    """What ``line`` names that does not exist (empty: a command line the CLIs accept by name)."""
    try:
        tokens = shlex.split(line)
    except ValueError:  # a quote the span does not close: prose, not a command line
        return []
    if not tokens or tokens[0] not in ENTRY_POINTS:
        return []
    cmd, path, rest = _resolve(tokens)
    if isinstance(cmd, click.Group):
        word = rest[0] if rest else ""
        # a placeholder (SOURCE, ...), prose ("mf splits, mf publish") or an entry-point line
        if re.fullmatch(r"[a-z][a-z0-9-]*", word) and word not in ("and", "or", "the"):
            return [f"{' '.join(path)} has no command {word!r}"]
        return []
    known = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}
    named = [o for t in rest if t.startswith("--") for o in t.split("=")[0].split("/")]
    return [f"{' '.join(path)} has no option {o}" for o in named if o not in known]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_command_line_of_the_docs_exists(doc):
    lines = command_lines(doc.read_text(encoding="utf-8"))
    assert lines or doc.name != "README.md"
    bad = [f"{line!r}: {p}" for line in lines for p in problems(line)]
    assert not bad, "\n".join(bad)


def test_a_renamed_option_or_command_is_caught():
    """The check can fail: an option or command the CLIs lack is named."""
    text = (
        "Run `mf publish --out D --no-such-option 1` then\n```bash\nmf no-such-command --x\n```\n"
        "or\n\n    mf-tracklets build --dataset D \\\n      --stirde 2   # a typo\n"
    )
    found = [p for line in command_lines(text) for p in problems(line)]
    assert found == [
        "mf publish has no option --no-such-option",
        "mf has no command 'no-such-command'",
        "mf-tracklets build has no option --stirde",
    ]


def _help_examples(cmd: click.Command) -> str:
    """The lines of ``cmd``'s help text, as an indented code block (its examples: the lines that
    start with a command)."""
    return "\n".join("    " + line.strip() for line in (cmd.help or "").splitlines() if line.strip())


@pytest.mark.parametrize("path", sorted(COMMAND_PATHS))
def test_every_example_of_a_help_text_exists(path):
    lines = command_lines(_help_examples(COMMAND_PATHS[path]))
    bad = [f"{line!r}: {p}" for line in lines for p in problems(line)]
    assert not bad, "\n".join(bad)
