"""The studio's import rules, read from the source with `ast` (nothing is imported).

A panel (a module of app/studio/panels) never imports another panel: what panels share goes
through app.studio.feature (Shared) and app.studio.service. And app/studio has no import
circle, counting imports inside functions too (a late import that dodges a circle is one).
"""

import ast
from pathlib import Path


def _studio_import_graph() -> dict[str, set[str]]:
    """Each app.studio module -> the app.studio modules it imports (anywhere in its body)."""
    repo = Path(__file__).resolve().parents[1]
    files = {
        ".".join(path.relative_to(repo).with_suffix("").parts).removesuffix(".__init__"): path
        for path in (repo / "app" / "studio").rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # a relative import
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, base]) if base else ".".join(parts)
                # `from a.b import c` imports a.b.c when c is a module, else a.b
                names = [f"{base}.{alias.name}" for alias in node.names] + [base]
            else:
                continue
            found |= {name for name in names if name in files and name != module}
        graph[module] = found
    return graph


def _is_studio_panel(module: str) -> bool:
    return module.startswith("app.studio.panels.")


def test_no_panel_imports_another_panel():
    graph = _studio_import_graph()
    panels = [module for module in graph if _is_studio_panel(module)]
    assert len(panels) >= 8, panels  # the walk found the panels
    crossings = {
        (module, imported)
        for module in panels
        for imported in graph[module]
        if _is_studio_panel(imported)
    }
    assert crossings == set()


def test_the_studio_has_no_import_circles():
    graph = _studio_import_graph()
    circles: list[list[str]] = []
    state: dict[str, str] = {}  # "open" while on the path, "done" after

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                circles.append([*path[path.index(imported) :], imported])
            elif imported not in state:
                visit(imported, [*path, imported])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert circles == []
