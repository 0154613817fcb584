"""The import graph of server/: layers only import downwards, the engine knows no web, no cycles.

Every ``import``/``from … import`` is read with ``ast`` (also those inside functions, which is how a
cycle hides), so this checks the source as written, without importing it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVER = Path(__file__).resolve().parents[2] / "server"

# Lower rank = lower layer. A module may import its own package and any package of a lower rank;
# two packages of one rank (the data families) may not import each other.
LAYERS: dict[str, int] = {
    "server.store": 0,
    "server.settings": 0,
    "server.diffusion": 1,  # the core: schedules, reverse process, training loop, checkpoints, detectors
    "server.gaussian": 2,  # data families
    "server.shapes": 2,
    "server.analysis": 3,
    "server.streaming": 4,
    "server.jobs": 5,
    "server.catalog": 6,
    "server.api": 7,
    "server.cli": 8,
    "server.app": 8,
}
WEB = {"fastapi", "starlette", "uvicorn", "jinja2", "httpx"}
WEB_FREE_BELOW = LAYERS["server.streaming"]  # the core, the families and the analyses serve the CLI too


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SERVER.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(SERVER.rglob("*.py"))}


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Absolute names of everything ``path`` imports; ``from pkg import mod`` counts as ``pkg.mod``."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            subs = {f"{target}.{alias.name}" for alias in node.names} & known
            found.update(subs or {target})
    return found


def layer(name: str) -> str | None:
    """The entry of ``LAYERS`` that holds module ``name`` (longest prefix), or None."""
    matches = [key for key in LAYERS if name == key or name.startswith(key + ".")]
    return max(matches, key=len) if matches else None


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports(name, path, known) for name, path in mods.items()}


def test_every_module_has_a_layer() -> None:
    unplaced = [name for name in modules() if name != "server" and layer(name) is None]
    assert not unplaced, f"modules outside every layer (add them to LAYERS): {unplaced}"


def placed_imports() -> list[tuple[str, str, str]]:
    """(module, its layer, imported name) for every import of every module that has a layer."""
    return [(name, own, target) for name, targets in graph().items() if (own := layer(name)) is not None
            for target in sorted(targets)]


def test_imports_only_go_down() -> None:
    wrong = []
    for name, own, target in placed_imports():
        other = layer(target)
        if other is not None and other != own and LAYERS[other] >= LAYERS[own]:
            wrong.append(f"{name} (layer {LAYERS[own]}) imports {target} (layer {LAYERS[other]})")
    assert not wrong, "imports of an equal or higher layer:\n" + "\n".join(sorted(wrong))


def test_core_knows_no_family_web_or_jobs() -> None:
    wrong = []
    for name, own, target in placed_imports():
        if LAYERS[own] < WEB_FREE_BELOW and target.split(".")[0] in WEB:
            wrong.append(f"{name} imports {target}")  # the engine runs without a web server (the CLI)
        if own == "server.diffusion" and target.startswith("server.") and layer(target) != own:
            wrong.append(f"{name} imports {target}")  # the core is for any data, any front end
    assert not wrong, "the engine reaches up:\n" + "\n".join(sorted(wrong))


def test_no_import_cycle() -> None:
    full = graph()
    edges = {name: {t for t in targets if t in full and t != name} for name, targets in full.items()}
    # Depth-first search with colours: reaching a grey module again closes a cycle.
    colour: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[str] = []

    def visit(node: str) -> None:
        colour[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if colour.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt):], nxt]))
            elif nxt not in colour:
                visit(nxt)
        stack.pop()
        colour[node] = 2

    for node in sorted(edges):
        if node not in colour:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from ..gaussian.mixture import GaussianMixture", "server.gaussian.mixture"),
        ("from . import fused", "server.diffusion.fused"),
        ("import fastapi", "fastapi"),
        ("def f():\n    from ..jobs import queue", "server.jobs.queue"),
    ],
)
def test_imports_are_resolved(tmp_path: Path, source: str, expected: str) -> None:
    """The checker itself: relative, module-valued and function-level imports all count."""
    path = tmp_path / "sampling.py"
    path.write_text(source)
    known = {"server.diffusion.fused", "server.jobs.queue"}
    assert expected in imports("server.diffusion.sampling", path, known)
