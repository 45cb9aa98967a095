"""The source registry: every source declares a name, target forms, a config section, options,
examples and has its own test module; the CLI and the API take sources from it."""

from __future__ import annotations

import ast
import inspect
import shlex
from pathlib import Path

import click
import pytest

from collectors.base import Source
from collectors.cli import collect
from collectors.config import CollectConfig
from collectors.registry import registry, source_class
from movingfashion.executors import EXECUTORS
from schemas.errors import ConfigError, DataFormatError
from schemas.items import SourceName

HERE = Path(__file__).resolve().parent
COLLECTORS = HERE.parents[1] / "collectors"
SOURCES = sorted(registry().items())


def test_registry_holds_every_source_name():
    assert sorted(registry()) == sorted(str(s) for s in SourceName)
    assert all(issubclass(cls, Source) and not inspect.isabstract(cls) for cls in registry().values())
    with pytest.raises(ConfigError) as ei:
        source_class("myspace")
    assert "netaporter" in str(ei.value)


@pytest.mark.parametrize("name,cls", SOURCES)
def test_source_declares_name_forms_section_and_options(name, cls):
    assert str(cls.name) == name
    assert cls.config_section in CollectConfig.model_fields
    patterned = [f for f in cls.target_forms if f.pattern is not None]
    # a source of the user's own files reads only files and folders (LocalFiles): no pattern
    assert patterned or cls.name == SourceName.LOCAL, f"{name} declares no target pattern"
    for form in patterned:
        assert form.matches(form.example), (name, form)
    if patterned:
        cls.check_targets([f.example for f in patterned])  # its own examples are accepted
    with pytest.raises(DataFormatError) as ei:
        cls.check_targets(["@no/such/list.txt"])
    assert "no/such/list.txt" in str(ei.value) and "not found" in str(ei.value)
    params = inspect.signature(cls.__init__).parameters
    assert [o.keyword for o in cls.options] == [p for p in params if p not in ("self", "ctx")]


@pytest.mark.parametrize("name,cls", SOURCES)
def test_source_has_its_own_test_module(name, cls):
    """``tests/collectors/test_<name>.py`` collects that source (through ``collect`` or the CLI)."""
    path = HERE / f"test_{name}.py"
    assert path.is_file(), f"{name}: no {path.name}"
    tree = ast.parse(path.read_text())
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Name)
        and n.func.id in ("collect", "open_source")
        and n.args
        and isinstance(n.args[0], ast.Constant)
        and n.args[0].value == name
    ]
    tests = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
    assert calls and tests, f"{path.name} never collects {name}"


@pytest.mark.parametrize("name,cls", SOURCES)
def test_examples_parse_with_the_commands_options(name, cls):
    assert cls.examples, f"{name} has no help example"
    cmd = collect.commands[name]
    for line in cls.examples:
        argv = shlex.split(line)
        assert argv[:2] == ["mf-collect", name], line
        ctx = cmd.make_context(name, argv[2:])
        assert ctx.params["root"] == "data" and (ctx.params["targets"] or ctx.params["recheck"]), line
    help_text = cmd.get_help(click.Context(cmd, info_name=name))
    assert all(" ".join(e.split()) in " ".join(help_text.split()) for e in cls.examples)


def test_cli_choices_come_from_the_registries():
    assert sorted(collect.commands) == sorted(registry())
    for cmd in collect.commands.values():
        executor = next(p for p in cmd.params if p.name == "executor")
        assert list(executor.type.choices) == sorted(EXECUTORS)
        out = next(p for p in cmd.params if p.name == "out")
        assert out.hidden  # the old name of --root


def test_no_source_module_imports_another_source_or_privates():
    modules = {str(cls.name): Path(inspect.getfile(cls)).stem for cls in registry().values()}
    for stem in set(modules.values()):
        tree = ast.parse((COLLECTORS / f"{stem}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("collectors."):
                other = node.module.split(".")[1]
                assert other == stem or other not in modules.values(), f"{stem} imports {node.module}"
                assert not any(a.name.startswith("_") for a in node.names), f"{stem}: {ast.dump(node)}"
