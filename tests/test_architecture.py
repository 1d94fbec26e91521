"""The dependency rule of docs/architecture.md: every import allowed by the layer table, stage packages
entered through their public modules, no cycles."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
PACKAGES = ("feijian", "simulator", "features", "records", "explain", "training", "serving")


def layer_table() -> tuple[dict[str, str], dict[str, set[str]]]:
    """(module prefix → layer, layer → layers it may import besides its own) from the doc's table."""
    text = DOC.read_text(encoding="utf-8")
    block = text.split("<!-- layers: read by tests/test_architecture.py -->", 1)[1].split("<!-- /layers -->", 1)[0]
    prefixes: dict[str, str] = {}
    allowed: dict[str, set[str]] = {}
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("layer", "") or set(cells[0]) <= {"-"}:
            continue
        layer, modules, may = cells
        for m in re.split(r"\s*,\s*", modules):
            prefixes[m] = layer
        allowed[layer] = set() if may == "—" else set(re.split(r"\s*,\s*", may))
    return prefixes, allowed


def public_table() -> dict[str, set[str]]:
    """Stage package → the modules other packages may import from it, from the doc's second table."""
    text = DOC.read_text(encoding="utf-8")
    block = text.split("<!-- public: read by tests/test_architecture.py -->", 1)[1].split("<!-- /public -->", 1)[0]
    out: dict[str, set[str]] = {}
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or cells[0] in ("stage", "") or set(cells[0]) <= {"-"}:
            continue
        names = set(re.split(r"\s*,\s*", cells[1]))
        package = min(names, key=len)  # the entry: the package itself, a prefix of the others
        assert all(n == package or n.startswith(package + ".") for n in names), cells
        out[package] = names
    return out


def modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for f in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(f.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = f
    return out


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Line numbers of the statements inside `if TYPE_CHECKING:` blocks."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for stmt in node.body:
                lines.update(range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1))
    return lines


def imports(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, int, bool]]:
    """(imported application module, line, only for type checking) for every import in the file."""

    def resolve(target: str) -> str | None:
        while target and target not in known:
            target = target.rpartition(".")[0]
        return target or None

    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = _type_checking_lines(tree)
    out = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                pkg = pkg[: len(pkg) - node.level + 1]
                base = ".".join([*pkg, *([node.module] if node.module else [])])
            targets = [f"{base}.{a.name}" for a in node.names]
        for t in targets:
            r = resolve(t)
            if r is not None and r != name:
                out.append((r, node.lineno, node.lineno in typing_only))
    return out


def layer_of(module: str, prefixes: dict[str, str]) -> str:
    for prefix in sorted(prefixes, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return prefixes[prefix]
    raise AssertionError(f"{module} is in no layer of docs/architecture.md")


def test_every_import_follows_the_layer_table() -> None:
    prefixes, allowed = layer_table()
    assert set(prefixes.values()) == set(allowed), "every layer has a row"
    known = modules()
    wrong = []
    for name, path in known.items():
        mine = layer_of(name, prefixes)
        for target, line, _ in imports(name, path, known):
            theirs = layer_of(target, prefixes)
            if theirs != mine and theirs not in allowed[mine]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} ({mine}) imports {target} ({theirs})")
    assert not wrong, "imports against docs/architecture.md:\n" + "\n".join(wrong)


def test_stage_packages_are_entered_through_their_public_modules() -> None:
    public = public_table()
    assert set(public) == {"features.ingest", "features.rules", "features.rings", "features.snapshot"}
    known = modules()
    wrong = []
    for name, path in known.items():
        for target, line, _ in imports(name, path, known):
            for package, names in public.items():
                inside = target == package or target.startswith(package + ".")
                mine = name == package or name.startswith(package + ".")
                if inside and not mine and target not in names:
                    wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}, not public in {package}")
    assert not wrong, "imports past a stage's public modules (docs/architecture.md):\n" + "\n".join(wrong)


def test_no_import_cycle_between_files() -> None:
    known = modules()
    graph = {n: {t for t, _, typing in imports(n, p, known) if not typing} for n, p in known.items()}
    cycles = []
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        path.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                cycles.append(" → ".join([*path[path.index(m) :], m]))
            elif m not in state:
                visit(m)
        path.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_rule_catches_a_wrong_import(tmp_path: Path) -> None:
    """The checker itself: an import from training into serving is reported."""
    prefixes, allowed = layer_table()
    f = tmp_path / "probe.py"
    f.write_text("def f():\n    from serving.explain import Explainer\n", encoding="utf-8")
    found = imports("training.probe", f, {**modules(), "training.probe": f})
    assert [(t, line) for t, line, _ in found] == [("serving.explain", 2)]
    assert layer_of("serving.explain", prefixes) not in allowed[layer_of("training.probe", prefixes)]


def test_the_rule_keeps_the_rule_base_off_the_snapshot(tmp_path: Path) -> None:
    """The rule base may not import the snapshot build; only the stages' commands sit above both."""
    prefixes, allowed = layer_table()
    f = tmp_path / "probe.py"
    f.write_text("from features.snapshot.window import Window\n", encoding="utf-8")
    found = imports("features.rules.probe", f, {**modules(), "features.rules.probe": f})
    assert [(t, line) for t, line, _ in found] == [("features.snapshot.window", 1)]
    assert layer_of("features.snapshot.window", prefixes) not in allowed[layer_of("features.rules.probe", prefixes)]
    assert "features.snapshot.window" not in public_table()["features.snapshot"]
