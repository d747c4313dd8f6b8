"""The layering of design.md, enforced: data flows one way through checker/.

source -> parse -> ast -> typecheck -> ir -> (interp | encode -> engines) -> result ->
report -> cli. A module may import only modules of a lower rank; lark only in parse.py;
z3 only in smt.py, encode.py and engines/; models/ never imports checker/.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

RANK = {
    "checker": 0, "checker.source": 0, "checker.diagnostics": 1, "checker.ast": 1,
    "checker.ir": 2, "checker.parse": 2, "checker.types": 3, "checker.typecheck_expr": 4,
    "checker.typecheck": 5, "checker.values": 5, "checker.result": 5, "checker.interp": 6,
    "checker.smt": 6, "checker.bounds": 6.5, "checker.explore": 7, "checker.replay": 7, "checker.encode": 7,
    "checker.encode_step": 7.5,
    "checker.explain": 8, "checker.engines": 8, "checker.report": 9, "checker.testing": 9.5,
    "checker.pipeline": 10, "checker.cli": 11, "checker.cli_testing": 10.5,
}


def _rank(module: str) -> int:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        key = ".".join(parts[:n])
        if key in RANK:
            return RANK[key]
    raise KeyError(module)


def _modules(package: str) -> list[tuple[str, Path]]:
    out = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        out.append((name, path))
    return out


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names.extend(f"{node.module}.{a.name}" for a in node.names if node.module == "checker")
    return names


@pytest.mark.parametrize(("module", "path"), _modules("checker"), ids=lambda x: str(x))
def test_checker_layering(module: str, path: Path) -> None:
    mine = _rank(module)
    for imp in _imports(path):
        top = imp.split(".")[0]
        if top == "lark":
            assert module == "checker.parse", f"{module} imports lark; only checker.parse may"
        if top == "z3":
            assert module in ("checker.smt", "checker.encode", "checker.encode_step") or module.startswith("checker.engines"), \
                f"{module} imports z3; only smt.py, encode.py and engines/ may"
        if top == "models":
            assert module.startswith("checker.testing"), f"{module} imports models/"
        if top != "checker" or imp == "checker":
            continue
        if imp.startswith(module + ".") or module.startswith(imp + ".") and imp != "checker":
            continue
        theirs = _rank(imp)
        same_package = imp.rsplit(".", 1)[0] == module.rsplit(".", 1)[0] and imp.count(".") > 1
        assert theirs < mine or (same_package and theirs == mine), \
            f"{module} (rank {mine}) imports {imp} (rank {theirs}): data must flow one way"


@pytest.mark.parametrize(("module", "path"), _modules("models"), ids=lambda x: str(x))
def test_models_never_import_checker(module: str, path: Path) -> None:
    for imp in _imports(path):
        assert imp.split(".")[0] not in ("checker", "lark", "z3"), f"{module} imports {imp}"
