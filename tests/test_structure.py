"""The layers of docs/architecture.md, as tests over the import graph of src/ledger: the
store knows nothing of the domain or of anything built on it; the doors (`cli`, `web`)
reach the store and the event runner only through `ledger.app`; and no module imports
itself back through others.

The graph is read from the source with `ast`, every import statement counted wherever it
stands (inside a function, under `if TYPE_CHECKING:`), relative imports resolved, and
`importlib.import_module("ledger....")` with a literal name counted too: a deferred import
is still a dependency. The checker itself is tested on small fake packages, so each rule
is seen to fail on a graph that breaks it."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "ledger"

STORE_MUST_NOT_REACH = ["ledger.domain", "ledger.app", "ledger.cli", "ledger.web",
                        "ledger.reports", "ledger.scenarios", "ledger.imports"]
DOORS = ["ledger.cli", "ledger.web"]
DOORS_MUST_NOT_REACH = ["ledger.store", "ledger.scenarios.runner"]
# The readers turn files into items and decide nothing: they sit below the application
# layer (which calls them), never above it, and never write.
READERS = ["ledger.scenarios", "ledger.imports"]
READERS_MUST_NOT_REACH = ["ledger.app", "ledger.store", "ledger.cli", "ledger.web"]
# The domain's rules know nothing of how they are stored, run or shown.
DOMAIN_MUST_NOT_REACH = ["ledger.store", "ledger.app", "ledger.cli", "ledger.web",
                         "ledger.reports", "ledger.scenarios", "ledger.imports"]


# The checker ------------------------------------------------------------------------

def _modules(root: Path) -> dict[str, Path]:
    """Every module of the package at `root`, by dotted name (a package by its own name)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imported_names(tree: ast.AST, name: str, is_package: bool) -> list[tuple[str, str]]:
    """(module, attribute) for every import in the tree, relative ones made absolute;
    attribute is what a `from` import takes (it may itself be a module)."""
    package = name if is_package else name.rpartition(".")[0]
    found: list[tuple[str, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found += [(base, alias.name) for alias in node.names]
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                   or (isinstance(node.func, ast.Name)
                       and node.func.id in ("import_module", "__import__")))):
            found.append((node.args[0].value, ""))
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports."""
    modules = _modules(root)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets = set()
        for module, attribute in _imported_names(tree, name, path.name == "__init__.py"):
            if attribute and f"{module}.{attribute}" in modules:
                targets.add(f"{module}.{attribute}")
            elif module in modules:
                targets.add(module)
            else:  # `import ledger.x.y` of a module this package does not have: nearest
                while module and module not in modules:
                    module = module.rpartition(".")[0]
                if module:
                    targets.add(module)
        targets.discard(name)  # `from . import x` inside a package's own __init__
        graph[name] = targets
    return graph


def _under(name: str, prefixes: list[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def forbidden(graph: dict[str, set[str]], importers: list[str],
              targets: list[str]) -> list[tuple[str, str]]:
    """Every edge from a module under `importers` to a module under `targets`."""
    return sorted((a, b) for a, bs in graph.items() if _under(a, importers)
                  for b in bs if _under(b, targets))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each set of modules that import one another round a loop (Tarjan's strongly
    connected components of more than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:  # iterative, so a deep graph cannot hit the recursion limit
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


# The rules, on the real package ------------------------------------------------------

def _graph() -> dict[str, set[str]]:
    graph = import_graph(SRC)
    # The checker sees the package: without this, an empty graph would pass every rule.
    assert len(graph) > 40 and sum(map(len, graph.values())) > 100
    return graph


def test_the_store_never_imports_the_domain_or_anything_built_on_it():
    found = forbidden(_graph(), ["ledger.store"], STORE_MUST_NOT_REACH)
    assert found == [], "\n".join(f"{a} imports {b}" for a, b in found)


def test_the_doors_reach_the_store_and_the_runner_only_through_app():
    graph = _graph()
    found = forbidden(graph, DOORS, DOORS_MUST_NOT_REACH)
    assert found == [], "\n".join(f"{a} imports {b}" for a, b in found)
    # ...and they do go through it: each door imports the application layer.
    for door in DOORS:
        assert forbidden(graph, [door], ["ledger.app"]), f"{door} never imports ledger.app"


def test_the_readers_only_read_files_into_items_below_the_application_layer():
    found = forbidden(_graph(), READERS, READERS_MUST_NOT_REACH)
    assert found == [], "\n".join(f"{a} imports {b}" for a, b in found)


def test_the_domain_never_imports_storage_doors_or_reports():
    found = forbidden(_graph(), ["ledger.domain"], DOMAIN_MUST_NOT_REACH)
    assert found == [], "\n".join(f"{a} imports {b}" for a, b in found)


def test_no_module_imports_itself_back_through_others():
    found = cycles(_graph())
    assert found == [], "\n".join(" <-> ".join(c) for c in found)


# The checker, on small fake packages -------------------------------------------------

def _fake(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "ledger"
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body), encoding="utf-8")
    for folder in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        (folder / "__init__.py").touch()
    return root


def test_the_checker_finds_a_store_that_imports_the_domain_inside_a_function(tmp_path):
    root = _fake(tmp_path, {
        "store/repo.py": """\
            from ledger.core import amounts
            def post():
                from ..domain.isf import rules  # relative, deferred: still a dependency
            """,
        "store/verify.py": "import importlib\nimportlib.import_module('ledger.reports.x')\n",
        "core/amounts.py": "",
        "domain/isf.py": "rules = 1\n",
        "reports/x.py": "",
    })
    graph = import_graph(root)
    assert graph["ledger.store.repo"] == {"ledger.core.amounts", "ledger.domain.isf"}
    assert forbidden(graph, ["ledger.store"], STORE_MUST_NOT_REACH) == [
        ("ledger.store.repo", "ledger.domain.isf"), ("ledger.store.verify", "ledger.reports.x")]
    # A store that imports only the core passes.
    clean = _fake(tmp_path / "clean", {"store/repo.py": "from ledger.core import amounts\n",
                                       "core/amounts.py": ""})
    assert forbidden(import_graph(clean), ["ledger.store"], STORE_MUST_NOT_REACH) == []


def test_the_checker_finds_a_door_that_goes_round_app(tmp_path):
    root = _fake(tmp_path, {
        "cli/isf.py": """\
            from ledger.app import submit
            def advance():
                from ledger.scenarios.runner import apply_event
            """,
        "web/app.py": "from ledger import store\nfrom ledger.app import submit\n",
        "app/submit.py": "from ledger.store.repo import DbStore\n",
        "scenarios/runner.py": "",
        "store/repo.py": "",
    })
    graph = import_graph(root)
    assert forbidden(graph, DOORS, DOORS_MUST_NOT_REACH) == [
        ("ledger.cli.isf", "ledger.scenarios.runner"), ("ledger.web.app", "ledger.store")]
    assert forbidden(graph, ["ledger.cli"], ["ledger.app"]) == [
        ("ledger.cli.isf", "ledger.app.submit")]
    # app may use the store: only the doors are held to it.
    assert ("ledger.app.submit", "ledger.store.repo") not in forbidden(
        graph, DOORS, DOORS_MUST_NOT_REACH)


def test_the_checker_finds_a_cycle_closed_by_a_deferred_import(tmp_path):
    root = _fake(tmp_path, {
        "web/app.py": "from ledger.web.pages import page\n",
        "web/pages.py": """\
            from .scope import readable
            def page():
                from .app import routes  # closes web.app -> web.pages -> web.app
            """,
        "web/scope.py": "",
        "core/a.py": "from ledger.core import b\n",
        "core/b.py": "from . import c\n",
        "core/c.py": "import ledger.core.a\n",
    })
    assert cycles(import_graph(root)) == [
        ["ledger.core.a", "ledger.core.b", "ledger.core.c"],
        ["ledger.web.app", "ledger.web.pages"]]
    clean = _fake(tmp_path / "clean", {"web/app.py": "from ledger.web.pages import page\n",
                                       "web/pages.py": "from .scope import readable\n",
                                       "web/scope.py": ""})
    assert cycles(import_graph(clean)) == []
