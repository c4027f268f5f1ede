"""Imports point downward: evals → integrations, reviewer → control_plane → harness → harness.sandboxes."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["evals", "integrations", "reviewer", "control_plane", "harness", "harness.sandboxes"]  # high → low
PEERS = {("integrations", "reviewer"), ("reviewer", "integrations")}
LEAVES = {"harness.errors"}  # imports nothing of ours; every layer may use it
ENTRYPOINTS = {"control_plane/runtime.py", "control_plane/cli.py"}  # composition roots: they wire every layer in


def layer(module: str) -> str | None:
    hits = [name for name in LAYERS if module == name or module.startswith(name + ".")]
    return max(hits, key=LAYERS.index, default=None)


def imports(path: Path) -> list[str]:
    nodes = list(ast.walk(ast.parse(path.read_text())))
    plain = [a.name for n in nodes if isinstance(n, ast.Import) for a in n.names]
    return plain + [n.module for n in nodes if isinstance(n, ast.ImportFrom) and n.module and not n.level]


def violations(root: Path = ROOT) -> list[str]:
    found = []
    for top in ("evals", "integrations", "reviewer", "control_plane", "harness"):
        for path in (root / top).rglob("*.py"):
            if path.relative_to(root).as_posix() in ENTRYPOINTS:
                continue
            me = layer(".".join(path.relative_to(root).with_suffix("").parts))
            for name in (n for n in imports(path) if n not in LEAVES):
                them = layer(name)
                if me and them and LAYERS.index(them) < LAYERS.index(me) and (me, them) not in PEERS:
                    found.append(f"{path.relative_to(root)} imports {name}")
    return found


def test_imports_point_down() -> None:
    assert violations() == []


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    (tmp_path / "harness" / "sandboxes").mkdir(parents=True)
    (tmp_path / "harness" / "sandboxes" / "x.py").write_text("from harness.loop import AgentLoop\n")
    (tmp_path / "harness" / "y.py").write_text("import control_plane.store\nfrom harness.errors import ConfigError\n")
    assert sorted(violations(tmp_path)) == [
        "harness/sandboxes/x.py imports harness.loop",
        "harness/y.py imports control_plane.store",
    ]
