"""The drawn layering (README, "Architecture") is what the imports do.

Every ``import`` statement of the toolkit's packages, including imports inside functions, is
read with ``ast`` and mapped to a layer:

    4  movingfashion.app                 the ``mf`` group and the demo orchestrator
                                         (and ``python -m movingfashion``)
    3  movingfashion.world               the synthetic world, its truth and its evaluators
    2  collectors | cleaning | annotations   the pipeline stages (peers)
    1  movingfashion (everything else)   the library: media, models, DeepFashion2, dataset, SEAM
    0  schemas                           contracts, official JSON, catalog store

An import may go to its own unit or to a lower layer; never up, and never sideways between
two stages. Project modules are never loaded by dotted-path strings (``import_module``), so
every arrow is visible to this test. Separately, the module graph has no import cycle
between packages.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("schemas", "movingfashion", "collectors", "cleaning", "annotations")


def unit_of(module: str) -> tuple[int, str] | None:
    """(layer, unit name) of a dotted module name, or None for third-party modules."""
    top = module.split(".")[0]
    if top not in PACKAGES:
        return None
    if top == "schemas":
        return 0, "schemas"
    if top in ("collectors", "cleaning", "annotations"):
        return 2, top
    if module in ("movingfashion.app", "movingfashion.__main__") or module.startswith("movingfashion.app."):
        return 4, "movingfashion.app"
    if module == "movingfashion.world" or module.startswith("movingfashion.world."):
        return 3, "movingfashion.world"
    return 1, "movingfashion"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[str, int]]:
    """(imported module, line) for every import statement in a file (relative ones resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    mod = module_name(path)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((target, node.lineno))
            # ``from pkg import submodule`` imports the submodule too
            out += [
                (f"{target}.{a.name}", node.lineno)
                for a in node.names
                if unit_of(target) and existing_module(f"{target}.{a.name}") == f"{target}.{a.name}"
            ]
    return out


def project_files() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def existing_module(name: str) -> str | None:
    """The longest prefix of ``name`` that is a module or package of the project."""
    parts = name.split(".")
    while parts:
        base = ROOT.joinpath(*parts)
        if base.with_suffix(".py").is_file() or (base / "__init__.py").is_file():
            return ".".join(parts)
        parts = parts[:-1]
    return None


def test_imports_never_run_up_or_sideways():
    bad = []
    for path in project_files():
        src = unit_of(module_name(path))
        for target, line in imports_of(path):
            dst = unit_of(target)
            if dst is None or dst[1] == src[1]:
                continue
            if dst[0] >= src[0]:
                where = f"{path.relative_to(ROOT)}:{line}"
                bad.append(f"{where} ({src[1]}, layer {src[0]}) imports {target} ({dst[1]}, layer {dst[0]})")
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_no_project_module_is_loaded_by_string():
    bad = []
    for path in project_files():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                fn = node.func
                name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
                if name in ("import_module", "__import__") and node.args:
                    arg = node.args[0]
                    if isinstance(arg, ast.Constant) and str(arg.value).split(".")[0] not in PACKAGES:
                        continue  # a third-party optional import by name
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bad, (
        "project modules loaded by dotted-path strings (arrows hidden from the layering):\n" + "\n".join(bad)
    )


def test_no_import_cycle_between_packages():
    """Packages = folders with an __init__.py (movingfashion.media, cleaning, ...)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in project_files():
        src_pkg = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
        for target, _ in imports_of(path):
            found = existing_module(target) if unit_of(target) else None
            if not found:
                continue
            is_pkg = (ROOT.joinpath(*found.split(".")) / "__init__.py").is_file()
            dst_pkg = found if is_pkg else found.rpartition(".")[0]
            # a package importing its own subpackage (or the reverse) is one place
            if (
                dst_pkg
                and dst_pkg != src_pkg
                and not (dst_pkg.startswith(src_pkg + ".") or src_pkg.startswith(dst_pkg + "."))
            ):
                graph[src_pkg].add(dst_pkg)
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                cycles.append(" -> ".join(stack[stack.index(m) :] + [m]))
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    assert not cycles, "import cycles between packages:\n" + "\n".join(cycles)


def imported_modules(path: Path, *, lazy: bool) -> list[str]:
    """The project modules a file imports: at module level (and in module-level ``if``/``try``
    blocks) and, with ``lazy``, also inside functions and classes; never under
    ``if TYPE_CHECKING:`` (not executed). ``from pkg import submodule`` counts the submodule
    only (the package is already initialised as its parent)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    mod = module_name(path)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out: list[str] = []

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If):
                test = node.test
                name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", "")
                if name != "TYPE_CHECKING":
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Import):
                out.extend(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if not unit_of(target):
                    continue
                subs = [f"{target}.{a.name}" for a in node.names]
                subs = [s for s in subs if existing_module(s) == s]
                out.extend(subs if len(subs) == len(node.names) else [target, *subs])
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                if lazy:
                    visit(node.body)
            else:  # try/with/for/while/match blocks at this level run with it
                for field in ("body", "orelse", "finalbody"):
                    visit(getattr(node, field, []) or [])
                for handler in getattr(node, "handlers", []) or []:
                    visit(handler.body)
                for case in getattr(node, "cases", []) or []:
                    visit(case.body)

    visit(tree.body)
    return [found for t in out if unit_of(t) and (found := existing_module(t))]


def find_cycles(graph: dict[str, set[str]]) -> list[str]:
    cycles: list[str] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                cycles.append(" -> ".join(stack[stack.index(m) :] + [m]))
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    return cycles


def test_no_module_level_import_cycle():
    """No module imports itself again through module-level imports (``a -> b -> a``): registries
    hold the classes they list, and the classes never import their registry back."""
    graph = {module_name(p): set(imported_modules(p, lazy=False)) - {module_name(p)} for p in project_files()}
    cycles = find_cycles(graph)
    assert not cycles, "module import cycles:\n" + "\n".join(cycles)


def test_no_import_cycle_even_through_lazy_imports():
    """The same with the imports inside functions: laziness is for speed, not to hide a cycle
    (a config validating itself through the registry that imports the config, ...)."""
    graph = {module_name(p): set(imported_modules(p, lazy=True)) - {module_name(p)} for p in project_files()}
    cycles = find_cycles(graph)
    assert not cycles, "module import cycles through lazy imports:\n" + "\n".join(cycles)
