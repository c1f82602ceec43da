"""The shape of the code: no import cycles, and dependencies pointing one way.

Every `import` and `from … import` in bot/, handlers/ and storage/ counts, wherever it
is written (module level, inside a function, under `if TYPE_CHECKING:`): a cycle hidden
in a function is still a cycle. An import of `a.b.c` names the module a.b.c when it
exists, else the closest package above it (`from a.b import name` names a.b when
`name` is an attribute, a.b.name when it is a module). A package's `__init__.py` is the
package's own module, so what it re-exports are edges of the package.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "storage")
# The app factory wires the Bolt listeners into the app, so it is the one module of bot/
# that names handlers/ (`handlers.register_listeners`); nothing else in bot/ may.
COMPOSITION_ROOT = "bot.runtime.app"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


MODULES = _sources()


def _known(name: str) -> str | None:
    """The module `name` names: itself if it exists, else its closest package."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imported(module: str, source: str, *, is_package: bool) -> Iterator[str]:
    """Every name `module` imports, absolute, relative imports resolved."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            else:
                origin = node.module or ""
            for alias in node.names:
                yield f"{origin}.{alias.name}" if alias.name != "*" else origin


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        edges = set()
        source = path.read_text(encoding="utf-8")
        for name in _imported(module, source, is_package=path.name == "__init__.py"):
            target = _known(name)
            if target is not None and target != module:
                edges.add(target)
        graph[module] = edges
    return graph


GRAPH = _graph()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path that returns to its start) per strongly connected component
    of more than one module, by Tarjan's algorithm."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                connect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.add(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            connect(node)

    cycles = []
    for component in components:
        start = min(component)
        # Shortest way back to `start` inside the component (breadth first).
        previous: dict[str, str] = {}
        frontier = [start]
        found = None
        while frontier and found is None:
            following = []
            for node in frontier:
                for succ in sorted(graph[node] & component):
                    if succ == start:
                        found = node
                        break
                    if succ not in previous:
                        previous[succ] = node
                        following.append(succ)
                if found is not None:
                    break
            frontier = following
        path = [start]
        node = found
        while node is not None and node != start:
            path.insert(1, node)
            node = previous.get(node)
        cycles.append([*path, start])
    return cycles


def test_the_graph_sees_function_local_and_relative_imports():
    source = """
import storage.models
from bot.workflow import project_versions
from . import sibling
from ..slack.ids import RATIONALE_BLOCK

def later():
    from storage.queries import lock_item
    if True:
        import bot.audit.chain as chain
