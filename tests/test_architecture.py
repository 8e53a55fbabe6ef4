"""The import rules of ARCHITECTURE.md, checked by walking every import in the tree with `ast`
(imports inside functions included; nothing is imported): the engine imports neither app nor
training, training does not import app, the engine's rooms import one way, no studio panel
imports another, bench does not import tests, and no module imports one that imports it back
(a late import that dodges a circle is still one)."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TREES = ("app", "engine", "training", "tests", "bench")
SHARED = {
    "engine",
    "engine.errors",
    "engine.messages",
    "engine.schema",
    "engine.metrics",
    "engine.prompts",
    "engine.text_hygiene",
    "engine.export",
}
# What each engine room may import besides the shared modules (and itself).
ROOMS = {
    "engine.models": set(),
    "engine.store": {"engine.models"},  # a project saves its LoadSettings
    "engine.writing": {"engine.models"},
    "engine.planning": {"engine.models", "engine.writing"},
    "engine.projects": {"engine.models", "engine.store", "engine.writing", "engine.planning"},
    "engine.review": {
        "engine.models",
        "engine.store",
        "engine.writing",
        "engine.planning",
        "engine.projects",
    },
}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    found = {}
    for tree in TREES:
        for path in (REPO / tree).rglob("*.py"):
            found[module_name(path)] = path
    return found


def imports_of(path: Path, name: str, known: dict[str, Path]) -> set[str]:
    """The modules of the tree that `path` imports (a name imported from a package counts as
    its submodule when there is one)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(path, name, known) for name, path in known.items()}


def room_of(module: str) -> str | None:
    return next((room for room in ROOMS if module == room or module.startswith(room + ".")), None)


def test_the_engine_imports_neither_app_nor_training_and_training_not_app():
    wrong = [
        (module, target)
        for module, targets in graph().items()
        for target in targets
        if (module.startswith("engine") and target.split(".")[0] in {"app", "training"})
        # training/recipes holds launch scripts, which may start the command line as the
        # shell recipes beside them do
        or (
            module.startswith("training")
            and not module.startswith("training.recipes")
            and target.split(".")[0] == "app"
        )
    ]
    assert wrong == []


def test_engine_rooms_import_one_way():
    wrong = []
    for module, targets in graph().items():
        room = room_of(module)
        if not module.startswith("engine"):
            continue
        for target in targets:
            if not target.startswith("engine") or target in SHARED:
                continue
            allowed = ROOMS.get(room, set()) | {room}
            if room is None:  # a shared module imports no room
                wrong.append((module, target))
            elif room_of(target) not in allowed:
                wrong.append((module, target))
    assert wrong == []


def test_no_panel_imports_another_panel():
    edges = graph()
    panels = [module for module in edges if module.startswith("app.studio.panels.")]
    assert len(panels) >= 8, panels  # the walk found the panels
    assert [
        (module, target)
        for module in panels
        for target in edges[module]
        if target.startswith("app.studio.panels.")
    ] == []


def test_bench_does_not_import_tests():
    assert [
        (module, target)
        for module, targets in graph().items()
        if module.startswith("bench")
        for target in targets
        if target.startswith("tests")
    ] == []


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(edges.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_one_that_imports_it_back():
    assert cycles(graph()) == []
