"""The layering the README describes, checked on the source: no import cycles, the runner knows no domain.

Module-level imports, including those under ``TYPE_CHECKING`` (a type-only
import back is still a two-way dependency to understand); imports inside
functions are deliberate late bindings and are not edges here.
"""
from __future__ import annotations

import ast
from pathlib import Path

BACKEND = Path(__file__).resolve().parents[2]
PACKAGES = ("api", "core_engine", "audiobook", "storyflow", "workers")


def _module_name(path: Path) -> str:
    parts = path.relative_to(BACKEND).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(path: Path, name: str, modules: set[str]) -> set[str]:
    """Our modules ``path`` imports at module level. ``from pkg import submodule`` is an edge to the
    submodule only (Python imports the parent package first, but that is not a dependency of design)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in tree.body:
        if isinstance(node, (ast.If, ast.Try)):
            children = node.body
        else:
            children = [node]
        for child in children:
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    module = ".".join(base + ([child.module] if child.module else []))
                else:
                    module = child.module or ""
                names = [f"{module}.{alias.name}" for alias in child.names]
                found.update(n for n in names if n in modules)
                if any(n not in modules for n in names):
                    found.add(module)
    return found


def import_graph() -> dict[str, set[str]]:
    """``module -> modules of ours it imports at module level``."""
    modules = {}
    for package in PACKAGES:
        for path in (BACKEND / package).rglob("*.py"):
            if "tests" in path.parts or "migrations" in path.parts:
                continue
            modules[_module_name(path)] = path
    graph = {}
    for name, path in modules.items():
        graph[name] = {m for m in _top_level_imports(path, name, set(modules)) if m in modules and m != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "active"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "active":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return cycles


def test_the_graph_sees_real_edges():
    graph = import_graph()
    assert "api.tasks.journal" in graph["api.tasks.manager"]
    assert "api.tasks.state" in graph["api.tasks.progress"]


def test_no_import_cycles_between_our_modules():
    assert _cycles(import_graph()) == []


def test_the_task_runner_knows_no_domain():
    """api.tasks imports neither the services nor the engines: a new kind of task adds a service, not runner code."""
    graph = import_graph()
    for name, edges in graph.items():
        if name == "api.tasks" or name.startswith("api.tasks."):
            assert not {e for e in edges if e.startswith(("api.services", "core_engine", "audiobook", "api.views"))}, name


def test_the_audiobook_builder_and_engine_do_not_import_the_api():
    graph = import_graph()
    for name, edges in graph.items():
        if name.startswith(("audiobook", "core_engine")):
            assert not {e for e in edges if e.startswith("api")}, name


def test_the_synthesis_workers_know_neither_the_api_nor_the_database():
    """workers/ runs on machines that share only the broker: no api (models, services, tasks) import,
    at module level or inside a function."""
    for path in (BACKEND / "workers").rglob("*.py"):
        if "tests" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(("api", "django.db")), (path.name, node.module)
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith(("api", "django.db")) for a in node.names), path.name