"""
    names = set(_imported("bot.workflow.thing", source, is_package=False))
    assert names == {
        "storage.models",
        "bot.workflow.project_versions",
        "bot.workflow.sibling",
        "bot.slack.ids.RATIONALE_BLOCK",
        "storage.queries.lock_item",
        "bot.audit.chain",
    }
    assert set(_imported("bot.workflow", "from . import values", is_package=True)) == {
        "bot.workflow.values"
    }
    assert _known("storage.models.Item") == "storage.models"  # an attribute: its module
    assert _known("bot.workflow.project_versions") == "bot.workflow.project_versions"


def test_the_cycle_finder_reports_the_path():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    cycles = _cycles(GRAPH)
    report = [
        f"{' -> '.join(cycle)}  (tangled with: {', '.join(sorted(_tangle(cycle[0])))})"
        for cycle in cycles
    ]
    assert not cycles, "import cycles:\n" + "\n".join(report)


def _tangle(start: str) -> set[str]:
    """The modules that `start` reaches and that reach it back (its cycle's component)."""

    def reach(graph: dict[str, set[str]]) -> set[str]:
        seen, todo = {start}, [start]
        while todo:
            for succ in graph.get(todo.pop(), ()):
                if succ not in seen:
                    seen.add(succ)
                    todo.append(succ)
        return seen

    reverse: dict[str, set[str]] = {}
    for module, targets in GRAPH.items():
        for target in targets:
            reverse.setdefault(target, set()).add(module)
    return reach(GRAPH) & reach(reverse)


def test_the_cycle_test_would_see_a_cycle_hidden_in_a_function():
    graph = {module: set(targets) for module, targets in GRAPH.items()}
    source = "def f():\n    from bot.workflow.review.answer import record_answer\n"
    for name in _imported("bot.workflow.decision.decide", source, is_package=False):
        graph["bot.workflow.decision.decide"].add(_known(name) or name)
    (cycle,) = _cycles(graph)
    assert cycle[0] == cycle[-1] and "bot.workflow.decision.decide" in cycle


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _violations(
    source: str, forbidden: tuple[str, ...], *, allowed: tuple[str, ...] = ()
) -> list[str]:
    found = []
    for module, targets in sorted(GRAPH.items()):
        if not _inside(module, source) or module in allowed:
            continue
        for target in sorted(targets):
            if any(_inside(target, package) for package in forbidden):
                found.append(f"{module} imports {target}")
    return found


def test_storage_knows_nothing_of_bot_or_handlers():
    assert _violations("storage", ("bot", "handlers")) == []


def test_bot_knows_nothing_of_handlers():
    assert _violations("bot", ("handlers",), allowed=(COMPOSITION_ROOT,)) == []
    named = {t for t in GRAPH[COMPOSITION_ROOT] if _inside(t, "handlers")}
    assert named <= {"handlers"}, f"{COMPOSITION_ROOT} imports {sorted(named)}"


def test_kinds_and_content_know_nothing_of_the_workflow():
    # Task kinds and content types are plain values in, plain values or blocks out: they
    # may use each other, the Block Kit builders, the numeric quality code and the media
    # formats' facts (file extensions) and what an item may require of its reviewers (a
    # plain schema), no more: no fetching, storing or rendering.
    allowed = (
        "bot.kinds",
        "bot.content",
        "bot.slack",
        "bot.quality",
        "bot.media.limits",
        "bot.config.people",
        "bot",
    )
    found = []
    for module, targets in sorted(GRAPH.items()):
        if not (_inside(module, "bot.kinds") or _inside(module, "bot.content")):
            continue
        for target in sorted(targets):
            if target in MODULES and not any(
                target == "bot" or (package != "bot" and _inside(target, package))
                for package in allowed
            ):
                found.append(f"{module} imports {target}")
    assert found == []
    slack_used = {
        target
        for module, targets in GRAPH.items()
        if _inside(module, "bot.kinds") or _inside(module, "bot.content")
        for target in targets
        if _inside(target, "bot.slack")
    }
    # The Slack modules kinds build with must not reach back into the workflow.
    for module in slack_used:
        assert not any(_inside(t, "bot.workflow") for t in GRAPH[module]), module


KIND_NAMES = ("label", "rating", "preference", "correction", "ranking")
# Where a kind's name may be spelled: the kinds themselves and the project schema that
# dispatches to them.
MAY_NAME_KINDS = ("bot.kinds", "bot.config.project")


def _names_kind(node: ast.AST) -> bool:
    """`x.kind` or a variable called `kind`: what a comparison with a kind name reads."""
    if isinstance(node, ast.Attribute):
        return node.attr == "kind"
    return isinstance(node, ast.Name) and node.id == "kind"


def _kind_literals(node: ast.AST) -> set[str]:
    values = node.elts if isinstance(node, ast.Tuple | ast.List | ast.Set) else [node]
    return {v.value for v in values if isinstance(v, ast.Constant) and v.value in KIND_NAMES}


def test_nothing_outside_the_kinds_branches_on_a_kind_name():
    found = []
    for module, path in sorted(MODULES.items()):
        if any(_inside(module, allowed) for allowed in MAY_NAME_KINDS):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                if any(_names_kind(side) for side in sides) and any(
                    _kind_literals(side) for side in sides
                ):
                    found.append(f"{module}:{node.lineno}")
            elif isinstance(node, ast.Dict) and {
                k.value for k in node.keys if isinstance(k, ast.Constant)
            } >= {"label", "rating"}:
                found.append(f"{module}:{node.lineno} (a table keyed by kind names)")
    assert found == [], "kind names compared outside bot/kinds/: " + ", ".join(found)


def test_the_kind_branch_check_sees_a_branch():
    tree = ast.parse('if config.kind == "rating":\n    pass\nif kind in ("label", "x"): pass')
    compares = [n for n in ast.walk(tree) if isinstance(n, ast.Compare)]
    assert all(
        any(_names_kind(s) for s in [c.left, *c.comparators])
        and any(_kind_literals(s) for s in [c.left, *c.comparators])
        for c in compares
    )
    assert len(compares) == 2


def test_the_quality_maths_is_plain_numpy():
    # Agreement, Dawid-Skene, Bradley-Terry and calibration take arrays, not sessions:
    # reports that read the database live in the workflow (bot/workflow/quality_report.py).
    forbidden = ("storage", "bot.workflow", "bot.slack", "bot.kinds", "handlers")
    assert _violations("bot.quality", forbidden) == []
